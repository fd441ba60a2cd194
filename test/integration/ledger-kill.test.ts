/**
 * A killed process loses no acknowledged audit record (DESIGN.md non-negotiable; issue 4,
 * durability). `rampart start` runs as a real child process under load from 8 concurrent clients;
 * it is killed with SIGKILL mid-stream. Every exchange whose response reached a client in full
 * must then have its decision and its completion record in the ledger (the completion record is
 * committed before the last byte is released), and the chain must verify.
 *
 * strict: the records are in the store. buffered: some may still be only in the fsynced spill
 * journal; they are replayed into the store when it is next opened, as a restart would.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ensureSecrets } from '../../src/config/secrets.js';
import { createKey } from '../../src/keys/create.js';
import { openBufferedStore } from '../../src/ledger/buffered-store.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { openStorage } from '../../src/storage/open.js';
import { freePort, kill, sleep, startGatewayProcess, waitFor } from '../helpers/cli.js';
import { FIXTURE_SPEC } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';
import { startTestUpstream } from '../helpers/upstream.js';

function get(port: number, path: string, key: string): Promise<{ status: number; requestId: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${key}` }, agent: false }, (res) => {
      res.on('data', () => {});
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode!, requestId: res.headers['x-request-id'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

for (const durability of ['strict', 'buffered'] as const) {
  describe(`SIGKILL under load, ${durability} durability`, () => {
    it('no exchange whose response was sent is missing from the ledger', async () => {
      const dir = tempDir('rampart-kill-');
      const upstream = await startTestUpstream();
      let gw: ReturnType<typeof startGatewayProcess> | undefined;
      try {
        const port = await freePort();
        const file = join(dir.path, 'rampart.yaml');
        writeFileSync(
          file,
          stringify({
            version: 1,
            listen: { host: '127.0.0.1', port, plainHttp: true },
            secretsFile: 'secrets.json',
            storage: { driver: 'sqlite', sqlite: { path: 'rampart.db' } },
            ledger: { durability, spill: { dir: 'spill' }, selfVerify: { intervalSeconds: 0 } },
            apis: [{ name: 'test', openapi: FIXTURE_SPEC, upstream: { url: upstream.url }, mount: { prefix: '/' } }],
          }),
        );
        const config = await loadConfig(file);
        const secrets = await ensureSecrets(config.secretsFile);
        const storage = await openStorage(config.storage);
        const { key } = await createKey(storage.keys, secrets.keyHashSecret, { name: 'load', scopes: ['accounts:read'], subject: 'cus_1' });
        await storage.close();

        gw = startGatewayProcess(dir.path, ['-c', file]);
        await waitFor('the gateway to listen', () => /listening on/.test(gw!.stdout()), 30_000);

        const acked: string[] = [];
        let stop = false;
        const worker = async (): Promise<void> => {
          while (!stop) {
            try {
              const r = await get(port, '/accounts?limit=1', key);
              if (r.status === 200 && r.requestId) acked.push(r.requestId);
            } catch {
              return; // the connection died with the process
            }
          }
        };
        const workers = Array.from({ length: 8 }, worker);
        await waitFor('some load', () => acked.length >= 150, 60_000);
        await sleep(Math.floor(Math.random() * 200));
        gw.child.kill('SIGKILL');
        await gw.exited;
        stop = true;
        await Promise.all(workers);
        const ackedAtKill = [...acked];
        assert.ok(ackedAtKill.length >= 150);

        const s = await openStorage(config.storage);
        try {
          if (durability === 'buffered') {
            // What a restart does first: the journal's records go into the store.
            const b = await openBufferedStore(s.ledger, { dir: config.ledger.spill.dir, maxBytes: config.ledger.spill.maxBytes });
            await b.close();
          }
          const head = await s.ledger.head();
          const records = await s.ledger.read(1, head!.seq + 10);
          const completed = new Set(records.filter((r) => r.record.type === 'exchange.completion').map((r) => r.record.requestId));
          const decided = new Set(records.filter((r) => r.record.type === 'exchange.decision').map((r) => r.record.requestId));
          const missing = ackedAtKill.filter((id) => !completed.has(id) || !decided.has(id));
          assert.deepEqual(missing, [], `${missing.length} of ${ackedAtKill.length} answered exchanges are missing from the ledger`);
          const v = await verifyChain(s.ledger, { checkPrivate: false });
          assert.equal(v.ok, true, v.firstBad?.detail);
        } finally {
          await s.close();
        }

        // And the gateway starts again on what the kill left behind.
        gw = startGatewayProcess(dir.path, ['-c', file]);
        await waitFor('the gateway to listen again', () => /listening on/.test(gw!.stdout()) || gw!.child.exitCode !== null, 30_000);
        assert.match(gw.stdout(), /listening on/, gw.stderr());
        assert.equal((await get(port, '/accounts?limit=1', key)).status, 200);
      } finally {
        await kill(gw);
        await upstream.close();
        dir.remove();
      }
    });
  });
}
