/**
 * One masking pass over a response for one caller: walks the value with the classification
 * automaton (src/openapi/classification.ts, as the ledger's capture does), applies the policy's
 * actions for the caller's scopes, runs the detectors on what no class covers, and counts what it
 * did (by class, never values: ASVS 7.1.1, 8.3.5).
 *
 * Order of precedence at each value:
 *   1. `secret` (by class, or by key name per secretNames): redacted (or block), whatever the scopes.
 *   2. Classes of the value and of the values containing it: the strongest action after reveals.
 *      redact and block take the whole value; mask and partial apply to each string or number
 *      below (booleans and nulls stay: they carry no identifier).
 *   3. A value whose classes the policy shows stays as it is: the declaration decided. Except
 *      under `free-text` and `financial` only (text a person typed, amounts may hold anything),
 *      which go on to 4 and 5 like unclassified values.
 *   4. A key name that marks its value (accountNumber, dob, ssn...; key-hints.ts): the kind's
 *      detect action, on the whole string or number.
 *   5. The detectors, on strings (and on integers of 13-19 digits, for card numbers).
 *   Object keys are scanned too (a map keyed by e-mail or SSN); a masked key is renamed in place.
 *
 * Bounds: nesting deeper than MAX_BODY_DEPTH (128, as capture) is replaced by
 * `"[redacted:too-deep]"`, since it cannot be looked at. The value must be a tree (JSON.parse
 * output); a cycle is cut at that depth.
 */
import { type ClassState, step } from '../../openapi/classification.js';
import { MAX_BODY_DEPTH, redactionMarker } from '../../ledger/capture.js';
import { KIND_BIT, SHAPE_KINDS, findSensitive, isValidCardNumber, mayHoldSensitive, type Finding, type KindSet, type TextContext } from './detectors.js';
import { keyInfo, type KeyInfo } from './key-hints.js';
import { transform } from './mask.js';
import type { DlpAction, DlpPolicy } from './policy.js';
import { viewFor, type View } from './view.js';

/** Classes whose values the detectors still look into: text a person typed, amounts. */
function allOpen(classes: readonly string[]): boolean {
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i];
    if (c !== 'free-text' && c !== 'financial') return false;
  }
  return true;
}

const DETECTED = new Map<string, string>();
function detectedKey(kind: string): string {
  let k = DETECTED.get(kind);
  if (k === undefined) DETECTED.set(kind, (k = `detected:${kind}`));
  return k;
}

/**
 * A pass of maskJson / maskText (internal: the exported functions wrap it and never throw).
 *
 * @example
 * const m = new Masker(policy, new Set(['pii:read']));
 * const out = m.visit(JSON.parse(body), undefined, map?.root, undefined, 0);
 * if (m.blocked) refuse(m.blockedBy);
 */
export class Masker {
  blocked = false;
  blockedBy: string | undefined;
  /** A number beyond ±2^53 was seen: JSON.parse may have rounded its literal. */
  lossy = false;
  private counts: Map<string, number> | undefined;
  private reveals: Map<string, number> | undefined;
  private readonly view: View;
  private readonly kindsOn: KindSet;
  private readonly hintsOn: boolean;

  constructor(
    private readonly policy: DlpPolicy,
    scopes: ReadonlySet<string>,
    /** Prefix of strings that stand for number literals kept verbatim (numbers.ts). */
    private readonly numberPrefix: string | undefined = undefined,
  ) {
    this.view = viewFor(policy, scopes);
    this.kindsOn = this.view.kindsOn;
    this.hintsOn = this.view.hintsOn;
  }

  /** Anything was changed (masked, redacted, renamed). */
  get changed(): boolean {
    return this.counts !== undefined;
  }

  masked(): Record<string, number> {
    return toRecord(this.counts);
  }

  revealed(): Record<string, number> {
    return toRecord(this.reveals);
  }

  private count(what: string): void {
    const m = (this.counts ??= new Map());
    m.set(what, (m.get(what) ?? 0) + 1);
  }

  private countReveal(what: string): void {
    const m = (this.reveals ??= new Map());
    m.set(what, (m.get(what) ?? 0) + 1);
  }

  private block(what: string): void {
    if (!this.blocked) {
      this.blocked = true;
      this.blockedBy = what;
    }
    this.count(what);
  }

  private secretKey(k: KeyInfo): boolean {
    const mode = this.policy.secretNames;
    return mode === 'credentials' ? k.credential : mode === 'all' ? k.secret : false;
  }

  /** The text of a scalar for masking: strings as they are, numbers as written. */
  private scalarText(v: unknown): string | undefined {
    if (typeof v === 'string') return this.numberPrefix !== undefined && v.startsWith(this.numberPrefix) ? v.slice(this.numberPrefix.length) : v;
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
    if (typeof v === 'bigint') return v.toString();
    return undefined;
  }

  /** Applies a non-none action of class `cls` (counted as `label`) to a whole value. */
  private applyWhole(v: unknown, action: DlpAction, cls: string, label: string): unknown {
    if (action === 'block') {
      this.block(label);
      return v;
    }
    if (action === 'redact') {
      this.count(label);
      return redactionMarker(cls);
    }
    const text = this.scalarText(v);
    if (text === undefined) return v; // booleans: nothing identifying to mask
    this.count(label);
    return transform(action, cls, text);
  }

  /**
   * Looks at one value; returns its replacement, or `value` itself (objects are changed in place).
   * `key` describes the key holding it (undefined for array items and the root); `inherited` are
   * the classes of the values containing it.
   */
  visit(value: unknown, key: KeyInfo | undefined, state: ClassState | undefined, inherited: readonly string[] | undefined, depth: number): unknown {
    if (value === null || value === undefined || this.blocked) return value;
    if (typeof value === 'number' && (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER)) this.lossy = true;
    if (state?.secret || (key !== undefined && this.secretKey(key))) return this.applyWhole(value, this.view.secretAction, 'secret', 'secret');
    let classes = inherited;
    if (state !== undefined && state.classes.length > 0) {
      const own = this.view.stateInfo(state);
      for (let i = 0; i < own.revealed.length; i++) this.countReveal(own.revealed[i]!);
      classes = inherited === undefined ? state.classes : [...state.classes, ...inherited];
    }
    if (classes !== undefined) {
      const { action, cls } = classes === state?.classes ? this.view.stateInfo(state) : this.view.strongest(classes);
      // redact and block take the value whole; mask and partial reach the scalars below through `classes`.
      if (action === 'block' || action === 'redact' || (action !== 'none' && typeof value !== 'object')) return this.applyWhole(value, action, cls, cls);
    }
    if (typeof value !== 'object') {
      const literal = typeof value === 'string' && this.numberPrefix !== undefined && value.startsWith(this.numberPrefix) ? value.slice(this.numberPrefix.length) : undefined;
      if (literal !== undefined) this.lossy = true;
      // A declared class that the policy shows decides, except free text and amounts, which may hold anything.
      if (classes !== undefined && !allOpen(classes)) return value;
      if (key?.hint !== undefined && this.hintsOn && typeof value !== 'boolean') {
        const e = this.view.kindEff.get(key.hint);
        if (e) {
          if (!e.revealed) return this.applyWhole(value, e.action, key.hint, detectedKey(key.hint));
          this.countReveal(detectedKey(key.hint));
          return value;
        }
      }
      if (literal !== undefined) return this.scanInteger(literal, value);
      if (typeof value === 'string') return this.scanString(value, key?.ctx);
      if (typeof value === 'number') return value >= 1e12 && value < 1e20 && Number.isInteger(value) ? this.scanInteger(String(value), value) : value;
      if (typeof value === 'bigint') return this.scanInteger(value.toString(), value);
      return value;
    }
    if (depth >= MAX_BODY_DEPTH) {
      this.count('too-deep');
      return redactionMarker('too-deep');
    }
    if (Array.isArray(value)) {
      const plain = state === undefined || state.named.size === 0;
      const itemState = state?.any;
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        if (v === null || typeof v === 'boolean') continue;
        const s = plain ? itemState : step(state, String(i));
        if (s === undefined && classes === undefined && ((typeof v === 'string' && !mayHoldSensitive(v)) || (typeof v === 'number' && v < 1e12 && v > -1e12))) continue;
        const r = this.visit(v, undefined, s, classes, depth + 1);
        if (r !== v) value[i] = r;
        if (this.blocked) return value;
      }
      return value;
    }
    const obj = value as Record<string, unknown>;
    let renames: [string, string][] | undefined;
    for (const k in obj) {
      const v = obj[k];
      const s = state === undefined ? undefined : step(state, k);
      const ki = keyInfo(k);
      if (ki.scan && this.kindsOn !== 0) {
        const nk = this.scanString(k, undefined);
        if (nk !== k) (renames ??= []).push([k, nk]);
        if (this.blocked) return value;
      }
      // The common case inline: an unremarkable string or boolean under an ordinary name.
      if (s === undefined && classes === undefined && !ki.notable && (v === null || typeof v === 'boolean' || (typeof v === 'number' && v < 1e12 && v > -1e12) || (typeof v === 'string' && !mayHoldSensitive(v)))) continue;
      const r = this.visit(v, ki, s, classes, depth + 1);
      if (r !== v) setOwn(obj, k, r);
      if (this.blocked) return value;
    }
    if (renames !== undefined) renameKeys(obj, renames);
    return value;
  }

  /** An integer (as its literal) that may be a card number; `original` is returned when it is not. */
  private scanInteger(literal: string, original: unknown): unknown {
    if ((this.kindsOn & KIND_BIT['card-number']) === 0) return original;
    const digits = literal.startsWith('-') ? literal.slice(1) : literal;
    if (digits.length < 13 || digits.length > 19 || !/^[0-9]+$/.test(digits) || !isValidCardNumber(digits)) return original;
    const e = this.view.kindEff.get('card-number');
    if (!e) return original;
    if (e.revealed) {
      this.countReveal(detectedKey('card-number'));
      return original;
    }
    return this.applyWhole(literal, e.action, 'card-number', detectedKey('card-number'));
  }

  /** Runs the detectors over `text` and rewrites what they find. */
  scanString(text: string, ctx: TextContext | undefined): string {
    const kinds = this.kindsOn & SHAPE_KINDS;
    if (kinds === 0) return text;
    const found = findSensitive(text, kinds, ctx);
    if (found.length === 0) return text;
    return this.rewrite(text, found);
  }

  private rewrite(text: string, found: readonly Finding[]): string {
    let out = '';
    let last = 0;
    for (const f of found) {
      const e = this.view.kindEff.get(f.kind);
      if (!e) continue;
      const label = detectedKey(f.kind);
      if (e.revealed) {
        this.countReveal(label);
        continue;
      }
      if (e.action === 'block') {
        this.block(label);
        return text;
      }
      const sub = text.slice(f.start, f.end);
      const rep = e.action === 'redact' ? redactionMarker(f.kind) : transform(e.action, f.kind, sub);
      this.count(label);
      out += text.slice(last, f.start) + rep;
      last = f.end;
    }
    return last === 0 ? text : out + text.slice(last);
  }
}

/** Counts as a plain object (`__proto__` as an own property, should a class be named so). */
function toRecord(m: Map<string, number> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (m !== undefined) for (const [k, v] of m) setOwn(out, k, v);
  return out;
}

/** JSON.parse makes `__proto__` an own data property; keep it one. */
function setOwn<T>(obj: Record<string, T>, k: string, v: T): void {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true });
  else obj[k] = v;
}

/** Renames keys in place, keeping their order; a name already taken gets ` #2`, ` #3`... */
function renameKeys(obj: Record<string, unknown>, renames: readonly [string, string][]): void {
  const to = new Map(renames);
  const entries = Object.keys(obj).map((k) => [k, obj[k]] as const);
  const kept = new Set(entries.filter(([k]) => !to.has(k)).map(([k]) => k));
  for (const [k] of entries) delete obj[k];
  const taken = new Set<string>();
  for (const [k, v] of entries) {
    let name = to.get(k);
    if (name === undefined) name = k;
    else if (taken.has(name) || kept.has(name)) {
      let i = 2;
      while (taken.has(`${name} #${i}`) || kept.has(`${name} #${i}`)) i++;
      name = `${name} #${i}`;
    }
    taken.add(name);
    setOwn(obj, name, v);
  }
}
