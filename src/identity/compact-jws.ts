/**
 * Compact JWS (RFC 7515) with Rampart's own Ed25519 keys, shared by every token the gateway signs
 * and later checks itself (access tokens, admin tokens): signing with the active key, and
 * verification that takes the key from the keyset by `kid`, pins the algorithm to EdDSA whatever
 * the header says (RFC 8725 §3.1), and requires the explicit `typ` the caller expects (§3.11), so
 * one kind of token can never pass for another. Synchronous node:crypto: these run on the hot
 * path and their results are cached by the callers.
 */
import { createPublicKey, sign as ed25519Sign, verify as ed25519Verify, type KeyObject } from 'node:crypto';
import { RETIRED_KEY_PUBLISH_MS, type Keyset } from './keyset.js';

export interface CompactJws {
  /** Signs `payload` with the active key under the given `typ`. */
  sign(typ: string, payload: Record<string, unknown>): string;
  /**
   * The payload of a token of type `typ` signed by one of the keyset's published keys (the
   * active one, or one retired less than a day ago); 'not-ours' when its header names another
   * type, algorithm or key; 'bad-signature' when the signature does not verify.
   */
  verify(token: string, typ: string): Record<string, unknown> | 'malformed' | 'not-ours' | 'bad-signature';
}

export function createCompactJws(keyset: Keyset, now: () => number = Date.now): CompactJws {
  /** Public keys by kid, rebuilt when the keyset's membership changes. */
  let stamp = '';
  let publicKeys = new Map<string, KeyObject>();
  const publicKeyFor = (kid: string): KeyObject | undefined => {
    const t = now();
    const usable = keyset.all().filter((k) => k.retiredAt === undefined || k.retiredAt + RETIRED_KEY_PUBLISH_MS > t);
    const s = usable.map((k) => k.kid).join(',');
    if (s !== stamp) {
      publicKeys = new Map(usable.map((k) => [k.kid, createPublicKey(k.privateKey)]));
      stamp = s;
    }
    return publicKeys.get(kid);
  };
  return {
    sign(typ, payload) {
      const key = keyset.active();
      const input = `${b64json({ alg: 'EdDSA', typ, kid: key.kid })}.${b64json(payload)}`;
      return `${input}.${ed25519Sign(null, Buffer.from(input, 'latin1'), key.privateKey).toString('base64url')}`;
    },
    verify(token, typ) {
      const parts = token.split('.');
      if (parts.length !== 3) return 'malformed';
      const header = parseB64Json(parts[0]!);
      if (!header || header.typ !== typ || header.alg !== 'EdDSA' || typeof header.kid !== 'string') return 'not-ours';
      const pub = publicKeyFor(header.kid);
      if (!pub) return 'not-ours';
      let ok = false;
      try {
        ok = ed25519Verify(null, Buffer.from(`${parts[0]}.${parts[1]}`, 'latin1'), pub, Buffer.from(parts[2]!, 'base64url'));
      } catch {
        ok = false;
      }
      if (!ok) return 'bad-signature';
      return parseB64Json(parts[1]!) ?? 'malformed';
    },
  };
}

export function b64json(v: unknown): string {
  return Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
}

export function parseB64Json(b64: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(b64, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
