/**
 * Probe markers (issue 6, src/gateway/probe-marker.ts): issued by the admin plane, checked by the
 * data plane in constant time; a forged, altered, expired or malformed marker is no marker. The
 * marker is a label, never a credential: that a marked request without credentials is still 401
 * is shown against a live gateway in test/integration/verify-live.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createProbeMarkers, MAX_PROBE_MARKER_TTL_MS } from '../../src/gateway/probe-marker.js';

const RUN = 'vr_AbCdEfGhIjKlMnOpQrStUv';

function clock(start = 1_750_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('probe markers', () => {
  it('a marker issued for a run checks back to that run id while it is valid', () => {
    const c = clock();
    const m = createProbeMarkers(randomBytes(32), c);
    const { marker, expiresAt } = m.issue(RUN, 60_000);
    assert.match(marker, /^vr_[A-Za-z0-9_-]+\.\d{13}\.[A-Za-z0-9_-]{43}$/);
    assert.equal(expiresAt, c.now() + 60_000);
    assert.equal(m.check(marker), RUN);
    // Another instance over the same server secret agrees (the admin plane and the data plane).
    const secret = randomBytes(32);
    assert.equal(createProbeMarkers(secret, c).check(createProbeMarkers(secret, c).issue(RUN, 1000).marker), RUN);
  });

  it('expires: valid until the last millisecond, then no marker', () => {
    const c = clock();
    const m = createProbeMarkers(randomBytes(32), c);
    const { marker } = m.issue(RUN, 1000);
    c.advance(999);
    assert.equal(m.check(marker), RUN);
    c.advance(1);
    assert.equal(m.check(marker), undefined);
  });

  it('a marker from another gateway (another secret), or with any part changed, is no marker', () => {
    const c = clock();
    const m = createProbeMarkers(randomBytes(32), c);
    const other = createProbeMarkers(randomBytes(32), c);
    assert.equal(m.check(other.issue(RUN, 60_000).marker), undefined);
    const { marker } = m.issue(RUN, 60_000);
    const [runId, expiry, mac] = marker.split('.') as [string, string, string];
    // A longer life, another run, a changed MAC character: each breaks the MAC.
    assert.equal(m.check(`${runId}.${Number(expiry) + 3_600_000}.${mac}`), undefined);
    assert.equal(m.check(`vr_ZZZZZZZZZZZZZZZZZZZZZZ.${expiry}.${mac}`), undefined);
    const flipped = `${mac.slice(0, 10)}${mac[10] === 'A' ? 'B' : 'A'}${mac.slice(11)}`;
    assert.equal(m.check(`${runId}.${expiry}.${flipped}`), undefined);
    // The last character carries two spare bits: another spelling of the same bytes is refused.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(mac[42]!);
    const sibling = alphabet[(last & ~3) | ((last + 1) & 3)]!;
    assert.deepEqual(Buffer.from(`${mac.slice(0, 42)}${sibling}`, 'base64url'), Buffer.from(mac, 'base64url'), 'the sibling decodes to the same bytes');
    assert.equal(m.check(`${runId}.${expiry}.${mac.slice(0, 42)}${sibling}`), undefined);
  });

  it('malformed values are no marker, without throwing', () => {
    const c = clock();
    const m = createProbeMarkers(randomBytes(32), c);
    const { marker } = m.issue(RUN, 60_000);
    const [runId, expiry, mac] = marker.split('.') as [string, string, string];
    for (const bad of [undefined, '', 'x', marker.slice(0, -1), `${marker}.x`, `${runId}.${expiry}`, `${runId}..${mac}`, `${runId}.0${expiry.slice(1)}x.${mac}`, `run_${runId.slice(3)}.${expiry}.${mac}`, `${runId}.${expiry}.${mac}=`, `${marker} `, 'a'.repeat(10_000), [marker], [marker, marker]]) {
      assert.equal(m.check(bad as string | string[] | undefined), undefined, JSON.stringify(bad)?.slice(0, 60));
    }
  });

  it('the MAC key is derived from the server secret, never the secret itself (domain separation)', () => {
    const secret = randomBytes(32);
    const c = clock();
    const { marker } = createProbeMarkers(secret, c).issue(RUN, 60_000);
    const [runId, expiry, mac] = marker.split('.') as [string, string, string];
    const direct = createHmac('sha256', secret).update(`rampart-probe/1\0${runId}.${expiry}`).digest('base64url');
    assert.notEqual(mac, direct);
  });

  it('misuse throws TypeError: a bad run id, a lifetime outside 1 ms to one hour, a short secret', () => {
    const m = createProbeMarkers(randomBytes(32));
    assert.throws(() => m.issue('run-1', 1000), TypeError);
    assert.throws(() => m.issue('vr_short', 1000), TypeError);
    assert.throws(() => m.issue(RUN, 0), TypeError);
    assert.throws(() => m.issue(RUN, MAX_PROBE_MARKER_TTL_MS + 1), TypeError);
    assert.throws(() => m.issue(RUN, 1.5), TypeError);
    assert.throws(() => createProbeMarkers(Buffer.alloc(8)), TypeError);
    assert.doesNotThrow(() => m.issue(RUN, MAX_PROBE_MARKER_TTL_MS));
  });
});
