/**
 * The identity the upstream receives (issue 3, "identity to the upstream"): the client's
 * credential is stripped (../gateway/headers.ts) and replaced by a signed assertion of who is
 * calling, for which API, in which request (./assertion.ts). Every forwarded request carries one,
 * an anonymous call too (`auth_method: none`), so an upstream can refuse anything that did not
 * come through Rampart.
 *
 * An Ed25519 signature costs about 50 us of CPU (measured by `npm run bench`, nl-per-req), more
 * than the whole per-request budget of the controls in DESIGN.md. So by default
 * (`identity.assertion.cacheSeconds` 30) an assertion is reused per caller and API for that long
 * (its jti is then random; the request id travels in X-Request-Id); 0 signs one per request, its
 * jti the request id.
 */
import { randomUUID } from 'node:crypto';
import type { IdentityConfig } from '../config/types.js';
import type { Principal, RequestContext } from '../core/context.js';
import { createAssertionSigner } from './assertion.js';
import type { Keyset } from './keyset.js';

export interface UpstreamIdentity {
  /** Lower-case name of the request header that carries the assertion. */
  readonly header: string;
  /** The assertion for this request. */
  assertionFor(ctx: RequestContext): string;
  /**
   * Rampart's own assertion (sub `rampart`, auth_method `internal`) for the calls it makes itself,
   * such as owner lookups, so that the upstream can still refuse everything else. Reused for
   * half its lifetime.
   */
  forService(api: string): string;
}

export function createUpstreamIdentity(keyset: Keyset, cfg: IdentityConfig, now: () => number = Date.now): UpstreamIdentity {
  const signer = createAssertionSigner(keyset, { issuer: cfg.issuer, lifetimeSeconds: cfg.assertion.lifetimeSeconds, now });
  const reuseMs = Math.min(cfg.assertion.cacheSeconds, Math.floor(cfg.assertion.lifetimeSeconds / 2)) * 1000;
  // Principals are built once per key record (../pipeline/authenticate.ts), so they key the cache.
  const cache = new WeakMap<Principal, Map<string, { token: string; until: number; kid: string }>>();

  function sign(ctx: RequestContext, requestId: string): string {
    const p = ctx.principal!;
    return signer.sign({
      principal: p.authMethod === 'none' ? 'anonymous' : p.name,
      ...(p.subject !== undefined ? { subject: p.subject } : {}),
      scopes: [...p.scopes],
      audience: ctx.api!.name,
      requestId,
      ...(p.keyId !== undefined ? { keyId: p.keyId } : {}),
      authMethod: p.authMethod,
    });
  }

  const service = new Map<string, { token: string; until: number; kid: string }>();

  return {
    header: cfg.assertion.header,
    forService(api) {
      const t = now();
      const kid = keyset.active().kid;
      const hit = service.get(api);
      if (hit && hit.until > t && hit.kid === kid) return hit.token;
      const token = signer.sign({ principal: 'rampart', scopes: [], audience: api, requestId: randomUUID(), authMethod: 'internal' });
      service.set(api, { token, until: t + Math.floor(cfg.assertion.lifetimeSeconds / 2) * 1000, kid });
      return token;
    },
    assertionFor(ctx) {
      if (reuseMs === 0) return sign(ctx, ctx.requestId);
      const p = ctx.principal!;
      const api = ctx.api!.name;
      let byApi = cache.get(p);
      if (!byApi) {
        byApi = new Map();
        cache.set(p, byApi);
      }
      const t = now();
      const kid = keyset.active().kid;
      const hit = byApi.get(api);
      // A rotated key signs from the next assertion on, cached or not.
      if (hit && hit.until > t && hit.kid === kid) return hit.token;
      const token = sign(ctx, randomUUID());
      byApi.set(api, { token, until: t + reuseMs, kid });
      return token;
    },
  };
}
