/**
 * DLP on JSON responses: what the client may see of an upstream's answer, per the data's
 * classification and the caller's scopes (API3 BOPLA: excessive data exposure; FC-3; ASVS 8.3.x).
 *
 * "Without buffering everything twice": maskJson mutates the parsed value in place (nothing is
 * copied; only changed values are replaced), and maskJsonText returns the upstream's text itself
 * when nothing had to change, so the common case costs one JSON.parse and one walk, and no
 * JSON.stringify. The walk dismisses ordinary strings by a character count (detectors.ts) and
 * costs one Map lookup per key of a classified body.
 *
 * Fail closed: anything unexpected while masking blocks the response (`blockedBy: 'error'`);
 * a JSON body that does not parse is blocked (`blockedBy: 'invalid-json'`), since its classified
 * fields cannot be found.
 */
import type { ClassificationMap } from '../../openapi/classification.js';
import { Masker } from './masker.js';
import { newNumberPrefix, protectNumbers, restoreNumbers } from '../../core/json-numbers.js';
import type { DlpPolicy } from './policy.js';

export interface MaskResult {
  /**
   * The value to serialise for the client. maskJson changes the value it is given in place and
   * returns it (or a replacement when the root itself was a masked scalar). Undefined when blocked.
   */
  value: unknown;
  /** True when a `block` action fired (or masking failed): the response must not be sent. */
  blocked: boolean;
  /** What blocked: a class (`ssn`), a detector (`detected:card-number`), `secret`, `invalid-json` or `error`. */
  blockedBy?: string;
  /**
   * Counts by class (`ssn`), detector (`detected:ssn`), `secret` and `too-deep` of what was
   * masked, redacted or blocked (for the ledger and metrics; never the values).
   */
  masked: Record<string, number>;
  /** Counts of values shown in full because the caller holds a reveal scope (ASVS 8.3.5: audit access to sensitive data). */
  revealed: Record<string, number>;
}

function blockedResult(by: string, m?: Masker): MaskResult {
  const masked = m ? m.masked() : {};
  if (!m) masked[by] = 1;
  return { value: undefined, blocked: true, blockedBy: by, masked, revealed: m ? m.revealed() : {} };
}

function run(value: unknown, map: ClassificationMap | undefined, policy: DlpPolicy, scopes: ReadonlySet<string>, prefix: string | undefined): { masker: Masker; value: unknown } {
  const masker = new Masker(policy, scopes, prefix);
  const out = masker.visit(value, undefined, map?.root, undefined, 0);
  return { masker, value: out };
}

/**
 * Masks a parsed JSON response for a caller: classified values per the policy and the caller's
 * scopes, then the detectors on the rest. Changes `value` in place. Never throws: an unexpected
 * failure blocks. Integers beyond 2^53 have already been rounded by JSON.parse; use maskJsonText
 * when the body may carry them.
 *
 * @example
 * const policy = compileDlpPolicy(undefined);
 * const r = maskJson(JSON.parse(body), op.classifications.responses.get('200'), policy, new Set(['accounts:read']));
 * if (r.blocked) return refuse(); // the response must not be sent
 * res.end(JSON.stringify(r.value));
 */
export function maskJson(value: unknown, map: ClassificationMap | undefined, policy: DlpPolicy, scopes: ReadonlySet<string>): MaskResult {
  try {
    const { masker, value: out } = run(value, map, policy, scopes, undefined);
    if (masker.blocked) return blockedResult(masker.blockedBy ?? 'error', masker);
    return { value: out, blocked: false, masked: masker.masked(), revealed: masker.revealed() };
  } catch {
    return blockedResult('error');
  }
}

/**
 * maskJson from and to text: parses `text` once, masks, and serialises only when something
 * changed (otherwise `value` is `text` itself, byte for byte). Number literals of 16+ digits are
 * checked on their real digits and written back verbatim. `changed` says whether `value` differs
 * from `text`. An empty (or all-whitespace) body passes unchanged; JSON that does not parse is
 * blocked (`invalid-json`). Never throws.
 *
 * @example
 * const r = maskJsonText('{"ssn":"123-45-6789","n":1}', map, policy, new Set());
 * // r.value === '{"ssn":"***-**-6789","n":1}', r.changed === true, r.masked === { ssn: 1 }
 */
export function maskJsonText(text: string, map: ClassificationMap | undefined, policy: DlpPolicy, scopes: ReadonlySet<string>): MaskResult & { value: string; changed: boolean } {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // An empty body has nothing to hide (a 204, a HEAD): it passes as it is.
  if (src.length === 0 || (src.charCodeAt(0) <= 32 && src.trim() === '')) return { value: text, changed: false, blocked: false, masked: {}, revealed: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(src);
  } catch {
    return { ...blockedResult('invalid-json'), value: '', changed: false };
  }
  try {
    let { masker, value } = run(parsed, map, policy, scopes, undefined);
    let prefix: string | undefined;
    if (masker.lossy) {
      // JSON.parse rounded some literal: look again at the real digits, and keep them verbatim.
      prefix = newNumberPrefix();
      const protectedText = protectNumbers(src, prefix);
      if (protectedText !== undefined) ({ masker, value } = run(JSON.parse(protectedText), map, policy, scopes, prefix));
      else prefix = undefined;
    }
    if (masker.blocked) return { ...blockedResult(masker.blockedBy ?? 'error', masker), value: '', changed: false };
    if (!masker.changed) return { value: text, changed: false, blocked: false, masked: {}, revealed: masker.revealed() };
    let out = JSON.stringify(value);
    if (prefix !== undefined) out = restoreNumbers(out, prefix);
    return { value: out, changed: true, blocked: false, masked: masker.masked(), revealed: masker.revealed() };
  } catch {
    return { ...blockedResult('error'), value: '', changed: false };
  }
}
