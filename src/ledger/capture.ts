/**
 * Body capture for the ledger: turns the request or response body of an exchange into what may be
 * stored (the ledger encrypts it apart from the chained record, ENC-5): secrets always redacted,
 * personal fields kept or redacted per policy, the rest capped in size. It also extracts the ids
 * of the data subjects the body is about, so the ledger can answer "whose records were accessed,
 * by whom, between t1 and t2" (RSP-2, RSP-1), and the classes of data it held (ASVS 8.3.5).
 *
 * Guarantees (DESIGN non-negotiable: "Secrets never reach a log, a ledger record or an error; PII
 * only as policy allows"; ASVS 7.1.1):
 * - A JSON or form body is stored only after its fields were looked at: values classified
 *   `secret` and values under secret-looking names (isSecretName) become `"[redacted:secret]"`,
 *   whatever the document or the policy says. The key stays, so the record shows the field existed.
 * - Anything that cannot be looked at is not stored: JSON that does not parse, text that is not
 *   UTF-8, text/* and other bodies unless the policy says `opaque: 'store'` (their secrets cannot
 *   be recognised). Nesting deeper than MAX_BODY_DEPTH is replaced by `"[redacted:too-deep]"`.
 * - Never throws for bad input; throws TypeError (code RAMPART_CAPTURE_POLICY_INVALID) for a
 *   malformed policy (caller misuse).
 *
 * Stored JSON is re-serialised compactly; numbers are written by value (1.50 → 1.5), except
 * literals with 16 or more digits, which are kept verbatim (JSON.parse would round them). A body
 * longer than `maxBytes` after redaction is cut at a UTF-8 boundary and ends with TRUNCATION_MARK
 * (the cut JSON is therefore no longer valid JSON; `truncated` says so too). The full body is
 * committed to elsewhere.
 */
import { isUtf8 } from 'node:buffer';
import { newNumberPrefix, protectNumbers, restoreNumbers } from '../core/json-numbers.js';
import { parseContentType, bodyKind } from '../openapi/media-type.js';
import { escapePointerSegment } from '../openapi/json-strict.js';
import { type ClassificationMap, type ClassState, compareClasses, isSecretName, step } from '../openapi/classification.js';

export interface CapturePolicy {
  /** Cap on what is stored (after redaction), in bytes; 0 = store nothing but the facts. */
  maxBytes: number;
  /** Per classification; absent classes take `defaultPersonal`. `secret` is always 'redact' whatever is configured. */
  personal: Partial<Record<string, 'keep' | 'redact'>>;
  defaultPersonal: 'keep' | 'redact';
  /** Bodies that are neither JSON nor form (text/* included): store raw (capped) or omit. */
  opaque: 'store' | 'omit';
}

export interface CapturedBody {
  /** What to store: UTF-8 text for JSON/form/text (JSON re-serialised after redaction, compact), base64 for opaque bytes; undefined when omitted. */
  stored?: string;
  encoding: 'json' | 'form' | 'text' | 'base64' | 'none';
  /** Stored text was cut at maxBytes (at a UTF-8 boundary; text ends with TRUNCATION_MARK). */
  truncated: boolean;
  /** Pointers that were redacted (at most 100; each at most 512 characters). */
  redacted: string[];
  /** Distinct values of subject-id fields (numbers as written; at most 100, each at most 256 characters). */
  subjects: string[];
  /** Classifications present in the body (with a non-null value), in CLASSIFICATIONS order. */
  classesSeen: string[];
  /** Why nothing (or less) was stored, when that needs saying. */
  note?: string;
}

export interface CaptureInput {
  /** The Content-Type header as received. */
  contentType: string | undefined;
  /** The whole body, decoded from any content coding. */
  body: Buffer;
  /** Classification map of this body's schema (OperationModel.classifications); undefined: names only. */
  map: ClassificationMap | undefined;
  policy: CapturePolicy;
}

/** Appended to stored text that was cut at maxBytes (when it fits). */
export const TRUNCATION_MARK = '\u2026[rampart:truncated]';
const MARK_BYTES = Buffer.byteLength(TRUNCATION_MARK);
/** Same bound as the strict JSON parser's default: legitimate request bodies are never deeper. */
export const MAX_BODY_DEPTH = 128;
const MAX_REDACTED = 100;
const MAX_POINTER = 512;
const MAX_SUBJECTS = 100;
const MAX_SUBJECT_LENGTH = 256;

const SECRET_ONLY: readonly string[] = ['secret'];
const markers = new Map<string, string>();
/**
 * The value that replaces a redacted one.
 *
 * @example
 * redactionMarker('ssn'); // '[redacted:ssn]'
 */
export function redactionMarker(cls: string): string {
  let m = markers.get(cls);
  if (m === undefined) {
    m = `[redacted:${cls}]`;
    if (markers.size < 256) markers.set(cls, m);
  }
  return m;
}

class Walk {
  readonly redacted: string[] = [];
  readonly path: string[] = [];
  subjects: Set<string> | undefined;
  classes: Set<string> | undefined;
  tooDeep = false;
  /** A number beyond ±2^53 was seen: JSON.parse may have rounded its literal. */
  lossy = false;
  constructor(
    readonly policy: CapturePolicy,
    /** Prefix of strings that stand for number literals kept verbatim (see protectNumbers). */
    readonly numberPrefix: string | undefined,
  ) {}

  seen(classes: readonly string[]): void {
    this.classes ??= new Set();
    for (const c of classes) this.classes.add(c);
  }

  /** Notes the current path as redacted. */
  record(): void {
    if (this.redacted.length >= MAX_REDACTED) return;
    let p = '';
    for (const s of this.path) p += '/' + escapePointerSegment(s);
    this.redacted.push(p.length > MAX_POINTER ? p.slice(0, MAX_POINTER - 1) + '\u2026' : p);
  }

  subject(v: unknown): void {
    let s: string;
    if (typeof v === 'string') {
      s = this.numberPrefix !== undefined && v.startsWith(this.numberPrefix) ? v.slice(this.numberPrefix.length) : v;
    } else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
    else return;
    if (s === '') return;
    if (s.length > MAX_SUBJECT_LENGTH) {
      // Cut at a code point boundary; an over-long id stays findable by its prefix.
      const end = (s.charCodeAt(MAX_SUBJECT_LENGTH - 1) & 0xfc00) === 0xd800 ? MAX_SUBJECT_LENGTH - 1 : MAX_SUBJECT_LENGTH;
      s = s.slice(0, end);
    }
    this.subjects ??= new Set();
    if (this.subjects.size < MAX_SUBJECTS) this.subjects.add(s);
  }

  /** The class whose policy redacts the value, if any ('secret' always does). */
  redactingClass(classes: readonly string[]): string | undefined {
    const { personal, defaultPersonal } = this.policy;
    for (const c of classes) {
      if (c === 'secret') return c;
      const p = Object.hasOwn(personal, c) ? personal[c] : undefined;
      if ((p ?? defaultPersonal) === 'redact') return c;
    }
    return undefined;
  }

  /**
   * Looks at one value; returns its replacement, or `value` itself (objects are changed in place).
   * `name` is the key holding it (undefined for array items and the root); `inherited` the classes
   * of the values containing it (they were kept, or it would not be reached).
   */
  visit(value: unknown, name: string | undefined, state: ClassState | undefined, inherited: readonly string[] | undefined, depth: number): unknown {
    if (value === null) return value; // nothing to hide, nothing to extract
    if (typeof value === 'number' && (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER)) this.lossy = true;
    if ((name !== undefined && isSecretName(name)) || state?.secret) {
      this.seen(SECRET_ONLY);
      this.record();
      return redactionMarker('secret');
    }
    let inh = inherited;
    if (state !== undefined && state.classes.length > 0) {
      this.seen(state.classes);
      if (state.subject) this.subjectsBelow(value, depth);
      const cls = this.redactingClass(state.classes);
      if (cls !== undefined) {
        this.record();
        return redactionMarker(cls);
      }
      inh = inh === undefined ? state.classes : [...inh, ...state.classes];
    } else if (inh !== undefined && typeof value !== 'object' && inh.includes('subject-id')) this.subject(value);
    if (typeof value !== 'object') return value;
    if (depth >= MAX_BODY_DEPTH) {
      this.tooDeep = true;
      this.record();
      return redactionMarker('too-deep');
    }
    const path = this.path;
    if (Array.isArray(value)) {
      const plain = state === undefined || state.named.size === 0;
      const itemState = state?.any;
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        const s = plain ? itemState : step(state, String(i));
        // A scalar item with no class on it or above it: nothing to do.
        if (v === null || (typeof v !== 'object' && s === undefined && inh === undefined && typeof v !== 'number')) continue;
        path.push(String(i));
        const r = this.visit(v, undefined, s, inh, depth + 1);
        if (r !== v) value[i] = r;
        path.pop();
      }
      return value;
    }
    const obj = value as Record<string, unknown>;
    for (const k in obj) {
      const v = obj[k];
      const s = state === undefined ? undefined : step(state, k);
      // The common case inline: an unclassified string or boolean under an ordinary name.
      if (s === undefined && inh === undefined && (typeof v === 'string' || typeof v === 'boolean') && !isSecretName(k)) continue;
      path.push(k);
      const r = this.visit(v, k, s, inh, depth + 1);
      if (r !== v) {
        // JSON.parse makes `__proto__` an own data property; keep it one.
        if (k === '__proto__') Object.defineProperty(obj, k, { value: r, writable: true, enumerable: true, configurable: true });
        else obj[k] = r;
      }
      path.pop();
    }
    return value;
  }

  /** subject-id on a value: the value itself, or every scalar below it. */
  private subjectsBelow(value: unknown, depth: number): void {
    if (typeof value !== 'object' || value === null) return this.subject(value);
    if (depth >= MAX_BODY_DEPTH) return;
    for (const v of Array.isArray(value) ? value : Object.values(value)) this.subjectsBelow(v, depth + 1);
  }
}

/**
 * Prepares a body for the ledger: redacts secrets always and personal fields per policy, extracts
 * subject ids, caps the size. Never throws for bad input.
 *
 * @example
 * const c = captureBody({
 *   contentType: 'application/json',
 *   body: Buffer.from('{"id":"cus_1","ssn":"123-45-6789","password":"hunter2"}'),
 *   map: op.classifications.request,
 *   policy: { maxBytes: 65536, personal: { ssn: 'redact' }, defaultPersonal: 'keep', opaque: 'omit' },
 * });
 * // c.stored === '{"id":"cus_1","ssn":"[redacted:ssn]","password":"[redacted:secret]"}'
 * // c.subjects === ['cus_1'] when the map classifies /id as subject-id
 */
export function captureBody(input: CaptureInput): CapturedBody {
  const { contentType, body, map, policy } = input;
  checkPolicy(policy);
  if (body.length === 0) return none(undefined);
  const mt = parseContentType(contentType);
  const kind = mt ? bodyKind(mt) : 'opaque';
  if (kind === 'json' || kind === 'form') {
    if (!isUtf8(body)) return none(`the ${kind === 'json' ? 'JSON' : 'form'} body is not UTF-8: nothing stored (its secrets could not be found)`);
    const text = body.toString('utf8');
    return kind === 'json' ? captureJson(text, map, policy) : captureForm(text, map, policy);
  }
  if (policy.opaque === 'omit') {
    return none(mt?.type === 'text' ? 'text bodies are stored only with opaque: store (secrets in free text cannot be recognised)' : 'opaque bodies are not stored (policy opaque: omit)');
  }
  if (policy.maxBytes === 0) return none('maxBytes is 0: the body is not stored');
  const cs = mt?.params['charset']?.toLowerCase();
  const utf8Charset = cs === undefined || cs === 'utf-8' || cs === 'utf8' || cs === 'us-ascii';
  if (mt?.type === 'text' && utf8Charset && isUtf8(body)) {
    const { text, truncated } = capText(body.toString('utf8'), policy.maxBytes);
    return { stored: text, encoding: 'text', truncated, redacted: [], subjects: [], classesSeen: [] };
  }
  // base64 of n bytes takes 4 * ceil(n / 3) characters.
  const limit = Math.floor(policy.maxBytes / 4) * 3;
  const truncated = body.length > limit;
  if (limit === 0) return none('maxBytes is too small to hold any base64 text');
  return { stored: (truncated ? body.subarray(0, limit) : body).toString('base64'), encoding: 'base64', truncated, redacted: [], subjects: [], classesSeen: [] };
}

function none(note: string | undefined, walk?: Walk): CapturedBody {
  const out: CapturedBody = { encoding: 'none', truncated: false, redacted: walk?.redacted ?? [], subjects: walk ? subjectsOf(walk) : [], classesSeen: walk ? classesOf(walk) : [] };
  if (note !== undefined) out.note = note;
  return out;
}

function subjectsOf(w: Walk): string[] {
  return w.subjects ? [...w.subjects] : [];
}

function classesOf(w: Walk): string[] {
  if (!w.classes) return [];
  return [...w.classes].sort(compareClasses);
}

// ---------------------------------------------------------------------------------------------
// JSON

function captureJson(source: string, map: ClassificationMap | undefined, policy: CapturePolicy): CapturedBody {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return none('the body is not valid JSON: nothing stored (its secrets could not be found)');
  }
  let walk = new Walk(policy, undefined);
  value = walk.visit(value, undefined, map?.root, undefined, 0);
  let prefix: string | undefined;
  if (walk.lossy) {
    // JSON.parse rounds integers beyond 2^53 (snowflake ids, 19-digit account numbers): parse
    // again with literals of 16+ digits turned into marked strings, written back verbatim.
    prefix = newNumberPrefix();
    const protectedText = protectNumbers(text, prefix);
    let reparsed: unknown;
    try {
      reparsed = protectedText === undefined ? undefined : JSON.parse(protectedText);
    } catch {
      reparsed = undefined; // cannot happen for text JSON.parse accepted; keep the rounded values then
    }
    if (reparsed !== undefined) {
      walk = new Walk(policy, prefix);
      value = walk.visit(reparsed, undefined, map?.root, undefined, 0);
    } else prefix = undefined;
  }
  const note = walk.tooDeep ? `values nested deeper than ${MAX_BODY_DEPTH} levels were replaced by [redacted:too-deep]` : undefined;
  if (policy.maxBytes === 0) return none(note ?? 'maxBytes is 0: the body is not stored', walk);
  let out = JSON.stringify(value);
  if (prefix !== undefined) out = restoreNumbers(out, prefix);
  const { text: stored, truncated } = capText(out, policy.maxBytes);
  const r: CapturedBody = { stored, encoding: 'json', truncated, redacted: walk.redacted, subjects: subjectsOf(walk), classesSeen: classesOf(walk) };
  if (note !== undefined) r.note = note;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Forms (application/x-www-form-urlencoded)

function decodeFormPart(s: string): string | undefined {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** `a[b][c]` and `a.b` name nested fields (deepObject style); each segment is checked. */
function formSegments(key: string): string[] {
  if (key.indexOf('[') === -1 && key.indexOf('.') === -1) return [key];
  return key.split(/[[\].]+/).filter((s) => s !== '');
}

function captureForm(text: string, map: ClassificationMap | undefined, policy: CapturePolicy): CapturedBody {
  const walk = new Walk(policy, undefined);
  const pairs = text.split('&');
  let changed = false;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const key = decodeFormPart(rawKey);
    walk.path.length = 0;
    walk.path.push(key ?? rawKey);
    // An undecodable name cannot be checked: treat it as a secret.
    let secret = key === undefined || isSecretName(key);
    const root = map?.root;
    const inherited: string[] = [...(root?.classes ?? [])];
    let state = key === undefined ? undefined : step(root, key);
    if (state) inherited.push(...state.classes);
    const segs = key === undefined ? [] : formSegments(key);
    if (segs.length > 1) {
      // `user[pin]`: each part is checked; a name the schema does not know as a whole is stepped through.
      let nested = state === undefined ? root : undefined;
      for (const seg of segs) {
        if (isSecretName(seg)) secret = true;
        if (nested === undefined) continue;
        nested = step(nested, seg);
        if (nested) inherited.push(...nested.classes);
      }
      state ??= nested;
    }
    // An exploded array (`id=1&id=2`) repeats the key: its items' classes apply as well.
    const item = state?.any;
    if (item) inherited.push(...item.classes);
    if (secret || (item?.secret ?? false) || inherited.includes('secret')) {
      walk.seen(SECRET_ONLY);
      walk.record();
      pairs[i] = `${rawKey}=${redactionMarker('secret')}`;
      changed = true;
      continue;
    }
    const value = decodeFormPart(rawValue);
    if (inherited.length > 0) {
      walk.seen(inherited);
      if (inherited.includes('subject-id') && value !== undefined) walk.subject(value);
      const cls = walk.redactingClass([...new Set(inherited)]);
      if (cls !== undefined) {
        walk.record();
        pairs[i] = `${rawKey}=${redactionMarker(cls)}`;
        changed = true;
        continue;
      }
    }
    // A JSON-encoded field (OpenAPI encoding contentType application/json) is looked into too.
    if (value !== undefined && (value.startsWith('{') || value.startsWith('['))) {
      let inner: unknown;
      try {
        inner = JSON.parse(value);
      } catch {
        continue;
      }
      const before = walk.redacted.length;
      const tooDeep = walk.tooDeep;
      const r = walk.visit(inner, undefined, state, inherited.length > 0 ? inherited : undefined, 1);
      if (walk.redacted.length !== before || walk.tooDeep !== tooDeep) {
        pairs[i] = `${rawKey}=${encodeURIComponent(JSON.stringify(r))}`;
        changed = true;
      }
    }
  }
  if (policy.maxBytes === 0) return none('maxBytes is 0: the body is not stored', walk);
  const { text: stored, truncated } = capText(changed ? pairs.join('&') : text, policy.maxBytes);
  return { stored, encoding: 'form', truncated, redacted: walk.redacted, subjects: subjectsOf(walk), classesSeen: classesOf(walk) };
}

// ---------------------------------------------------------------------------------------------

/** Cuts `text` to at most `maxBytes` UTF-8 bytes at a character boundary, marking the cut. */
function capText(text: string, maxBytes: number): { text: string; truncated: boolean } {
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short texts need no measuring.
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return { text, truncated: false };
  const buf = Buffer.from(text, 'utf8');
  const mark = maxBytes >= MARK_BYTES * 2;
  let cut = mark ? maxBytes - MARK_BYTES : maxBytes;
  // Back off to the start of a character (continuation bytes are 10xxxxxx).
  while (cut > 0 && (buf[cut]! & 0xc0) === 0x80) cut--;
  return { text: buf.toString('utf8', 0, cut) + (mark ? TRUNCATION_MARK : ''), truncated: true };
}

function checkPolicy(p: CapturePolicy): void {
  if (
    typeof p !== 'object' ||
    p === null ||
    !Number.isSafeInteger(p.maxBytes) ||
    p.maxBytes < 0 ||
    (p.defaultPersonal !== 'keep' && p.defaultPersonal !== 'redact') ||
    (p.opaque !== 'store' && p.opaque !== 'omit') ||
    typeof p.personal !== 'object' ||
    p.personal === null
  ) {
    const e = new TypeError('captureBody: policy must have maxBytes (a non-negative integer), personal (an object), defaultPersonal (keep|redact) and opaque (store|omit)');
    (e as TypeError & { code: string }).code = 'RAMPART_CAPTURE_POLICY_INVALID';
    throw e;
  }
}
