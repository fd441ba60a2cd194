/**
 * Number literals that JSON.parse would round (16+ digits: 19-digit card or account numbers,
 * snowflake ids). The ledger's body capture (src/ledger/capture.ts) and DLP's maskJsonText
 * (src/threat/dlp/mask-json.ts) protect them when a body has any, so that a card number sent as a
 * JSON number is checked on its real digits and every untouched literal is kept verbatim:
 * literals become marked strings before parsing, and unmarked after serialising.
 */
import { randomBytes } from 'node:crypto';

/** A prefix no JSON text sent by an upstream can guess (private-use character + 48 random bits). */
export function newNumberPrefix(): string {
  return `\ue000${randomBytes(6).toString('hex')}:`;
}

/**
 * Rewrites number literals with 16+ mantissa digits, outside strings, as `"<prefix><literal>"`.
 * Returns undefined when there is none. The text may be invalid JSON; JSON.parse decides.
 *
 * @example
 * protectNumbers('{"n":12345678901234567890}', 'P:'); // '{"n":"P:12345678901234567890"}'
 */
export function protectNumbers(text: string, prefix: string): string | undefined {
  let out = '';
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // Skip a string: up to the next quote not escaped by an odd run of backslashes.
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) return last === 0 ? undefined : out + text.slice(last);
        let b = q - 1;
        while (b > i && text.charCodeAt(b) === 92) b--;
        if ((q - 1 - b) % 2 === 0) {
          i = q + 1;
          break;
        }
        j = q + 1;
      }
      continue;
    }
    if (c === 45 || (c >= 48 && c <= 57)) {
      let j = i;
      let digits = 0;
      let mantissa = true;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d >= 48 && d <= 57) {
          if (mantissa) digits++;
        } else if (d === 101 || d === 69) mantissa = false;
        else if (d !== 45 && d !== 43 && d !== 46) break;
      }
      if (digits >= 16) {
        out += text.slice(last, i) + '"' + prefix + text.slice(i, j) + '"';
        last = j;
      }
      i = j;
      continue;
    }
    i++;
  }
  return last === 0 ? undefined : out + text.slice(last);
}

/**
 * Undoes protectNumbers on serialised JSON: marked strings left untouched become literals again.
 *
 * @example
 * restoreNumbers('{"n":"P:12345678901234567890"}', 'P:'); // '{"n":12345678901234567890}'
 */
export function restoreNumbers(text: string, prefix: string): string {
  // eslint-disable-next-line security/detect-non-literal-regexp -- prefix comes from newNumberPrefix (generated here, not from input) and every regex metacharacter in it is escaped
  const re = new RegExp(`"${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([-+.eE0-9]+)"`, 'g');
  return text.replace(re, '$1');
}
