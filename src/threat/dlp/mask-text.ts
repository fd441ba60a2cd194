/**
 * DLP on text responses (text/plain, text/csv...): the detectors only, since a text body has no
 * schema to classify it (FC-3, API3). Key names give no context here, so account numbers, dates
 * of birth and unformatted 9-digit SSNs are not found in text (docs/dlp.md, "What is not
 * detected"); a CSV column header does not count as context either.
 */
import { Masker } from './masker.js';
import type { MaskResult } from './mask-json.js';
import type { DlpPolicy } from './policy.js';

/**
 * Masks what the detectors find in a text body, per the policy and the caller's scopes. Linear in
 * the length of `text`; never throws (an unexpected failure blocks, `blockedBy: 'error'`). When
 * blocked, `value` is `''`.
 *
 * @example
 * const r = maskText('name,card\nAda,4111 1111 1111 1111\n', policy, new Set());
 * // r.value === 'name,card\nAda,**** **** **** 1111\n', r.masked === { 'detected:card-number': 1 }
 */
export function maskText(text: string, policy: DlpPolicy, scopes: ReadonlySet<string>): MaskResult & { value: string } {
  try {
    const m = new Masker(policy, scopes);
    const value = m.scanString(text, undefined);
    if (m.blocked) return { value: '', blocked: true, blockedBy: m.blockedBy ?? 'error', masked: m.masked(), revealed: m.revealed() };
    return { value, blocked: false, masked: m.masked(), revealed: m.revealed() };
  } catch {
    return { value: '', blocked: true, blockedBy: 'error', masked: { error: 1 }, revealed: {} };
  }
}
