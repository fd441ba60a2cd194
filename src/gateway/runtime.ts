/**
 * A configuration version made runnable: the loaded APIs, their upstream pools and the composed
 * pipeline. Every request captures the runtime current at its arrival and runs on it to the end
 * (one configuration version per request; its hash goes on every ledger record). Built by the
 * composition root (./start.ts); swapping runtimes is how a reload will work.
 */
import { readFile } from 'node:fs/promises';
import { Pool } from 'undici';
import type { ApiConfig, RampartConfig } from '../config/types.js';
import { configHash } from '../config/hash.js';
import { compose, type Pipeline } from '../core/compose.js';
import { loadApi } from '../openapi/load.js';
import { ConfigError } from '../core/errors.js';
import type { ApiModel } from '../openapi/types.js';
import type { Stage } from '../core/stage.js';
import { trustedProxies, type TrustedProxies } from './client-address.js';

export interface UpstreamRuntime {
  origin: string;
  /** Path prefix of the upstream URL (no trailing slash; '' for none). */
  basePath: string;
  pool: Pool;
}

export interface ApiRuntime {
  name: string;
  config: ApiConfig;
  model: ApiModel;
  prefix: string;
  host: string | undefined;
  upstream: UpstreamRuntime;
  /** Lower-case header names of the document's apiKey schemes that travel in a header. */
  apiKeyHeaders: string[];
}

export interface GatewayRuntime {
  readonly hash: string;
  readonly config: RampartConfig;
  readonly apis: readonly ApiRuntime[];
  readonly trusted: TrustedProxies;
  readonly pipeline: Pipeline;
  readonly warnings: readonly string[];
  /** The API mounted at this host and path, and the path relative to its mount. */
  matchApi(host: string | undefined, path: string): { api: ApiRuntime; apiPath: string } | undefined;
  close(): Promise<void>;
}

export type StageFactory = (runtime: Omit<GatewayRuntime, 'pipeline' | 'close'>) => Stage[];

/**
 * `hash`: the version hash when the caller has computed it over the version's files
 * (src/config/bundle.ts `versionHash`: the documents plus the files they reference and the
 * certificates); otherwise hash.ts's hash over the configuration and its documents.
 */
export async function buildRuntime(config: RampartConfig, stages: StageFactory, opts: { configDir?: string; hash?: string } = {}): Promise<GatewayRuntime> {
  const qualify = config.apis.length > 1;
  const warnings: string[] = [];
  const docs: Buffer[] = [];
  const apis: ApiRuntime[] = [];
  try {
    for (const a of config.apis) {
      docs.push(await readFile(a.openapi));
      const model = await loadApi({
        name: a.name,
        file: a.openapi,
        qualifyScopes: qualify,
        closedObjects: a.closedObjects,
        reservedPrefix: config.reservedPrefix,
      });
      for (const w of model.warnings) warnings.push(`${a.name}: ${w}`);
      // A misspelt operationId under `operations` would silently drop an added scope: refuse it.
      const known = new Set(model.operations.map((o) => o.id));
      const unknown = Object.keys(a.operations).filter((id) => !known.has(id));
      if (unknown.length > 0) {
        throw new ConfigError(unknown.map((id) => ({ file: a.openapi, pointer: `/apis/${a.name}/operations/${id}`, message: `operationId '${id}' is not in the API document` })));
      }
      apis.push({
        name: a.name,
        config: a,
        model,
        prefix: a.mount.prefix === '/' ? '' : a.mount.prefix,
        host: a.mount.host?.toLowerCase(),
        upstream: await upstreamRuntime(a),
        apiKeyHeaders: apiKeyHeaderNames(model),
      });
    }
  } catch (err) {
    await Promise.all(apis.map((a) => a.upstream.pool.close().catch(() => {})));
    throw err;
  }
  // Longest prefix first, host-bound mounts before host-less ones.
  const ordered = apis.slice().sort((x, y) => (y.host ? 1 : 0) - (x.host ? 1 : 0) || y.prefix.length - x.prefix.length);
  const base = {
    // Paths hash relative to the config folder, so the same repository checked out anywhere
    // yields the same version hash (what `rampart plan` compares).
    hash: opts.hash ?? configHash(config, docs, opts.configDir ? { baseDir: opts.configDir } : {}),
    config,
    apis,
    trusted: trustedProxies(config.trustedProxies),
    warnings,
    matchApi(host: string | undefined, path: string) {
      const h = host ? stripPort(host.toLowerCase()) : undefined;
      for (const api of ordered) {
        if (api.host !== undefined && api.host !== h) continue;
        if (api.prefix === '') return { api, apiPath: path };
        if (path === api.prefix) return { api, apiPath: '/' };
        if (path.startsWith(api.prefix) && path.charCodeAt(api.prefix.length) === 47) return { api, apiPath: path.slice(api.prefix.length) };
      }
      return undefined;
    },
  };
  const pipeline = compose(stages(base));
  return {
    ...base,
    pipeline,
    async close() {
      await Promise.all(apis.map((a) => a.upstream.pool.close().catch(() => {})));
    },
  };
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const i = host.lastIndexOf(':');
  return i === -1 ? host : host.slice(0, i);
}

async function upstreamRuntime(a: ApiConfig): Promise<UpstreamRuntime> {
  const ca = a.upstream.ca ? await readFile(a.upstream.ca, 'utf8') : undefined;
  // mTLS to the upstream: Rampart's client certificate, so the upstream can refuse everything
  // that did not come through Rampart (issue 3, identity to the upstream).
  const client = a.upstream.clientCertificate
    ? { cert: await readFile(a.upstream.clientCertificate.cert, 'utf8'), key: await readFile(a.upstream.clientCertificate.key, 'utf8') }
    : undefined;
  const u = new URL(a.upstream.url);
  const basePath = u.pathname.replace(/\/+$/, '');
  const pool = new Pool(u.origin, {
    connections: a.upstream.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: a.upstream.timeoutMs,
    bodyTimeout: a.upstream.timeoutMs,
    connect: {
      timeout: a.upstream.connectTimeoutMs,
      // Upstream certificates are always verified (ASVS 9.2.2); a private CA can be given.
      rejectUnauthorized: true,
      ...(ca ? { ca } : {}),
      ...(client ? { cert: client.cert, key: client.key } : {}),
    },
    maxResponseSize: -1,
  });
  return { origin: u.origin, basePath, pool };
}

function apiKeyHeaderNames(model: ApiModel): string[] {
  const names = new Set<string>();
  for (const op of model.operations) {
    for (const alt of op.security) {
      for (const s of alt.schemes) if (s.type === 'apiKey' && s.in === 'header' && s.paramName) names.add(s.paramName.toLowerCase());
    }
  }
  return [...names];
}
