/**
 * Strict JSON for request bodies and JSON API documents: "one parse, one truth" (DESIGN,
 * non-negotiables). RFC 8259 §4 only says names SHOULD be unique, and parsers disagree on which
 * duplicate wins (JSON.parse keeps the last, many Java and Go decoders the first), so a body with
 * `{"amount":1,"amount":1000}` could be validated here and acted on differently upstream. We
 * refuse it. We also refuse the key `__proto__` at any depth: JSON.parse makes it an own property,
 * but the first `Object.assign` or naive merge downstream turns it into prototype pollution.
 *
 * Speed: V8's JSON.parse does the syntax check and builds the value; then a key scanner walks the
 * (now known valid) text once, jumping over string contents with indexOf, and checks keys per
 * object. Only a failing JSON.parse takes the slow path, a small validating scanner that finds
 * the offset of the first error, because V8's own message quotes the input (it must never reach
 * a client) and gives no line.
 */

export type StrictJsonErrorKind = 'syntax' | 'duplicate-key' | 'forbidden-key' | 'too-deep';

export interface StrictJsonError {
  kind: StrictJsonErrorKind;
  /** JSON pointer of the object holding the offending key (or of the too-deep value); '' for syntax errors. */
  pointer: string;
  /** The offending key for duplicate-key/forbidden-key, unescaped; caller decides how to show it. */
  key?: string;
  /** UTF-16 offset in the text where the problem was found. */
  offset: number;
  /** Says what was expected; never quotes the input. */
  message: string;
}

export type StrictJsonResult = { ok: true; value: unknown } | { ok: false; error: StrictJsonError };

export interface StrictJsonOptions {
  /** Largest nesting of objects and arrays; deeper input is refused (bounds recursion downstream). */
  maxDepth?: number;
}

/** Nesting beyond this is refused; validators and inspectors recurse over the value. */
export const DEFAULT_MAX_DEPTH = 128;

const FORBIDDEN_KEY = '__proto__';
/** Objects with more keys than this switch from a linear scan to a Set. */
const LINEAR_LIMIT = 12;

/**
 * Parses `text` as JSON, refusing duplicate keys, `__proto__` keys and nesting deeper than
 * `maxDepth`. Never throws for bad input.
 *
 * @example
 * const r = parseStrictJson('{"a":1,"a":2}');
 * // r.ok === false, r.error.kind === 'duplicate-key', r.error.pointer === ''
 */
export function parseStrictJson(text: string, options: StrictJsonOptions = {}): StrictJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const offset = findSyntaxError(text);
    return { ok: false, error: { kind: 'syntax', pointer: '', offset, message: 'must be valid JSON' } };
  }
  // A scalar document has no keys and no nesting: nothing more to check.
  if (value === null || typeof value !== 'object') return { ok: true, value };
  const error = scanKeys(text, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  // Drop the keys of this document from the reused per-depth state (no retention across calls).
  lastKeys.length = 0;
  for (let d = 0; d <= usedDepth && d < seenKeys.length; d++) {
    const seen = seenKeys[d];
    if (seen) seen.length = 0;
    seenSets[d] = null;
  }
  return error ? { ok: false, error } : { ok: true, value };
}

// Per-depth state, reused across calls (the scanner is synchronous and not re-entrant).
let kinds: Uint8Array = new Uint8Array(64); // 1 object, 2 array
let indexes: Int32Array = new Int32Array(64);
const lastKeys: string[] = [];
const seenKeys: string[][] = [];
const seenSets: (Set<string> | null)[] = [];
/** Deepest level the last scan reached (what must be cleared afterwards). */
let usedDepth = -1;

function grow(depth: number): void {
  if (depth < kinds.length) return;
  const k = new Uint8Array(kinds.length * 2);
  k.set(kinds);
  kinds = k;
  const ix = new Int32Array(indexes.length * 2);
  ix.set(indexes);
  indexes = ix;
}

/**
 * Walks text that JSON.parse accepted and checks object keys. Because the syntax is known to be
 * valid, a string directly after '{' or ',' inside an object is a key, and anything that is not a
 * quote or a bracket can be skipped.
 */
function scanKeys(s: string, maxDepth: number): StrictJsonError | null {
  let depth = -1;
  usedDepth = -1;
  let expectKey = false;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 /* " */) {
      const start = i + 1;
      let j = start;
      let escaped = false;
      for (;;) {
        j = s.indexOf('"', j);
        // A quote preceded by an odd run of backslashes is escaped and does not end the string.
        let k = j - 1;
        while (s.charCodeAt(k) === 92) k--;
        if (((j - 1 - k) & 1) === 0) break;
        escaped = true;
        j++;
      }
      if (expectKey) {
        expectKey = false;
        let key = s.slice(start, j);
        if (escaped || key.indexOf('\\') !== -1) key = JSON.parse(s.slice(start - 1, j + 1)) as string;
        if (key === FORBIDDEN_KEY) {
          return { kind: 'forbidden-key', pointer: pointerAt(depth), key, offset: start - 1, message: 'forbidden key' };
        }
        const set = seenSets[depth];
        let dup: boolean;
        if (set) {
          dup = set.has(key);
          set.add(key);
        } else {
          const seen = seenKeys[depth]!;
          dup = seen.includes(key);
          seen.push(key);
          if (seen.length > LINEAR_LIMIT) seenSets[depth] = new Set(seen);
        }
        if (dup) {
          return { kind: 'duplicate-key', pointer: pointerAt(depth), key, offset: start - 1, message: 'must not repeat a key' };
        }
        lastKeys[depth] = key;
      }
      i = j;
      continue;
    }
    if (c === 123 /* { */ || c === 91 /* [ */) {
      depth++;
      if (depth > usedDepth) usedDepth = depth;
      if (depth >= maxDepth) {
        return { kind: 'too-deep', pointer: pointerAt(depth), offset: i, message: `must not nest deeper than ${maxDepth} levels` };
      }
      grow(depth);
      if (c === 123) {
        kinds[depth] = 1;
        expectKey = true;
        const seen = seenKeys[depth];
        if (seen) seen.length = 0;
        else seenKeys[depth] = [];
        seenSets[depth] = null;
      } else {
        kinds[depth] = 2;
        indexes[depth] = 0;
      }
      continue;
    }
    if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
      expectKey = false;
      continue;
    }
    if (c === 44 /* , */) {
      if (kinds[depth] === 1) expectKey = true;
      else indexes[depth]!++;
    }
  }
  return null;
}

/** Pointer of the container at `depth` (the one currently open there). */
function pointerAt(depth: number): string {
  let p = '';
  for (let d = 0; d < depth; d++) {
    p += '/' + (kinds[d] === 1 ? escapePointerSegment(lastKeys[d] ?? '') : String(indexes[d]));
  }
  return p;
}

/** RFC 6901 §3: '~' → '~0', '/' → '~1'. */
export function escapePointerSegment(s: string): string {
  if (s.indexOf('~') === -1 && s.indexOf('/') === -1) return s;
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Offset of the first RFC 8259 syntax error in `s` (s.length when the text ends too early).
 * Only used after JSON.parse refused the text, to say where; iterative so that deep input cannot
 * overflow the stack.
 */
export function findSyntaxError(s: string): number {
  const n = s.length;
  let i = 0;
  // Stack of open containers: 1 object, 2 array.
  const stack: number[] = [];
  const ws = (): void => {
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const str = (): boolean => {
    // at '"'
    i++;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 34) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 92) {
        const e = s.charCodeAt(i + 1);
        if (e === 117 /* u */) {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
            i += 2;
            return false;
          }
          i += 6;
          continue;
        }
        if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
          i += 2;
          continue;
        }
        i++;
        return false;
      }
      i++;
    }
    return false;
  };
  // eslint-disable-next-line security/detect-unsafe-regex -- linear: sticky, one start; `[0-9]*`, `\.[0-9]+` and `[eE][+-]?[0-9]+` are separated by '.' and 'e', which the digit runs cannot match
  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const value = (): boolean => {
    const c = s.charCodeAt(i);
    if (c === 34) return str();
    if (c === 123 || c === 91) return true; // caller opens the container
    if (s.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (s.startsWith('false', i)) {
      i += 5;
      return true;
    }
    if (s.startsWith('null', i)) {
      i += 4;
      return true;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(s);
    if (!m || m[0].length === 0 || m[0] === '-') return false;
    i += m[0].length;
    return true;
  };
  ws();
  if (i >= n) return n;
  // state: expecting a value
  for (;;) {
    ws();
    if (i >= n) return n;
    const c = s.charCodeAt(i);
    if (c === 123) {
      stack.push(1);
      i++;
      ws();
      if (s.charCodeAt(i) === 125) {
        i++;
        stack.pop();
      } else {
        if (s.charCodeAt(i) !== 34 || !str()) return Math.min(i, n);
        ws();
        if (s.charCodeAt(i) !== 58) return Math.min(i, n);
        i++;
        continue;
      }
    } else if (c === 91) {
      stack.push(2);
      i++;
      ws();
      if (s.charCodeAt(i) === 93) {
        i++;
        stack.pop();
      } else continue;
    } else if (!value()) {
      return Math.min(i, n);
    }
    // after a value: close containers or take the next member
    for (;;) {
      ws();
      if (stack.length === 0) return i < n ? i : -1;
      if (i >= n) return n;
      const d = s.charCodeAt(i);
      const top = stack[stack.length - 1];
      if (d === 44) {
        i++;
        if (top === 1) {
          ws();
          if (s.charCodeAt(i) !== 34 || !str()) return Math.min(i, n);
          ws();
          if (s.charCodeAt(i) !== 58) return Math.min(i, n);
          i++;
        }
        break;
      }
      if ((top === 1 && d === 125) || (top === 2 && d === 93)) {
        i++;
        stack.pop();
        continue;
      }
      return i;
    }
  }
}

/** 1-based line and column of a UTF-16 offset, for messages that point into a file. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lastNl = -1;
  const end = Math.min(offset, text.length);
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++;
    lastNl = i;
  }
  return { line, column: end - lastNl };
}
