/**
 * Canonical JSON for hashing, in the manner of RFC 8785 (JCS): object members sorted by their
 * UTF-16 code units, no whitespace, strings and numbers serialised exactly as ECMAScript's
 * JSON.stringify does (which is what JCS prescribes for both). Members whose value is
 * `undefined` are omitted, as JSON.stringify omits them.
 *
 * Stricter than JSON.stringify where silence would change what gets hashed: NaN, ±Infinity,
 * bigint, functions, symbols, `undefined` inside an array, and objects that are not plain
 * (Date, Map, Buffer, class instances) throw a TypeError instead of turning into `null` or `{}`.
 *
 * It runs twice per request (decision and completion records), so it is a single recursive pass
 * that builds one string, with no intermediate copies of the input.
 *
 * @example
 * canonicalize({ b: 1, a: [true, null, 'x'], c: undefined }) // '{"a":[true,null,"x"],"b":1}'
 */
export function canonicalize(value: unknown): string {
  return write(value, 0);
}

/** Deep enough for any record; a cycle or a hostile input ends with a TypeError, not a stack overflow. */
const MAX_DEPTH = 32;

// The characters JSON.stringify escapes (quote, backslash, controls) and surrogates, which it
// escapes when unpaired. Most strings contain none and are quoted directly, which is faster.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

function write(v: unknown, depth: number): string {
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`canonical JSON: ${v} is not a finite number`);
      // Number#toString as JCS requires (what JSON.stringify writes for a finite number; -0 is "0").
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      if (v === null) return 'null';
      if (depth >= MAX_DEPTH) throw new TypeError('canonical JSON: nested too deeply (or cyclic)');
      if (Array.isArray(v)) return writeArray(v, depth + 1);
      return writeObject(v as Record<string, unknown>, depth + 1);
    default:
      throw new TypeError(`canonical JSON: a ${typeof v} cannot be serialised`);
  }
}

function writeArray(a: readonly unknown[], depth: number): string {
  let out = '[';
  for (let i = 0; i < a.length; i++) {
    const item = a[i];
    if (item === undefined) throw new TypeError('canonical JSON: undefined inside an array');
    if (i > 0) out += ',';
    out += write(item, depth);
  }
  return `${out}]`;
}

function writeObject(o: Record<string, unknown>, depth: number): string {
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError('canonical JSON: only plain objects can be serialised');
  }
  // Array#sort without a comparator orders strings by UTF-16 code units, exactly as JCS §3.2.3.
  // Objects built in key order (the ledger's own) skip the sort.
  const keys = Object.keys(o);
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      keys.sort();
      break;
    }
  }
  let out = '{';
  let first = true;
  for (const k of keys) {
    const item = o[k];
    if (item === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += quote(k);
    out += ':';
    out += write(item, depth);
  }
  return `${out}}`;
}
