/**
 * How the console shows a captured body (src/admin/body-view.ts, issue 7; FC-3, ASVS 8.3.5):
 * masked by the DLP policy as a client without reveal scopes would have received it; withheld
 * when the policy blocks it; opaque bytes never shown.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bodyView } from '../../src/admin/body-view.js';
import { compileDlpPolicy } from '../../src/threat/dlp/index.js';
import type { CapturedBodyInput } from '../../src/ledger/record.js';

const SSN = '536-22-8814';
const base: CapturedBodyInput = { encoding: 'json', truncated: false, redacted: ['/password'], subjects: ['cus_1'], classesSeen: ['ssn'], contentType: 'application/json' };

describe('bodyView', () => {
  const policy = compileDlpPolicy(undefined);

  it('masks what DLP masks for a client without reveal scopes, keeping the rest and the facts', () => {
    const v = bodyView({ ...base, stored: JSON.stringify({ ssn: SSN, name: 'Ada', password: '[redacted:secret]' }) }, policy, undefined);
    assert.ok(v.text !== undefined);
    assert.ok(!v.text.includes(SSN), v.text);
    assert.ok(v.text.includes('8814') && v.text.includes('Ada') && v.text.includes('[redacted:secret]'));
    assert.ok(Object.values(v.masked).reduce((a, b) => a + b, 0) >= 1);
    assert.deepEqual(v.redacted, ['/password']);
    assert.equal(v.contentType, 'application/json');
    assert.equal(v.withheld, undefined);
  });

  it('scans a JSON body cut at the capture cap as text', () => {
    const v = bodyView({ ...base, truncated: true, stored: `{"note":"ssn ${SSN}", "more":"\u2026[rampart:truncated]` }, policy, undefined);
    assert.ok(v.text !== undefined && !v.text.includes(SSN), v.text);
    assert.equal(v.truncated, true);
  });

  it('shows nothing of a body the policy would withhold', () => {
    const blocking = compileDlpPolicy({ detect: { ssn: 'block' } });
    const v = bodyView({ ...base, stored: JSON.stringify({ note: `ssn ${SSN}` }) }, blocking, undefined);
    assert.equal(v.withheld, true);
    assert.equal(v.text, undefined);
    assert.ok(!JSON.stringify(v).includes(SSN));
    const t = bodyView({ ...base, encoding: 'text', stored: `ssn ${SSN}` }, blocking, undefined);
    assert.equal(t.withheld, true);
    assert.equal(t.text, undefined);
  });

  it('never shows opaque bytes, and passes on why nothing was captured', () => {
    const b = bodyView({ ...base, encoding: 'base64', stored: Buffer.from(`ssn ${SSN}`).toString('base64') }, policy, undefined);
    assert.equal(b.text, undefined);
    assert.match(b.note ?? '', /not shown/);
    const none = bodyView({ ...base, encoding: 'none', note: 'larger than the capture window' }, policy, undefined);
    assert.equal(none.text, undefined);
    assert.equal(none.note, 'larger than the capture window');
  });
});
