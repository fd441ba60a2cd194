/**
 * Who owns an object: the subject (customer or tenant) an id belongs to, for object-level
 * authorization (API1, ASVS 4.2.1). Two sources:
 *
 * - a lookup on the API's own upstream (`GET /internal/accounts/{id}/owner`, owner at a JSON
 *   pointer): the backend stays the source of truth; answers are cached per id, concurrent
 *   lookups of one id share a request, and a missing object (404) is remembered only briefly;
 * - a fixed table owner -> ids (development, tests, small deployments).
 *
 * The authorize stage asks `cached()` first, synchronously, so that a warm request allocates no
 * promise (DESIGN.md: authorization under 10 us); only a miss goes to `resolve()`. A lookup that
 * fails or times out throws, and the stage denies (fail closed).
 */
import type { UpstreamRuntime } from '../gateway/runtime.js';

export interface OwnerResolver {
  /** The owner when known: a subject, null for "no such object", undefined when not cached. */
  cached(id: string, now: number): string | null | undefined;
  /** Finds the owner (null: no such object); throws when the source cannot answer. */
  resolve(id: string): Promise<string | null>;
}

/** Owners from a fixed table; everything is known up front. */
export function tableOwners(table: Readonly<Record<string, readonly string[]>>): OwnerResolver {
  const ownerOf = new Map<string, string>();
  for (const [owner, ids] of Object.entries(table)) {
    for (const id of ids) {
      const prev = ownerOf.get(id);
      // Two owners for one id would make the answer depend on the order of the file.
      if (prev !== undefined && prev !== owner) throw new TypeError(`id '${id}' is listed under two owners ('${prev}' and '${owner}')`);
      ownerOf.set(id, owner);
    }
  }
  return {
    cached: (id) => ownerOf.get(id) ?? null,
    resolve: async (id) => ownerOf.get(id) ?? null,
  };
}

export interface LookupOptions {
  /** Path template on the upstream, with `{id}`. */
  path: string;
  /** RFC 6901 pointer to the owner in the JSON answer. */
  pointer: string;
  cacheSeconds: number;
  /** Time for the whole lookup; past it the lookup fails (and the request is denied). */
  timeoutMs: number;
  /** Entries kept; the oldest go first. */
  maxEntries?: number;
  /** Headers identifying Rampart itself to the upstream (its identity assertion). */
  identify?: () => Record<string, string>;
}

/** A missing object is believed for at most this long: it may be created a moment later. */
const NOT_FOUND_TTL_MS = 5_000;
/** Owner answers are small; anything bigger is not what the lookup expects. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Owners looked up on the upstream, cached. */
export function upstreamOwners(upstream: UpstreamRuntime, o: LookupOptions): OwnerResolver {
  const ttl = o.cacheSeconds * 1000;
  const maxEntries = o.maxEntries ?? 100_000;
  const cache = new Map<string, { owner: string | null; expires: number }>();
  const inFlight = new Map<string, Promise<string | null>>();
  const pointer = o.pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

  function remember(id: string, owner: string | null): void {
    const life = owner === null ? Math.min(ttl, NOT_FOUND_TTL_MS) : ttl;
    if (life <= 0) return;
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.delete(id);
    cache.set(id, { owner, expires: Date.now() + life });
  }

  async function lookup(id: string): Promise<string | null> {
    const path = upstream.basePath + o.path.replace('{id}', encodeURIComponent(id));
    const signal = AbortSignal.timeout(o.timeoutMs);
    const r = await upstream.pool.request({ path, method: 'GET', headers: { accept: 'application/json', ...o.identify?.() }, signal });
    if (r.statusCode === 404) {
      await r.body.dump();
      return null;
    }
    if (r.statusCode !== 200) {
      await r.body.dump();
      throw new Error(`owner lookup ${o.path} answered ${r.statusCode}`);
    }
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of r.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_ANSWER_BYTES) {
        r.body.destroy();
        throw new Error(`owner lookup ${o.path} answered more than ${MAX_ANSWER_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    let node: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    for (const seg of pointer) {
      node = typeof node === 'object' && node !== null && Object.prototype.hasOwnProperty.call(node, seg) ? (node as Record<string, unknown>)[seg] : undefined;
    }
    if (typeof node === 'string' && node.length > 0) return node;
    if (typeof node === 'number' && Number.isFinite(node)) return String(node);
    throw new Error(`owner lookup ${o.path}: no owner at ${o.pointer} in the answer`);
  }

  return {
    cached(id, now) {
      const e = cache.get(id);
      if (e === undefined) return undefined;
      if (e.expires <= now) {
        cache.delete(id);
        return undefined;
      }
      return e.owner;
    },
    resolve(id) {
      let p = inFlight.get(id);
      if (!p) {
        p = lookup(id).then(
          (owner) => {
            inFlight.delete(id);
            remember(id, owner);
            return owner;
          },
          (err: unknown) => {
            inFlight.delete(id);
            throw err;
          },
        );
        inFlight.set(id, p);
      }
      return p;
    },
  };
}
