/**
 * Probe markers for `rampart verify` (issue 6): an authenticated label that lets the ledger say
 * which records a verification run caused, so the run can prove that each of its probes landed
 * (AU-12, R17a4-3) and an examiner can tell probes from customer traffic.
 *
 * A marker is `<runId>.<expiry>.<mac>`:
 *   runId   `vr_` + 16-64 base64url characters, chosen by the admin plane;
 *   expiry  UTC milliseconds, 13 digits;
 *   mac     base64url(HMAC-SHA256(K, "rampart-probe/1" 0x00 runId "." expiry)), 43 characters,
 * with K = HMAC-SHA256(server secret, "rampart-probe-marker/1"): a key of its own (domain
 * separation), so a marker can never be replayed as, or reveal anything about, the key hashes or
 * TOTP secrets kept under the same server secret. Only the admin plane issues markers, to an admin
 * holding `verify.run`; anyone can send one, so a marker is a LABEL and never a credential: the
 * gateway changes nothing for a marked request but the `detail.probe` of its ledger records. A
 * marked request without credentials is still 401, a marked injection still 400 (tested).
 *
 * `check` is constant-time in the MAC (timingSafeEqual) and answers undefined for anything
 * malformed, expired or forged, so a bad marker is simply no marker.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The request header a probe carries its marker in. */
export const PROBE_HEADER = 'rampart-probe';
/** Longest a marker may live: a verification run takes minutes, not hours. */
export const MAX_PROBE_MARKER_TTL_MS = 3_600_000;

const RUN_ID = /^vr_[A-Za-z0-9_-]{16,64}$/;
const EXPIRY = /^[0-9]{13}$/;
const MAC = /^[A-Za-z0-9_-]{43}$/;
/** runId (67) + '.' + 13 + '.' + 43: anything longer is not a marker and is not parsed. */
const MAX_MARKER_LENGTH = 125;

export interface IssuedProbeMarker {
  marker: string;
  /** UTC milliseconds. */
  expiresAt: number;
}

export interface ProbeMarkers {
  /** A marker for `runId`, valid for `ttlMs` (1 ms to one hour); TypeError on misuse. */
  issue(runId: string, ttlMs: number): IssuedProbeMarker;
  /** The run id of a valid, unexpired marker; undefined for anything else (absent, malformed, forged, expired). */
  check(headerValue: string | readonly string[] | undefined): string | undefined;
}

/**
 * @example
 * const markers = createProbeMarkers(secrets.keyHashSecret);
 * const { marker } = markers.issue('vr_3Jd9xQm1ZpLw0aBc', 15 * 60_000);
 * markers.check(req.headers['rampart-probe']); // 'vr_3Jd9xQm1ZpLw0aBc' while it is valid
 */
export function createProbeMarkers(secret: Buffer, o: { now?: () => number } = {}): ProbeMarkers {
  if (!Buffer.isBuffer(secret) || secret.length < 16) throw new TypeError('createProbeMarkers: the server secret must be a Buffer of at least 16 bytes');
  const key = createHmac('sha256', secret).update('rampart-probe-marker/1').digest();
  const now = o.now ?? Date.now;
  const mac = (runId: string, expiry: string): Buffer => createHmac('sha256', key).update(`rampart-probe/1\0${runId}.${expiry}`).digest();

  return {
    issue(runId, ttlMs) {
      if (typeof runId !== 'string' || !RUN_ID.test(runId)) throw new TypeError('issue: runId must be vr_ followed by 16-64 base64url characters');
      if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_PROBE_MARKER_TTL_MS) throw new TypeError(`issue: ttlMs must be an integer from 1 to ${MAX_PROBE_MARKER_TTL_MS}`);
      const expiresAt = now() + ttlMs;
      const expiry = String(expiresAt);
      if (!EXPIRY.test(expiry)) throw new TypeError('issue: the clock is outside the marker format (13-digit milliseconds)');
      return { marker: `${runId}.${expiry}.${mac(runId, expiry).toString('base64url')}`, expiresAt };
    },
    check(headerValue) {
      // A repeated header is ambiguous: no marker (never "the first one wins").
      if (typeof headerValue !== 'string' || headerValue.length > MAX_MARKER_LENGTH) return undefined;
      const parts = headerValue.split('.');
      if (parts.length !== 3) return undefined;
      const [runId, expiry, sent] = parts as [string, string, string];
      if (!RUN_ID.test(runId) || !EXPIRY.test(expiry) || !MAC.test(sent)) return undefined;
      // Compared as text, so a non-canonical encoding of the right bytes (the last character
      // carries 2 spare bits) is not a second valid marker.
      const given = Buffer.from(sent, 'latin1');
      const want = Buffer.from(mac(runId, expiry).toString('base64url'), 'latin1');
      if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
      if (Number(expiry) <= now()) return undefined;
      return runId;
    },
  };
}
