/**
 * `rampart check` config rules (issue 6): every rule fires on a crafted bad rampart.yaml, at
 * the line of the setting, with the severity of the profile, and stays silent on a good one.
 * Real files in temp folders, loaded through runCheck as `rampart check` does; what the loader
 * refuses itself (TLS below 1.2, exposed plain HTTP, long tokens) is reported under the same
 * rule ids as an error.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { RampartConfig } from '../../src/config/types.js';
import { checkConfig, REQUIRED_RETENTION_DAYS, SIX_YEARS_DAYS, THREE_YEARS_DAYS } from '../../src/compliance/check/config-rules.js';
import type { Finding } from '../../src/compliance/check/findings.js';
import { severityOf } from '../../src/compliance/check/profiles.js';
import { RULES, type RuleId } from '../../src/compliance/check/rules.js';
import { runCheck, type CheckResult } from '../../src/compliance/check/run-check.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('rampart-check-config-');
after(() => tmp.remove());

/** An OpenAPI document on which no OpenAPI rule fires, so config findings stand alone. */
const GOOD_SPEC = `openapi: 3.1.0
info: { title: things, version: '1' }
security:
  - bearer: []
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
paths:
  /things:
    get:
      operationId: listThings
      responses: { '200': { description: ok } }
`;

type Obj = Record<string, unknown>;

/** A configuration on which no config rule fires, under either profile. */
const GOOD: Obj = {
  version: 1,
  listen: { host: '127.0.0.1', port: 8443, tls: { cert: 'tls/cert.pem', key: 'tls/key.pem' } },
  authThrottle: { maxFailures: 20, windowSeconds: 900 },
  rateLimits: { rules: [{ name: 'per-address', by: 'address', limit: 600, windowSeconds: 60 }] },
  ledger: {
    durability: 'strict',
    encryption: { kek: { provider: 'pkcs11', module: '/usr/lib/softhsm/libsofthsm2.so', pinEnv: 'HSM_PIN', keyLabel: 'rampart-kek' } },
    checkpoints: { publish: [{ webhook: 'https://audit.example.com/heads' }] },
    stream: [{ file: '/mnt/siem/records.jsonl' }],
  },
  // Its own TLS material, so variants with a plain-HTTP data plane still load (the admin plane is TLS only).
  admin: { listen: { host: '127.0.0.1', port: 9443 }, tls: { cert: 'tls/admin-cert.pem', key: 'tls/admin-key.pem' } },
  apis: [{ name: 'things', openapi: 'spec.yaml', closedObjects: true, upstream: { url: 'https://upstream.example.com' } }],
};

/** GOOD with `patch` merged in; a value `undefined` removes the key. Arrays are replaced. */
function variant(patch: Obj, base: Obj = GOOD): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete out[k];
    else if (isPlain(v) && isPlain(out[k])) out[k] = variant(v, out[k] as Obj);
    else out[k] = v;
  }
  return out;
}
const isPlain = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

let n = 0;
/** Writes the config (and the good spec) into a folder of its own; returns the config path. */
function write(config: Obj | string, spec = GOOD_SPEC): string {
  const dir = join(tmp.path, `case-${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'spec.yaml'), spec);
  const f = join(dir, 'rampart.yaml');
  writeFileSync(f, typeof config === 'string' ? config : stringify(config));
  return f;
}

/** 1-based line of the first line of `file`'s text that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `"${needle}" not in:\n${text}`);
  return i + 1;
}

function show(r: CheckResult): string {
  return r.findings.map((f) => `${f.location.line ?? '-'} ${f.severity} ${f.ruleId} ${f.location.pointer} ${f.message}`).join('\n') || '(no findings)';
}

function only(r: CheckResult, rule: RuleId): Finding[] {
  return r.findings.filter((f) => f.ruleId === rule);
}

/** Runs the check and asserts that `rule` fired exactly once; returns that finding. */
async function fires(config: Obj | string, rule: RuleId, profile?: 'default' | 'finra'): Promise<{ finding: Finding; result: CheckResult; text: string }> {
  const f = write(config);
  const result = await runCheck({ configFile: f, ...(profile ? { profile } : {}) });
  const list = only(result, rule);
  assert.equal(list.length, 1, `expected one ${rule} finding, got:\n${show(result)}`);
  const text = typeof config === 'string' ? config : stringify(config);
  return { finding: list[0]!, result, text };
}

async function silent(config: Obj, rule: RuleId): Promise<void> {
  const result = await runCheck({ configFile: write(config) });
  assert.deepEqual(only(result, rule), [], `expected no ${rule} finding, got:\n${show(result)}`);
}

describe('the good configuration', () => {
  for (const profile of ['default', 'finra'] as const) {
    test(`has no finding at all under profile ${profile}`, async () => {
      const r = await runCheck({ configFile: write(GOOD), profile });
      assert.deepEqual(r.findings, [], show(r));
      assert.equal(r.unreadable, false);
      assert.equal(r.profile, profile);
    });
  }
});

describe('transport (ENC-1, API10)', () => {
  test('tls-min-version: TLSv1.1 is refused by the loader and reported as an error at its line (ENC-1)', async () => {
    const cfg = variant({ listen: { tls: { minVersion: 'TLSv1.1' } } });
    const { finding, result, text } = await fires(cfg, 'tls-min-version');
    assert.equal(finding.severity, 'error');
    assert.equal(finding.location.line, lineOf(text, 'minVersion'));
    assert.equal(finding.location.pointer, '/listen/tls/minVersion');
    assert.deepEqual(finding.requirements, RULES['tls-min-version'].requirements);
    assert.ok(finding.requirements.includes('ENC-1'));
    assert.equal(result.unreadable, true);
  });

  test('tls-min-version: TLSv1.3 and the default are silent', async () => {
    await silent(variant({ listen: { tls: { minVersion: 'TLSv1.3' } } }), 'tls-min-version');
    await silent(GOOD, 'tls-min-version');
  });

  test('plain-http-exposed: plain HTTP on 0.0.0.0 with no proxy is an error at listen.host', async () => {
    const cfg = variant({ listen: { host: '0.0.0.0', tls: undefined, plainHttp: true } });
    const { finding, text } = await fires(cfg, 'plain-http-exposed');
    assert.equal(finding.severity, 'error');
    assert.equal(finding.location.line, lineOf(text, 'host: 0.0.0.0'));
  });

  test('plain-http-loopback: allowed on 127.0.0.1, a note by default and a warning under finra', async () => {
    const cfg = variant({ listen: { tls: undefined, plainHttp: true } });
    const d = await fires(cfg, 'plain-http-loopback');
    assert.equal(d.finding.severity, 'note');
    assert.equal(d.finding.location.line, lineOf(d.text, 'plainHttp'));
    assert.match(d.finding.message, /loopback/);
    const f = await fires(cfg, 'plain-http-loopback', 'finra');
    assert.equal(f.finding.severity, 'warning');
    assert.equal(only(d.result, 'config-warning').length, 0, 'the loader warning is not repeated as config-warning');
  });

  test('plain-http-behind-proxy: allowed with trustedProxies, a warning by default and an error under finra', async () => {
    const cfg = variant({ listen: { host: '0.0.0.0', tls: undefined, plainHttp: true }, trustedProxies: ['10.0.0.1'] });
    assert.equal((await fires(cfg, 'plain-http-behind-proxy')).finding.severity, 'warning');
    const f = await fires(cfg, 'plain-http-behind-proxy', 'finra');
    assert.equal(f.finding.severity, 'error');
    assert.equal(f.result.errors, 1, show(f.result));
  });

  test('upstream-plain-http: http to a remote upstream fires (API10); http to loopback and https are silent', async () => {
    const cfg = variant({ apis: [{ ...(GOOD.apis as Obj[])[0], upstream: { url: 'http://upstream.example.com:8080' } }] });
    const { finding, text } = await fires(cfg, 'upstream-plain-http');
    assert.equal(finding.location.pointer, '/apis/0/upstream/url');
    assert.equal(finding.location.line, lineOf(text, 'url: http://upstream'));
    await silent(variant({ apis: [{ ...(GOOD.apis as Obj[])[0], upstream: { url: 'http://127.0.0.1:9000' } }] }), 'upstream-plain-http');
  });
});

describe('the ledger (R17a4, AU-9, ENC-6)', () => {
  test('ledger-not-strict: buffered durability, warning by default, error under finra', async () => {
    const cfg = variant({ ledger: { durability: 'buffered' } });
    const d = await fires(cfg, 'ledger-not-strict');
    assert.equal(d.finding.severity, 'warning');
    assert.equal(d.finding.location.line, lineOf(d.text, 'durability: buffered'));
    assert.equal((await fires(cfg, 'ledger-not-strict', 'finra')).finding.severity, 'error');
  });

  test('checkpoints-unpublished: no publish target (AU-9(2)); an error under finra', async () => {
    const cfg = variant({ ledger: { checkpoints: undefined } });
    const { finding } = await fires(cfg, 'checkpoints-unpublished', 'finra');
    assert.equal(finding.severity, 'error');
    assert.deepEqual(finding.requirements, ['AU-9(2)', 'AU-9(3)']);
    // Not written in the file: the finding points at the nearest parent that is.
    assert.equal(finding.location.pointer, '/ledger/checkpoints/publish');
    assert.equal(finding.location.line, lineOf(stringify(cfg), 'ledger:'));
  });

  test('checkpoints-same-volume: a published-heads file beside the SQLite store', async () => {
    const cfg = variant({ storage: { driver: 'sqlite', sqlite: { path: 'rampart.db' } }, ledger: { checkpoints: { publish: [{ file: 'heads.jsonl' }] } } });
    const { finding, text } = await fires(cfg, 'checkpoints-same-volume');
    assert.equal(finding.location.pointer, '/ledger/checkpoints/publish/0/file');
    assert.equal(finding.location.line, lineOf(text, 'file: heads.jsonl'));
  });

  test('checkpoints-same-volume: silent for a file on another device', async (t) => {
    // /dev/shm is a tmpfs on Linux: another device than the temp folder when /tmp is a disk.
    let other: string | undefined;
    try {
      if (statSync('/dev/shm').dev !== statSync(tmp.path).dev) other = '/dev/shm/rampart-check-heads.jsonl';
    } catch {
      other = undefined;
    }
    if (!other) return t.skip('no folder on another device than the temp folder on this machine');
    await silent(variant({ storage: { driver: 'sqlite', sqlite: { path: 'rampart.db' } }, ledger: { checkpoints: { publish: [{ file: other }] } } }), 'checkpoints-same-volume');
  });

  test('ledger-no-stream: no stream target', async () => {
    const { finding } = await fires(variant({ ledger: { stream: undefined } }), 'ledger-no-stream');
    assert.equal(finding.severity, 'note');
  });

  test('kek-development-provider: the default file provider and env are reported; pkcs11 is not', async () => {
    const def = await fires(variant({ ledger: { encryption: undefined } }), 'kek-development-provider', 'finra');
    assert.equal(def.finding.severity, 'error');
    assert.match(def.finding.message, /file/);
    const withoutKek = variant({ ledger: { encryption: undefined } });
    const env = await fires(variant({ ledger: { encryption: { kek: { provider: 'env', variable: 'RAMPART_KEK' } } } }, withoutKek), 'kek-development-provider');
    assert.equal(env.finding.severity, 'warning');
    assert.equal(env.finding.location.line, lineOf(env.text, 'provider: env'));
    assert.match(env.finding.message, /RAMPART_KEK/);
  });

  test('retention-short: each class below its minimum, at its line (R17a4-1/2, R4511-1)', async () => {
    const cfg = variant({ ledger: { retention: { exchange: 365, bodies: THREE_YEARS_DAYS - 1, admin: SIX_YEARS_DAYS } } });
    const f = write(cfg);
    const r = await runCheck({ configFile: f, profile: 'finra' });
    const list = only(r, 'retention-short');
    assert.deepEqual(list.map((x) => x.location.pointer).sort(), ['/ledger/retention/bodies', '/ledger/retention/exchange'], show(r));
    const text = stringify(cfg);
    const ex = list.find((x) => x.location.pointer.endsWith('exchange'))!;
    assert.equal(ex.severity, 'error');
    assert.equal(ex.location.line, lineOf(text, 'exchange: 365'));
    assert.match(ex.message, new RegExp(`at least ${REQUIRED_RETENTION_DAYS.exchange.days} days`));
  });

  test('retention-short: exactly the minima are silent', async () => {
    const minima = Object.fromEntries(Object.entries(REQUIRED_RETENTION_DAYS).map(([k, v]) => [k, v.days]));
    await silent(variant({ ledger: { retention: minima } }), 'retention-short');
  });

  test('retention-short: 0 days is refused by the loader, reported under the rule as an error', async () => {
    const { finding, result } = await fires(variant({ ledger: { retention: { system: 0 } } }), 'retention-short');
    assert.equal(finding.severity, 'error');
    assert.equal(result.unreadable, true);
  });
});

describe('people and credentials (FC-1, N63, API2)', () => {
  test('admin-plane-absent: no admin section; an error under finra', async () => {
    const d = await fires(variant({ admin: undefined }), 'admin-plane-absent');
    assert.equal(d.finding.severity, 'warning');
    assert.equal(d.finding.location.line, undefined, 'nothing in the file to point at');
    assert.equal((await fires(variant({ admin: undefined }), 'admin-plane-absent', 'finra')).finding.severity, 'error');
  });

  const sso = (requireAmr?: string[]) => ({ admin: { sso: { issuer: 'https://idp.example.com', jwksUri: 'https://idp.example.com/jwks', audience: 'rampart', ...(requireAmr ? { requireAmr } : {}) } } });

  test('admin-sso-single-factor: requireAmr accepting otp alone is an error even by default (N63-1)', async () => {
    const cfg = variant(sso(['mfa', 'otp']));
    const { finding, text } = await fires(cfg, 'admin-sso-single-factor');
    assert.equal(finding.severity, 'error');
    assert.equal(finding.location.pointer, '/admin/sso/requireAmr/1');
    assert.equal(finding.location.line, lineOf(text, '- otp'));
  });

  test('admin-sso-single-factor: the default [mfa] is silent', async () => {
    await silent(variant(sso()), 'admin-sso-single-factor');
    await silent(variant(sso(['mfa'])), 'admin-sso-single-factor');
  });

  test('token-lifetime: 3600 s is refused by the loader (maximum 900) and reported under the rule', async () => {
    const { finding, text, result } = await fires(variant({ identity: { tokens: { lifetimeSeconds: 3600 } } }), 'token-lifetime');
    assert.equal(finding.severity, 'error');
    assert.equal(finding.location.line, lineOf(text, 'lifetimeSeconds: 3600'));
    assert.equal(result.unreadable, true);
    await silent(variant({ identity: { tokens: { lifetimeSeconds: 900 } } }), 'token-lifetime');
  });

  test('external-token-lifetime: an issuer accepted with the default 3600 s; 900 is silent', async () => {
    const issuer = { issuer: 'https://idp.example.com', jwksUri: 'https://idp.example.com/jwks', audiences: ['api'] };
    const d = await fires(variant({ identity: { issuers: [issuer] } }), 'external-token-lifetime');
    assert.equal(d.finding.location.pointer, '/identity/issuers/0/maxLifetimeSeconds');
    assert.match(d.finding.message, /3600 s \(the default\)/);
    assert.equal((await fires(variant({ identity: { issuers: [issuer] } }), 'external-token-lifetime', 'finra')).finding.severity, 'warning');
    await silent(variant({ identity: { issuers: [{ ...issuer, maxLifetimeSeconds: 900 }] } }), 'external-token-lifetime');
  });
});

describe('authentication and request rates (N63-5, ASVS 2.2.1, API4)', () => {
  test('auth-throttle-loose: the default 20 per 60 s is 1200 failures per hour', async () => {
    const { finding } = await fires(variant({ authThrottle: undefined }), 'auth-throttle-loose');
    assert.match(finding.message, /1200 per hour/);
    assert.equal(finding.severity, 'note');
  });

  test('auth-throttle-loose: 100 per hour exactly is silent, 101 is not', async () => {
    await silent(variant({ authThrottle: { maxFailures: 100, windowSeconds: 3600 } }), 'auth-throttle-loose');
    // 34 per 1200 s: three windows can start within an hour, 102 failures.
    const { finding } = await fires(variant({ authThrottle: { maxFailures: 34, windowSeconds: 1200 } }), 'auth-throttle-loose');
    assert.match(finding.message, /102 per hour/);
  });

  test('auth-throttle-loose: over 100 failures per window is refused by the loader, reported as an error', async () => {
    const { finding, result } = await fires(variant({ authThrottle: { maxFailures: 500 } }), 'auth-throttle-loose');
    assert.equal(finding.severity, 'error');
    assert.equal(result.unreadable, true);
  });

  test('no-address-rate-limit: rules only per principal; a byte quota per address does not count', async () => {
    const cfg = variant({
      rateLimits: {
        rules: [
          { name: 'per-customer', by: 'principal', limit: 600, windowSeconds: 60 },
          { name: 'bytes', by: 'address', unit: 'bytes', limit: 1_000_000, windowSeconds: 60 },
        ],
      },
    });
    const { finding, text } = await fires(cfg, 'no-address-rate-limit');
    assert.equal(finding.location.pointer, '/rateLimits/rules');
    assert.equal(finding.location.line, lineOf(text, 'rules:'));
  });
});

describe('closed objects (API3)', () => {
  const open = () => variant({ apis: [{ ...(GOOD.apis as Obj[])[0], closedObjects: false }] });

  test('api-open-objects: closedObjects false is a note by default and an error under finra', async () => {
    const d = await fires(open(), 'api-open-objects');
    assert.equal(d.finding.severity, 'note');
    assert.equal(d.finding.location.line, lineOf(d.text, 'closedObjects: false'));
    assert.equal((await fires(open(), 'api-open-objects', 'finra')).finding.severity, 'error');
  });

  test('api-open-objects: profile finra in the file closes objects by default; --profile finra on a default file does not', async () => {
    const api = { ...(GOOD.apis as Obj[])[0] };
    delete api.closedObjects;
    await silent(variant({ profile: 'finra', apis: [api] }), 'api-open-objects');
    const r = await fires(variant({ apis: [api] }), 'api-open-objects', 'finra');
    assert.equal(r.finding.severity, 'error');
    assert.match(r.finding.message, /profile in the file: default/);
    assert.equal(r.result.profile, 'finra');
  });
});

describe('files the loader refuses or warns about', () => {
  test('config-invalid: an unknown key, at its line; unreadable', async () => {
    const cfg = variant({ ledger: { durabilty: 'strict' } });
    const { finding, text, result } = await fires(cfg, 'config-invalid');
    assert.equal(finding.severity, 'error');
    assert.equal(finding.location.line, lineOf(text, 'durabilty'));
    assert.match(finding.message, /did you mean "durability"/);
    assert.equal(result.unreadable, true);
  });

  test('config-invalid: a missing file', async () => {
    const r = await runCheck({ configFile: join(tmp.path, 'nowhere', 'rampart.yaml') });
    assert.equal(r.unreadable, true);
    assert.deepEqual(r.findings.map((f) => f.ruleId), ['config-invalid']);
    assert.match(r.findings[0]!.message, /not found/);
  });

  test('the profile of a file that does not load is still the one it names', async () => {
    const r = await runCheck({ configFile: write(variant({ profile: 'finra', ledger: { durabilty: 'strict' } })) });
    assert.equal(r.profile, 'finra');
  });

  test('config-warning: a loader warning no rule covers (an unverified remote database connection)', async () => {
    const { finding, text } = await fires(variant({ storage: { driver: 'postgres', postgres: { url: 'postgres://rampart@db.example.com/rampart' } } }), 'config-warning');
    assert.equal(finding.severity, 'warning');
    assert.equal(finding.location.line, lineOf(text, 'url: postgres://'));
    assert.match(finding.message, /sslmode=verify-full/);
  });
});

describe('checkConfig on configurations built in code', () => {
  // The loader refuses these in files; a config built in code gets the same rules.
  async function loaded(): Promise<RampartConfig> {
    return loadConfig(write(GOOD));
  }
  const ids = async (c: RampartConfig) => (await checkConfig(c, 'rampart.yaml')).map((f) => f.ruleId);

  test('the good configuration gives nothing', async () => {
    assert.deepEqual(await ids(await loaded()), []);
  });

  test('TLS 1.1, exposed plain HTTP and a one-hour token are each reported', async () => {
    const c = await loaded();
    const tls11 = { ...c, listen: { ...c.listen, tls: { ...c.listen.tls!, minVersion: 'TLSv1.1' } } } as unknown as RampartConfig;
    assert.deepEqual(await ids(tls11), ['tls-min-version']);
    const exposed = { ...c, listen: { host: '0.0.0.0', port: 8080, plainHttp: true } } as RampartConfig;
    assert.deepEqual(await ids(exposed), ['plain-http-exposed']);
    const longToken = { ...c, identity: { ...c.identity, tokens: { lifetimeSeconds: 3600 } } } as RampartConfig;
    assert.deepEqual(await ids(longToken), ['token-lifetime']);
  });
});

describe('profiles', () => {
  test('every rule has a severity under both profiles, and finra is never milder than default', () => {
    const rank = { note: 0, warning: 1, error: 2 } as const;
    for (const id of Object.keys(RULES) as RuleId[]) {
      assert.ok(rank[severityOf(id, 'finra')] >= rank[severityOf(id, 'default')], id);
    }
  });

  test('the regulations demand errors under finra for the rules the issue names', () => {
    for (const id of ['tls-min-version', 'ledger-not-strict', 'checkpoints-unpublished', 'kek-development-provider', 'retention-short', 'plain-http-exposed', 'plain-http-behind-proxy', 'operation-no-security'] as const) {
      assert.equal(severityOf(id, 'finra'), 'error', id);
    }
  });
});
