/**
 * What a live configuration swap (issue 6: `rampart apply`) may change and what needs a restart.
 *
 * A version is activated by building a new runtime (APIs, documents, upstreams, stages, limits,
 * inspection, response contract, DLP, rate-limit rules) and swapping it in; the listener's TLS
 * certificate, key and parameters are replaced with setSecureContext. What the process holds
 * open for its whole life cannot follow: the listening socket, the storage and ledger (their
 * durability, key provider, checkpoints), the server secret, the admin listener, Rampart's
 * signing keys and token issuer, the shared authentication throttle, the rate-limit backend,
 * the anomaly model's state and the trace exporter. A version that changes one of those is refused before anything is
 * swapped, naming each field, so that what is reported live is what actually runs (R17a4-3: the
 * version hash on every record must describe the decision that was made).
 */
import { canonicalize } from '../ledger/canonical.js';
import type { RampartConfig } from '../config/types.js';

/** One refused change: a JSON pointer into the configuration and why. */
export interface RestartOnlyChange {
  pointer: string;
  message: string;
}

/** The fields only a restart applies, as getters over a loaded configuration. */
const RESTART_ONLY: readonly [pointer: string, pick: (c: RampartConfig) => unknown][] = [
  ['/node', (c) => c.node],
  ['/listen/host', (c) => c.listen.host],
  ['/listen/port', (c) => c.listen.port],
  ['/listen/plainHttp', (c) => c.listen.plainHttp],
  // TLS on or off, and client certificates on or off (requestCert is a server option); the
  // certificate, key, CA and minimum version themselves are replaced live.
  ['/listen/tls', (c) => (c.listen.tls ? 'tls' : 'none')],
  ['/listen/tls/ca', (c) => (c.listen.tls?.ca !== undefined ? 'client certificates' : 'none')],
  ['/limits/maxHeaderBytes', (c) => c.limits.maxHeaderBytes],
  ['/secretsFile', (c) => c.secretsFile],
  ['/storage', (c) => c.storage],
  ['/ledger', (c) => c.ledger],
  ['/admin', (c) => (c.admin ? { ...c.admin, tls: c.admin.tls ? 'tls' : 'none' } : undefined)],
  ['/identity', (c) => c.identity],
  ['/authThrottle', (c) => c.authThrottle],
  ['/rateLimits/backend', (c) => c.rateLimits.backend],
  ['/rateLimits/redis', (c) => c.rateLimits.redis],
  ['/anomaly', (c) => c.anomaly],
  // The exporter and the stage wrappers are set up once at start (src/core/tracing.ts).
  ['/observability/tracing', (c) => c.observability.tracing],
];

/**
 * The restart-only fields that differ between the running configuration and a new one; empty
 * when the new one can be activated live.
 *
 * @example
 * const changes = restartOnlyChanges(live.config, next.config);
 * if (changes.length) throw new ConfigError(changes.map((c) => ({ file, pointer: c.pointer, message: c.message })));
 */
export function restartOnlyChanges(live: RampartConfig, next: RampartConfig): RestartOnlyChange[] {
  const out: RestartOnlyChange[] = [];
  for (const [pointer, pick] of RESTART_ONLY) {
    if (same(pick(live), pick(next))) continue;
    out.push({ pointer, message: 'changes a setting that only a restart applies (the running gateway keeps it open); restart with this configuration instead' });
  }
  return out;
}

function same(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonicalize(a) === canonicalize(b);
}
