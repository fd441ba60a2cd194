/**
 * Starts a real gateway for a test: a real upstream on loopback, a rampart.yaml written to a temp
 * folder and loaded through the real loader, real storage (a SQLite file, or a PostgreSQL database
 * the caller created), and helpers to mint keys and send raw HTTP requests.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ensureSecrets } from '../../src/config/secrets.js';
import type { RampartConfig } from '../../src/config/types.js';
import { startGateway, type GatewayHandle } from '../../src/gateway/start.js';
import { createKey } from '../../src/keys/create.js';
import { silentLogger } from '../../src/core/log.js';
import { generateDevCertificate } from '../../src/tls/dev-cert.js';
import { startTestUpstream, type TestUpstream } from './upstream.js';
import { tempDir } from './tmp.js';

export const FIXTURE_SPEC = fileURLToPath(new URL('../../../test/fixtures/openapi/gateway-test.yaml', import.meta.url));

export interface TestGateway {
  gw: GatewayHandle;
  config: RampartConfig;
  upstream: TestUpstream;
  dir: string;
  configFile: string;
  secret: Buffer;
  /** Creates a key and waits until the gateway knows it. */
  key(scopes: string[], o?: { subject?: string; expiresAt?: number; name?: string }): Promise<{ key: string; id: string }>;
  request(method: string, path: string, o?: { headers?: Record<string, string | string[]>; body?: string | Buffer }): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): any;  
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export async function startTestGateway(o: {
  yaml?: Record<string, unknown>;
  api?: Record<string, unknown>;
  extraApis?: (upstreamUrl: string) => Record<string, unknown>[];
  postgresUrl?: string;
  tls?: boolean;
  spec?: string;
  upstreamUrl?: string;
  /** The admin plane's clock (startGateway's adminClockForTests), for session timeouts. */
  adminClock?: () => number;
} = {}): Promise<TestGateway> {
  const tmp = tempDir('rampart-gw-');
  const upstream = await startTestUpstream();
  const base: Record<string, unknown> = {
    version: 1,
    listen: { host: '127.0.0.1', port: 0, plainHttp: true },
    secretsFile: 'secrets.json',
    storage: o.postgresUrl ? { driver: 'postgres', postgres: { url: o.postgresUrl } } : { driver: 'sqlite', sqlite: { path: 'rampart.db' } },
    apis: [merge({ name: 'test', openapi: o.spec ?? FIXTURE_SPEC, upstream: { url: o.upstreamUrl ?? upstream.url, timeoutMs: 1000, connectTimeoutMs: 500 }, mount: { prefix: '/' } }, o.api ?? {}), ...(o.extraApis?.(upstream.url) ?? [])],
  };
  if (o.tls) {
    mkdirSync(join(tmp.path, 'tls'));
    const c = await generateDevCertificate({ hosts: ['localhost', '127.0.0.1'] });
    writeFileSync(join(tmp.path, 'tls', 'cert.pem'), c.certPem);
    writeFileSync(join(tmp.path, 'tls', 'key.pem'), c.keyPem, { mode: 0o600 });
    base.listen = { host: '127.0.0.1', port: 0, tls: { cert: 'tls/cert.pem', key: 'tls/key.pem' } };
  }
  const doc = merge(base, o.yaml ?? {});
  const configFile = join(tmp.path, 'rampart.yaml');
  writeFileSync(configFile, stringify(doc));
  let gw: GatewayHandle;
  let config: RampartConfig;
  let secrets: { keyHashSecret: Buffer };
  try {
    config = await loadConfig(configFile);
    secrets = await ensureSecrets(config.secretsFile);
    gw = await startGateway({ config, configDir: tmp.path, logger: silentLogger(), keyPollMs: 50, shutdownGraceMs: 2000, ...(o.adminClock ? { adminClockForTests: o.adminClock } : {}) });
  } catch (err) {
    await upstream.close();
    tmp.remove();
    throw err;
  }
  const agent = o.tls ? new https.Agent({ rejectUnauthorized: false, keepAlive: false }) : new http.Agent({ keepAlive: false });
  return {
    gw,
    config,
    upstream,
    dir: tmp.path,
    configFile,
    secret: secrets.keyHashSecret,
    async key(scopes, ko = {}) {
      const { key, record } = await createKey(gw.storage.keys, secrets.keyHashSecret, { name: ko.name ?? 'test-key', scopes, ...(ko.subject ? { subject: ko.subject } : {}), ...(ko.expiresAt ? { expiresAt: ko.expiresAt } : {}) });
      await gw.keys.refresh();
      return { key, id: record.id };
    },
    request(method, path, ro = {}) {
      return rawRequest(gw.url, method, path, { ...ro, agent });
    },
    async close() {
      await gw.close();
      await upstream.close();
      agent.destroy();
      tmp.remove();
    },
  };
}

export function rawRequest(base: string, method: string, path: string, o: { headers?: Record<string, string | string[]>; body?: string | Buffer; agent?: http.Agent | false; cert?: { certPem: string; keyPem: string } } = {}): Promise<TestResponse> {
  const u = new URL(base);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      { host: u.hostname, port: u.port, method, path, headers: o.headers, agent: o.agent, rejectUnauthorized: false, ...(o.cert ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}) } as https.RequestOptions,
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (o.body !== undefined) req.end(o.body);
    else req.end();
  });
}

/** SHA-256 fingerprint of the certificate a TLS listener presents to a new handshake. */
export function peerFingerprint(url: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false, servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}
