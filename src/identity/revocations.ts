/**
 * Token revocations survive a restart: each one is a ledger record (security.event, detail.event
 * `oauth.revoke`, written by ./token-endpoint.ts before the revocation takes effect), so at start
 * the gateway re-reads the revocations of the last token lifetime (the time index bounds the
 * search) and refuses those tokens again until they expire. The ledger stays the one record of
 * what happened; no second table to keep in step.
 */
import type { LedgerStore } from '../storage/types.js';
import type { AccessTokens } from './access-tokens.js';

export async function restoreRevocations(store: LedgerStore, tokens: AccessTokens, windowMs: number, now = Date.now()): Promise<number> {
  let restored = 0;
  let afterSeq: number | undefined;
  for (;;) {
    const page = await store.search({ type: 'security.event', fromTs: now - windowMs, limit: 1000, ...(afterSeq !== undefined ? { afterSeq } : {}) });
    for (const r of page) {
      const d = r.record.detail;
      if (d?.event === 'oauth.revoke' && typeof d.jti === 'string' && typeof d.expiresAt === 'number' && d.expiresAt > now) {
        tokens.revoke(d.jti, d.expiresAt);
        restored++;
      }
    }
    if (page.length < 1000) return restored;
    afterSeq = page[page.length - 1]!.record.seq;
  }
}
