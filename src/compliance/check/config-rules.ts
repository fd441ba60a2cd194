/**
 * Rules over a loaded `RampartConfig` (defaults applied, paths resolved). Each rule returns raw
 * findings with the JSON pointer of the setting in rampart.yaml; run-check.ts looks up the line
 * and the profile decides the severity.
 *
 * Some of the issue's checks cannot fire on a loaded config because the loader refuses the file
 * first (TLS below 1.2, plain HTTP on an exposed address, a token lifetime over 900 s, an
 * authThrottle over 100 failures): run-check.ts reports those refusals under the same rule ids.
 * The rules below still check them, so a config built in code (tests, `rampart apply` later)
 * gets the same answer.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { isLoopbackHost } from '../../config/load.js';
import type { RampartConfig } from '../../config/types.js';
import type { RetentionDays } from '../../ledger/sealer.js';
import type { RawFinding } from './findings.js';

/**
 * Six calendar years hold at most two 29ths of February, so 6 * 365 + 2 days covers any six
 * years (R17a4-1, R4511-1, AU-11); three years hold at most one (R17a4-2).
 */
export const SIX_YEARS_DAYS = 6 * 365 + 2;
export const THREE_YEARS_DAYS = 3 * 365 + 1;

/** The least retention per record class, and why (ledger/sealer.ts names the classes). */
export const REQUIRED_RETENTION_DAYS: Readonly<Record<keyof RetentionDays, { days: number; why: string }>> = {
  exchange: { days: SIX_YEARS_DAYS, why: '6 years for 17a-4(a) records and FINRA records with no set period (R17a4-1, R4511-1)' },
  // The private part holds who acted and on which objects: the audit trail needs it as long as the record (R17a4-3).
  personal: { days: SIX_YEARS_DAYS, why: 'the principal, address and object ids of exchange records, kept as long as the records (R17a4-1, R17a4-3)' },
  bodies: { days: THREE_YEARS_DAYS, why: '3 years for business communications (R17a4-2)' },
  admin: { days: SIX_YEARS_DAYS, why: 'the audit trail of changes is kept as long as the records it covers (R17a4-3, AU-11)' },
  security: { days: SIX_YEARS_DAYS, why: 'audit records of a broker-dealer: at least 6 years (AU-11)' },
  // Checkpoints, purge receipts and verification results are what proves the rest intact.
  system: { days: SIX_YEARS_DAYS, why: 'checkpoints and purge receipts verify the retained records for their whole period (AU-11)' },
};

/** Rampart's own access tokens live at most this long (schema: identity.tokens.lifetimeSeconds maximum). */
export const MAX_TOKEN_LIFETIME_SECONDS = 900;

/** ASVS 2.2.1: no more than 100 failed attempts per hour. */
export const MAX_FAILURES_PER_HOUR = 100;

/**
 * RFC 8176 §2: `mfa` is the one amr value that asserts several factors; every other value names
 * one method (`pwd`, `otp`, `hwk`, `sms`...) or several channels (`mca`), not several factors.
 */
const MFA_AMR = new Set(['mfa']);

/**
 * Every config rule over `config`, read from `file`.
 *
 * @example
 * const raw = await checkConfig(await loadConfig('rampart.yaml'), 'rampart.yaml');
 */
export async function checkConfig(config: RampartConfig, file: string): Promise<RawFinding[]> {
  const out: RawFinding[] = [];
  const add = (ruleId: RawFinding['ruleId'], pointer: string, message: string, fix?: string): void => {
    out.push({ ruleId, file, pointer, message, ...(fix !== undefined ? { fix } : {}) });
  };
  transport(config, add);
  ledger(config, add);
  await publishVolume(config, add);
  people(config, add);
  limits(config, add);
  config.apis.forEach((api, i) => {
    if (!api.closedObjects) {
      add(
        'api-open-objects',
        `/apis/${i}/closedObjects`,
        `API ${api.name}: closedObjects is false, so request objects without additionalProperties accept undeclared properties (profile in the file: ${config.profile})`,
      );
    }
  });
  return out;
}

type Add = (ruleId: RawFinding['ruleId'], pointer: string, message: string, fix?: string) => void;

/** ENC-1 on the listener, API10 towards the upstreams. */
function transport(c: RampartConfig, add: Add): void {
  const tls = c.listen.tls;
  if (tls && tls.minVersion !== 'TLSv1.2' && tls.minVersion !== 'TLSv1.3') {
    add('tls-min-version', '/listen/tls/minVersion', `listen.tls.minVersion ${String(tls.minVersion)} accepts TLS below 1.2 (ENC-1: TLSv1.2 and TLSv1.3 only)`);
  }
  if (c.listen.plainHttp) {
    if (isLoopbackHost(c.listen.host)) {
      add('plain-http-loopback', '/listen/plainHttp', `plain HTTP on ${c.listen.host}: allowed on a loopback address, for local development only`);
    } else if (c.trustedProxies.length > 0) {
      add(
        'plain-http-behind-proxy',
        '/listen/plainHttp',
        `plain HTTP on ${c.listen.host}: allowed because trustedProxies names a TLS-terminating proxy, but the hop from the proxy to the gateway carries credentials and customer data in clear`,
      );
    } else {
      add('plain-http-exposed', '/listen/host', `plain HTTP on a non-loopback address (${c.listen.host}) with no TLS-terminating proxy in trustedProxies`);
    }
  }
  c.apis.forEach((api, i) => {
    let url: URL;
    try {
      url = new URL(api.upstream.url);
    } catch {
      return; // the loader refuses it; nothing to lint
    }
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      add('upstream-plain-http', `/apis/${i}/upstream/url`, `API ${api.name}: the upstream ${url.host} is reached over plain HTTP; requests and responses cross the network unencrypted`);
    }
  });
}

/** The audit ledger: durability, checkpoints leaving the store, keys, retention (R17a4, AU-9, ENC-6). */
function ledger(c: RampartConfig, add: Add): void {
  const l = c.ledger;
  if (l.durability !== 'strict') {
    add(
      'ledger-not-strict',
      '/ledger/durability',
      `ledger.durability is ${l.durability}: a record is acknowledged once it is in the local spill journal and reaches the store later, so a lost disk loses acknowledged audit records`,
    );
  }
  if (l.checkpoints.publish.length === 0) {
    add('checkpoints-unpublished', '/ledger/checkpoints/publish', 'no ledger.checkpoints.publish target: signed checkpoints stay only in the store they protect');
  }
  if (l.stream.length === 0) {
    add('ledger-no-stream', '/ledger/stream', 'no ledger.stream target: the only copy of the records is the store itself');
  }
  const kek = l.encryption.kek;
  if (kek.provider === 'file' || kek.provider === 'env') {
    add(
      'kek-development-provider',
      '/ledger/encryption/kek/provider',
      `the ledger KEK provider is ${kek.provider}${kek.provider === 'file' ? ' (a keyring file beside the secrets, the default)' : ` (environment variable ${kek.variable})`}: the key that unwraps every data key is readable by the process and its host (development only)`,
    );
  }
  for (const cls of Object.keys(REQUIRED_RETENTION_DAYS) as (keyof RetentionDays)[]) {
    const need = REQUIRED_RETENTION_DAYS[cls];
    const have = l.retention[cls];
    if (typeof have === 'number' && have < need.days) {
      add('retention-short', `/ledger/retention/${cls}`, `ledger.retention.${cls} is ${have} days; the requirement is at least ${need.days} days: ${need.why}`, `set ledger.retention.${cls} to at least ${need.days} (or remove it: the default meets the minimum)`);
    }
  }
}

/**
 * AU-9(2): heads published to a file on the volume that holds the SQLite store are lost or
 * rewritten with it. Compares the devices of the nearest existing folders (the files may not
 * exist before the first start). PostgreSQL stores are on another machine: nothing to compare.
 */
async function publishVolume(c: RampartConfig, add: Add): Promise<void> {
  if (c.storage.driver !== 'sqlite') return;
  const storeDev = await deviceOf(c.storage.sqlite.path);
  if (storeDev === undefined) return;
  for (const [i, t] of c.ledger.checkpoints.publish.entries()) {
    if (!('file' in t)) continue;
    if ((await deviceOf(t.file)) === storeDev) {
      add('checkpoints-same-volume', `/ledger/checkpoints/publish/${i}/file`, `checkpoints are published to ${t.file}, on the same volume as the ledger store ${c.storage.sqlite.path}: whoever can rewrite the store can rewrite the published heads too`);
    }
  }
}

async function deviceOf(file: string): Promise<number | undefined> {
  let dir = dirname(resolvePath(file));
  for (;;) {
    try {
      return (await stat(dir)).dev;
    } catch {
      const up = dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
  }
}

/** Admin access and credentials: FC-1 MFA, N63-1 two factors, API2 expiring tokens. */
function people(c: RampartConfig, add: Add): void {
  // src/admin/server.ts asks every password login for a second factor (TOTP or a recovery code)
  // and offers passkeys; that is not configurable. What is: whether there is an admin plane at
  // all, and which amr values the SSO login accepts.
  if (!c.admin) {
    add(
      'admin-plane-absent',
      '/admin',
      'no admin plane is configured: keys and settings are changed by whoever can run the CLI against the store, with no second factor and no authenticated actor on the record',
    );
  } else if (c.admin.sso) {
    c.admin.sso.requireAmr.forEach((amr, i) => {
      if (!MFA_AMR.has(amr)) {
        add(
          'admin-sso-single-factor',
          `/admin/sso/requireAmr/${i}`,
          `admin.sso.requireAmr accepts an ID token whose amr holds "${amr}" alone; that names one method, not multi-factor authentication (RFC 8176 §2), so an admin could sign in with one factor`,
        );
      }
    });
  }
  if (c.identity.tokens.lifetimeSeconds > MAX_TOKEN_LIFETIME_SECONDS) {
    add('token-lifetime', '/identity/tokens/lifetimeSeconds', `identity.tokens.lifetimeSeconds is ${c.identity.tokens.lifetimeSeconds}; the maximum is ${MAX_TOKEN_LIFETIME_SECONDS}`);
  }
  c.identity.issuers.forEach((iss, i) => {
    if (iss.maxLifetimeSeconds > MAX_TOKEN_LIFETIME_SECONDS) {
      add(
        'external-token-lifetime',
        `/identity/issuers/${i}/maxLifetimeSeconds`,
        `tokens from ${iss.issuer} are accepted with a lifetime up to ${iss.maxLifetimeSeconds} s${iss.maxLifetimeSeconds === 3600 ? ' (the default)' : ''}, longer than Rampart's own maximum of ${MAX_TOKEN_LIFETIME_SECONDS} s: a leaked token stays usable that long`,
      );
    }
  });
}

/** Brute force and volume (N63-5, ASVS 2.2.1, API4). */
function limits(c: RampartConfig, add: Add): void {
  const { maxFailures, windowSeconds } = c.authThrottle;
  // The throttle counts fixed windows, each opened by the first failure after the last one
  // expired: within any hour at most ceil(3600 / window) windows start.
  const perHour = maxFailures * Math.ceil(3600 / windowSeconds);
  if (perHour > MAX_FAILURES_PER_HOUR) {
    add(
      'auth-throttle-loose',
      '/authThrottle',
      `authThrottle allows ${maxFailures} failed authentications per ${windowSeconds} s from one address, up to ${perHour} per hour; ASVS 2.2.1 asks for no more than ${MAX_FAILURES_PER_HOUR} per hour`,
    );
  }
  const byAddress = c.rateLimits.rules.some((r) => r.by === 'address' && r.unit === 'requests');
  if (!byAddress) {
    add(
      'no-address-rate-limit',
      c.rateLimits.rules.length > 0 ? '/rateLimits/rules' : '/rateLimits',
      'no rateLimits rule counts requests per client address: apart from the failed-authentication throttle, nothing bounds how fast one address calls public operations or presents credentials',
    );
  }
}

