/**
 * Live activation of a configuration version (issue 6, the gateway side of `rampart apply`), on a
 * real TLS gateway:
 * - under continuous load over kept-alive and fresh connections, versions are swapped back and
 *   forth and not one request fails; a request in flight finishes on the version it started
 *   with (its completion record names that version, R17a4-3), later ones carry the new hash;
 * - a certificate is rotated live, on the data plane and the admin listener: new handshakes
 *   present the new certificate, a connection opened before keeps working (no restart, no
 *   dropped connection, ENC-1);
 * - a version that cannot be built (a broken OpenAPI document, a missing key file) or that
 *   changes a restart-only field is refused, naming the file or field, and the running version
 *   keeps serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { generateDevCertificate } from '../../src/tls/dev-cert.js';
import { rawRequest, startTestGateway, type TestGateway, peerFingerprint } from '../helpers/gateway.js';

describe('live activation of a configuration version (issue 6)', () => {
  let t: TestGateway;
  let original: Record<string, unknown>;

  /** Writes `doc` beside the running config and loads it as the gateway would. */
  async function version(name: string, change: (doc: Record<string, any>) => void) {
    const doc = structuredClone(original) as Record<string, any>;
    change(doc);
    const file = join(t.dir, name);
    writeFileSync(file, stringify(doc));
    return { config: await loadConfig(file), configDir: t.dir, file };
  }

  async function records() {
    await t.gw.ledgerParts!.drained();
    return (await t.gw.storage.ledger.read(1, 100_000)).map((r) => r.record);
  }

  const fingerprint = (url = t.gw.url): Promise<string> => peerFingerprint(url);


  before(async () => {
    // An admin plane too: its listener follows listen.tls (no admin.tls of its own).
    t = await startTestGateway({ tls: true, yaml: { admin: { listen: { port: 0 } } } });
    original = parse(readFileSync(t.configFile, 'utf8')) as Record<string, unknown>;
  });
  after(async () => {
    await t?.close();
  });

  it('swaps versions under load without one failed request; in-flight requests finish on theirs', async () => {
    const first = t.gw.runtime().hash;
    const b = await version('rampart-b.yaml', (d) => {
      d.limits = { ...(d.limits ?? {}), maxBodyBytes: 500_000 };
    });
    const a = { config: t.config, configDir: t.dir, file: t.configFile };

    // A slow request starts on the first version and is still upstream during the swap.
    const slow = t.request('GET', '/slow?ms=700');
    await new Promise((r) => setTimeout(r, 150));

    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false });
    let stop = false;
    const failures: string[] = [];
    let done = 0;
    const worker = async (agent: https.Agent | false) => {
      while (!stop) {
        try {
          const r = await rawRequest(t.gw.url, 'GET', '/public/ping', { agent });
          if (r.status !== 200) failures.push(`${r.status} ${r.body.toString().slice(0, 200)}`);
        } catch (err) {
          failures.push(String(err));
        }
        done++;
      }
    };
    const workers = [worker(keepAlive), worker(keepAlive), worker(keepAlive), worker(false), worker(false)];
    const hashes: string[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 60));
        const res = await t.gw.activate(i % 2 === 0 ? b : a);
        hashes.push(res.hash);
        assert.equal(t.gw.runtime().hash, res.hash);
      }
      await new Promise((r) => setTimeout(r, 60));
    } finally {
      stop = true;
      await Promise.all(workers);
      keepAlive.destroy();
    }
    assert.deepEqual(failures, [], 'no request failed during the swaps');
    assert.ok(done > 50, `the load ran (${done} requests)`);
    assert.notEqual(hashes[0], first, 'version b has its own hash');
    assert.deepEqual(hashes, [hashes[0], first, hashes[0], first, hashes[0], first]);

    const s = await slow;
    assert.equal(s.status, 200, 'the request in flight during the swap completed');
    const recs = await records();
    const slowDone = recs.find((r) => r.type === 'exchange.completion' && r.operationId === 'slow');
    assert.ok(slowDone, 'the slow request is recorded');
    assert.equal(slowDone.configHash, first, 'it finished on the version it started with');
    const activations = recs.filter((r) => r.type === 'system.event' && r.detail?.event === 'config.activated');
    assert.equal(activations.length, 6, 'each activation is a ledger record');
    assert.deepEqual(activations.map((r) => r.detail?.hash), hashes);
    assert.equal(activations[0]!.detail?.previous, first);
    // Requests after the last swap carry its hash.
    const last = await t.request('GET', '/public/ping');
    assert.equal(last.status, 200);
    const after = (await records()).filter((r) => r.type.startsWith('exchange.') && r.operationId === 'ping').at(-1);
    assert.equal(after?.configHash, first);
  });

  it('rotates the certificate live: new handshakes get the new one, an open connection keeps working', async () => {
    const before = await fingerprint();
    const adminBefore = await fingerprint(t.gw.admin!.url);
    assert.equal(adminBefore, before);
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    try {
      const r1 = await rawRequest(t.gw.url, 'GET', '/public/ping', { agent: keepAlive });
      assert.equal(r1.status, 200);

      mkdirSync(join(t.dir, 'tls2'), { recursive: true });
      // Test fixture, generated at run time: a throwaway self-signed certificate.
      const c = await generateDevCertificate({ hosts: ['localhost', '127.0.0.1'] });
      writeFileSync(join(t.dir, 'tls2', 'cert.pem'), c.certPem);
      writeFileSync(join(t.dir, 'tls2', 'key.pem'), c.keyPem, { mode: 0o600 });
      const rotated = await version('rampart-rotated.yaml', (d) => {
        d.listen.tls = { ...d.listen.tls, cert: 'tls2/cert.pem', key: 'tls2/key.pem' };
      });
      const res = await t.gw.activate(rotated);
      assert.notEqual(res.hash, res.previous, 'the certificate paths are part of the version');

      const afterFp = await fingerprint();
      assert.notEqual(afterFp, before, 'a new handshake presents the new certificate');
      const expected = new (await import('node:crypto')).X509Certificate(c.certPem).fingerprint256;
      assert.equal(afterFp, expected);
      assert.equal(await fingerprint(t.gw.admin!.url), expected, 'the admin listener rotated with it (90-day certificates, no restart)');

      // The connection opened before the rotation is reused, not dropped.
      const r2 = await new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const u = new URL(t.gw.url);
        const req = https.request({ host: u.hostname, port: u.port, path: '/public/ping', agent: keepAlive, rejectUnauthorized: false }, (res2) => {
          res2.resume();
          res2.on('end', () => resolve({ status: res2.statusCode!, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(r2.status, 200);
      assert.equal(r2.reused, true, 'the request went over the connection opened before the rotation');
    } finally {
      keepAlive.destroy();
    }
  });

  it('refuses a version that cannot be built, or changes a restart-only field; the running one keeps serving', async () => {
    const live = t.gw.runtime().hash;

    writeFileSync(join(t.dir, 'broken.yaml'), 'openapi: 3.0.3\ninfo: { title: x, version: "1" }\npaths:\n  /a:\n    get:\n      responses: { "200": { $ref: "#/components/responses/missing" } }\n');
    const broken = await version('rampart-broken.yaml', (d) => {
      d.apis[0].openapi = 'broken.yaml';
    });
    await assert.rejects(t.gw.activate(broken), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /broken\.yaml/);
      return true;
    });

    const noKey = await version('rampart-nokey.yaml', (d) => {
      d.listen.tls = { ...d.listen.tls, key: 'tls2/missing-key.pem' };
    });
    await assert.rejects(t.gw.activate(noKey), (err: unknown) => err instanceof ConfigError && /missing-key\.pem/.test(err.message));

    const moved = await version('rampart-port.yaml', (d) => {
      d.listen.port = 1;
      d.storage = { driver: 'sqlite', sqlite: { path: 'elsewhere.db' } };
    });
    await assert.rejects(t.gw.activate(moved), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues.map((i) => i.pointer), ['/listen/port', '/storage']);
      assert.match(err.message, /only a restart applies/);
      return true;
    });

    assert.equal(t.gw.runtime().hash, live, 'nothing was swapped');
    const r = await t.request('GET', '/public/ping');
    assert.equal(r.status, 200);
  });
});
