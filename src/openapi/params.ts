/**
 * Parameters as OpenAPI serialises them: `style` and `explode` per location (OpenAPI 3.1
 * §4.8.12.4 "Style Values", §4.8.12.5 "Style Examples"; RFC 6570 for the underlying forms), and
 * coercion of the resulting strings to the types the schema asks for (query strings carry only text).
 *
 * "One parse, one truth" (DESIGN): a scalar parameter given twice is refused
 * (RAMPART_DUPLICATE_PARAMETER) because frameworks disagree on which copy wins (HTTP parameter
 * pollution); repeated values are fine only where the document declares an exploded array.
 * Query names the document does not declare are allowed, but they too may appear only once: the
 * gateway cannot know how the upstream reads them.
 *
 * Every function here returns a failure value instead of throwing, and no message repeats the
 * offending value.
 */
import { type Json, type JsonObject, isObject, getAt, localRefPointer } from './resolve-refs.js';
import { escapePointerSegment } from './json-strict.js';

export type ParamLocation = 'path' | 'query' | 'header' | 'cookie';

export interface Failure {
  code: 'RAMPART_VALIDATION_FAILED' | 'RAMPART_DUPLICATE_PARAMETER' | 'RAMPART_MALFORMED_JSON' | 'RAMPART_DUPLICATE_JSON_KEY';
  pointer: string;
  message: string;
}

/**
 * What the schema says about the JSON types of a value, enough to parse and coerce strings.
 * Nested levels are computed on demand and remembered: a body schema may reach a large part of a
 * document through references, and forms only ever look a few levels down.
 */
export interface TypeInfo {
  /** Allowed JSON types; empty when the schema does not say (then strings stay strings). */
  readonly types: ReadonlySet<string>;
  /** Type information for array items. */
  items(): TypeInfo;
  /** For a property name: its declared schema's info, else additionalProperties', else undefined. */
  property(name: string): TypeInfo | undefined;
  /** Declared property names. */
  propertyNames(): string[];
}

const NO_TYPES: ReadonlySet<string> = new Set();
const ANY: TypeInfo = { types: NO_TYPES, items: () => ANY, property: () => ANY, propertyNames: () => [] };

/** Reads type information from normalised schemas (following refs and combinations). */
export function typeInfo(doc: JsonObject, schema: Json | undefined): TypeInfo {
  return infoOf(doc, schema === undefined ? [] : [schema]);
}

function infoOf(doc: JsonObject, schemas: Json[]): TypeInfo {
  // The schema objects that apply at this level: the schemas, their ref targets and members.
  const parts: JsonObject[] = [];
  const seen = new Set<object>();
  const collect = (s: Json | undefined, depth: number): void => {
    if (!isObject(s) || seen.has(s) || depth > 16) return;
    seen.add(s);
    parts.push(s);
    if (typeof s['$ref'] === 'string') {
      const p = localRefPointer(s['$ref']);
      if (p !== undefined) collect(getAt(doc, p) as Json, depth + 1);
    }
    for (const k of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = s[k];
      if (Array.isArray(list)) for (const m of list) collect(m, depth + 1);
    }
  };
  for (const s of schemas) collect(s, 0);
  if (parts.length === 0) return ANY;
  const types = new Set<string>();
  for (const p of parts) {
    const t = p['type'];
    if (typeof t === 'string') types.add(t);
    else if (Array.isArray(t)) for (const x of t) if (typeof x === 'string') types.add(x);
  }
  let items: TypeInfo | undefined;
  const props = new Map<string, TypeInfo | undefined>();
  let names: string[] | undefined;
  return {
    types,
    items() {
      items ??= infoOf(doc, parts.flatMap((p) => (p['items'] !== undefined && !Array.isArray(p['items']) ? [p['items']] : [])));
      return items;
    },
    property(name: string) {
      if (props.has(name)) return props.get(name);
      const declared = parts.flatMap((p) => (isObject(p['properties']) && Object.prototype.hasOwnProperty.call(p['properties'], name) ? [p['properties'][name]!] : []));
      let info: TypeInfo | undefined;
      if (declared.length > 0) info = infoOf(doc, declared);
      else {
        const extra = parts.flatMap((p) => (isObject(p['additionalProperties']) ? [p['additionalProperties']] : []));
        info = extra.length > 0 ? infoOf(doc, extra) : undefined;
      }
      props.set(name, info);
      return info;
    },
    propertyNames() {
      names ??= [...new Set(parts.flatMap((p) => (isObject(p['properties']) ? Object.keys(p['properties']) : [])))];
      return names;
    },
  };
}

export type Shape = 'primitive' | 'array' | 'object';

export function shapeOf(info: TypeInfo): Shape {
  const a = info.types.has('array');
  const o = info.types.has('object');
  if (a && !o) return 'array';
  if (o && !a) return 'object';
  return 'primitive';
}

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored; digit runs are separated by '.' and 'e', which they cannot match, so no input has two ways to match
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/**
 * Turns a string into the type the schema wants when the text is an exact rendering of it
 * (`"10"` → 10, `"true"` → true). Anything else stays a string and the validator says what was
 * expected. No lenient forms: `"1e3"` is a number, `" 1"` and `"0x10"` are not.
 */
export function coerce(value: string, info: TypeInfo | undefined): unknown {
  const types = info?.types;
  if (!types || types.size === 0 || types.has('string')) return value;
  if (types.has('integer') && INTEGER.test(value)) return Number(value);
  if (types.has('number') && NUMBER.test(value)) return Number(value);
  if (types.has('boolean')) {
    if (value === 'true') return true;
    if (value === 'false') return false;
  }
  if (types.has('null') && value === '') return null;
  return value;
}

// ---------------------------------------------------------------------------------------------
// Query strings and form bodies

/** Decodes application/x-www-form-urlencoded text ('+' is a space); undefined when malformed. */
export function decodeFormComponent(s: string): string | undefined {
  if (s.indexOf('+') !== -1) s = s.replace(/\+/g, ' ');
  if (s.indexOf('%') === -1) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Pairs of a query string or form body: decoded names → raw (still encoded) values, in order. */
export type RawPairs = Map<string, string[]>;

export function splitPairs(raw: string, where: 'query' | 'body'): RawPairs | ParamFailure {
  const out: RawPairs = new Map();
  if (raw === '') return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const name = decodeFormComponent(rawName);
    if (name === undefined) return bad(`/${where}`, 'must use valid percent-encoding');
    const value = eq === -1 ? '' : part.slice(eq + 1);
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}

/** Parses a JSON parameter value; returns the value or a ParamFailure. */
export type JsonReader = (text: string, pointer: string) => unknown;

export interface ParamSpec {
  /** As declared; header names lower-cased. */
  name: string;
  in: ParamLocation;
  required: boolean;
  style: string;
  explode: boolean;
  allowEmptyValue: boolean;
  /** `content` parameters carry JSON (OpenAPI §4.8.12.3); others are styled strings. */
  json: boolean;
  info: TypeInfo;
  shape: Shape;
}

/** A parse failure; a class so that it cannot be confused with a parsed value. */
export class ParamFailure implements Failure {
  constructor(
    readonly code: Failure['code'],
    readonly pointer: string,
    readonly message: string,
  ) {}
}

export const isFailure = (v: unknown): v is ParamFailure => v instanceof ParamFailure;

const dup = (pointer: string): ParamFailure => new ParamFailure('RAMPART_DUPLICATE_PARAMETER', pointer, 'must not be repeated');
const bad = (pointer: string, message: string): ParamFailure => new ParamFailure('RAMPART_VALIDATION_FAILED', pointer, message);

/** Bracket keys `a[b][0][]` → ['a','b','0','']; undefined when not of that form. */
export function bracketPath(key: string): string[] | undefined {
  const open = key.indexOf('[');
  if (open <= 0 || !key.endsWith(']')) return undefined;
  const out = [key.slice(0, open)];
  let i = open;
  while (i < key.length) {
    if (key[i] !== '[') return undefined;
    const close = key.indexOf(']', i);
    if (close === -1) return undefined;
    out.push(key.slice(i + 1, close));
    i = close + 1;
  }
  return out;
}

const MAX_BRACKET_DEPTH = 8;
/** Array positions in bracket keys must come in order; this bounds `a[99999999]=x`. */
const MAX_INDEX = 1000;

/**
 * Puts `value` at a bracket path inside `target` (deepObject and form bodies), guided by the
 * schema: a numeric or empty segment makes an array where the schema says array. A leaf given
 * twice is a duplicate unless the schema says array.
 */
function assignPath(target: Record<string, unknown>, path: string[], rawValue: string, info: TypeInfo | undefined, pointerBase: string): ParamFailure | undefined {
  if (path.length > MAX_BRACKET_DEPTH) return bad(pointerBase, `must not nest deeper than ${MAX_BRACKET_DEPTH} levels`);
  let container: Record<string, unknown> | unknown[] = target;
  let cinfo = info;
  let pointer = pointerBase;
  for (let j = 0; j < path.length; j++) {
    const seg = path[j]!;
    if (seg === '__proto__') return bad(pointer, 'forbidden key');
    const last = j === path.length - 1;
    const childInfo = Array.isArray(container) ? cinfo?.items() : cinfo?.property(seg);
    let key: string | number = seg;
    if (Array.isArray(container)) {
      if (seg === '') key = container.length;
      else if (/^(0|[1-9][0-9]{0,3})$/.test(seg) && Number(seg) <= Math.min(container.length, MAX_INDEX)) key = Number(seg);
      else return bad(pointer, 'must use array positions in order');
    } else if (seg === '') return bad(pointer, 'must name a property');
    const childPointer = `${pointer}/${escapePointerSegment(String(key))}`;
    const existing = (container as Record<string, unknown>)[key as string];
    const has = Array.isArray(container) ? (key as number) < container.length : Object.prototype.hasOwnProperty.call(container, key);
    if (last) {
      const decoded = decodeFormComponent(rawValue);
      if (decoded === undefined) return bad(childPointer, 'must use valid percent-encoding');
      if (has) {
        if (Array.isArray(existing) && childInfo && shapeOf(childInfo) === 'array') {
          existing.push(coerce(decoded, childInfo.items()));
          return undefined;
        }
        return dup(childPointer);
      }
      const v = childInfo && shapeOf(childInfo) === 'array' ? [coerce(decoded, childInfo.items())] : coerce(decoded, childInfo);
      if (Array.isArray(container)) container.push(v);
      else container[seg] = v;
      return undefined;
    }
    const next = path[j + 1]!;
    const wantArray = (next === '' || /^[0-9]+$/.test(next)) && !!childInfo && shapeOf(childInfo) === 'array';
    let child = has ? existing : undefined;
    if (child === undefined) {
      child = wantArray ? [] : {};
      if (Array.isArray(container)) container.push(child);
      else container[seg] = child;
    } else if (typeof child !== 'object' || child === null || Array.isArray(child) !== wantArray) {
      return bad(childPointer, 'must not mix a value and nested keys');
    }
    container = child as Record<string, unknown> | unknown[];
    cinfo = childInfo;
    pointer = childPointer;
  }
  return undefined;
}

export interface QueryResult {
  values: Record<string, unknown>;
}

/**
 * Reads the declared query parameters from the pairs. Returns the values (coerced, by parameter
 * name) or the first failure.
 */
export function readQuery(pairs: RawPairs, specs: readonly ParamSpec[], parseJson: JsonReader): QueryResult | ParamFailure {
  const values: Record<string, unknown> = {};
  const claimed = new Set<string>();
  for (const spec of specs) {
    const pointer = `/query/${escapePointerSegment(spec.name)}`;
    const got = readOne(pairs, spec, pointer, claimed, parseJson);
    if (isFailure(got)) return got;
    if (got !== undefined) values[spec.name] = got;
  }
  for (const [name, list] of pairs) {
    if (claimed.has(name)) continue;
    if (name === '__proto__') return bad('/query', 'forbidden key');
    if (list.length > 1) return dup(`/query/${escapePointerSegment(name)}`);
  }
  return { values };
}

const NOT_PRESENT = undefined;

function readOne(pairs: RawPairs, spec: ParamSpec, pointer: string, claimed: Set<string>, parseJson: JsonReader): unknown {
  const { name, info } = spec;
  if (spec.json) {
    // A `content` parameter: one value holding JSON (§4.8.12.3); style and explode do not apply.
    const list = pairs.get(name);
    if (!list) return NOT_PRESENT;
    claimed.add(name);
    if (list.length > 1) return dup(pointer);
    const d = decodeFormComponent(list[0]!);
    if (d === undefined) return bad(pointer, 'must use valid percent-encoding');
    return parseJson(d, pointer);
  }
  if (spec.style === 'deepObject') {
    // `name[a]=1&name[b][c]=2` (§4.8.12.4: deepObject, objects only).
    const obj: Record<string, unknown> = {};
    let found = false;
    for (const [key, list] of pairs) {
      if (!key.startsWith(name + '[')) continue;
      const path = bracketPath(key);
      if (!path || path[0] !== name) continue;
      claimed.add(key);
      found = true;
      for (const raw of list) {
        const f = assignPath(obj, path.slice(1), raw, info, pointer);
        if (f) return f;
      }
    }
    return found ? obj : NOT_PRESENT;
  }
  if (spec.shape === 'object' && spec.explode && (spec.style === 'form' || spec.style === 'spaceDelimited' || spec.style === 'pipeDelimited')) {
    // Exploded object: each property is its own parameter (`role=admin&firstName=Alex`).
    const obj: Record<string, unknown> = {};
    let found = false;
    const props = info.propertyNames();
    for (const prop of props) {
      const list = pairs.get(prop);
      if (!list) continue;
      claimed.add(prop);
      found = true;
      const pinfo = info.property(prop);
      const ptr = `${pointer}/${escapePointerSegment(prop)}`;
      if (pinfo && shapeOf(pinfo) === 'array') {
        const items: unknown[] = [];
        for (const raw of list) {
          const d = decodeFormComponent(raw);
          if (d === undefined) return bad(ptr, 'must use valid percent-encoding');
          items.push(coerce(d, pinfo.items()));
        }
        obj[prop] = items;
      } else {
        if (list.length > 1) return dup(ptr);
        const d = decodeFormComponent(list[0]!);
        if (d === undefined) return bad(ptr, 'must use valid percent-encoding');
        obj[prop] = coerce(d, pinfo);
      }
    }
    return found ? obj : NOT_PRESENT;
  }
  const list = pairs.get(name);
  if (!list) return NOT_PRESENT;
  claimed.add(name);
  if (spec.shape === 'array') {
    const delimiter = delimiterOf(spec.style);
    if (spec.explode) {
      const items: unknown[] = [];
      for (const raw of list) {
        const d = decodeFormComponent(raw);
        if (d === undefined) return bad(pointer, 'must use valid percent-encoding');
        items.push(coerce(d, info.items()));
      }
      return items;
    }
    if (list.length > 1) return dup(pointer);
    return splitList(list[0]!, delimiter, info, pointer);
  }
  if (spec.shape === 'object') {
    // Not exploded: `id=role,admin,firstName,Alex`.
    if (list.length > 1) return dup(pointer);
    const delimiter = delimiterOf(spec.style);
    return pairsToObject(list[0]!, delimiter, info, pointer, 'form');
  }
  if (list.length > 1) return dup(pointer);
  const d = decodeFormComponent(list[0]!);
  if (d === undefined) return bad(pointer, 'must use valid percent-encoding');
  return coerce(d, info);
}

/** The list delimiter of a query style (OpenAPI 3.x Style Values): form uses ','. */
function delimiterOf(style: string | undefined): string {
  return style === 'spaceDelimited' ? ' ' : style === 'pipeDelimited' ? '|' : ',';
}

/** Splits a raw (encoded) list on its delimiter, then decodes each item (RFC 6570: delimiters are literal, data is encoded). */
function splitList(raw: string, delimiter: string, info: TypeInfo, pointer: string): unknown[] | ParamFailure {
  let parts: string[];
  if (delimiter === ',') parts = raw.split(',');
  else {
    // Space: sent as %20 or '+'; pipe: '|' or %7C. Decode first, then split.
    const d = decodeFormComponent(raw);
    if (d === undefined) return bad(pointer, 'must use valid percent-encoding');
    return d === '' ? [] : d.split(delimiter).map((x) => coerce(x, info.items()));
  }
  if (raw === '') return [];
  const out: unknown[] = [];
  for (const p of parts) {
    const d = decodeFormComponent(p);
    if (d === undefined) return bad(pointer, 'must use valid percent-encoding');
    out.push(coerce(d, info.items()));
  }
  return out;
}

/** `k,v,k,v` (or `k=v,k=v` for exploded simple-style headers) into an object. */
function pairsToObject(raw: string, delimiter: string, info: TypeInfo, pointer: string, mode: 'form' | 'simple-explode'): Record<string, unknown> | ParamFailure {
  const obj: Record<string, unknown> = {};
  if (raw === '') return obj;
  const decodeAll = delimiter !== ',';
  const text = decodeAll ? decodeFormComponent(raw) : raw;
  if (text === undefined) return bad(pointer, 'must use valid percent-encoding');
  const parts = text.split(delimiter);
  const entries: [string, string][] = [];
  if (mode === 'simple-explode') {
    for (const p of parts) {
      const eq = p.indexOf('=');
      if (eq === -1) return bad(pointer, 'must be a list of name=value pairs');
      entries.push([p.slice(0, eq).trim(), p.slice(eq + 1).trim()]);
    }
  } else {
    if (parts.length % 2 !== 0) return bad(pointer, 'must be a list of name,value pairs');
    for (let i = 0; i < parts.length; i += 2) entries.push([parts[i]!, parts[i + 1]!]);
  }
  for (const [rk, rv] of entries) {
    const k = decodeAll ? rk : decodeFormComponent(rk);
    const v = decodeAll ? rv : decodeFormComponent(rv);
    if (k === undefined || v === undefined) return bad(pointer, 'must use valid percent-encoding');
    if (k === '__proto__') return bad(pointer, 'forbidden key');
    const ptr = `${pointer}/${escapePointerSegment(k)}`;
    if (Object.prototype.hasOwnProperty.call(obj, k)) return dup(ptr);
    obj[k] = coerce(v, info.property(k));
  }
  return obj;
}

// ---------------------------------------------------------------------------------------------
// Path, header and cookie parameters

/**
 * Path values arrive decoded from the router. `simple` (default), `label` (`.a.b`) and
 * `matrix` (`;id=5`) styles (§4.8.12.4).
 */
export function readPathParam(value: string, spec: ParamSpec, pointer: string): unknown {
  let v = value;
  let sep = ',';
  if (spec.style === 'label') {
    if (!v.startsWith('.')) return bad(pointer, 'must start with "."');
    v = v.slice(1);
    if (spec.explode) sep = '.';
  } else if (spec.style === 'matrix') {
    const prefix = `;${spec.name}=`;
    if (spec.shape === 'array' && spec.explode) {
      const items = v.split(';').filter((x) => x !== '');
      const out: unknown[] = [];
      for (const it of items) {
        if (!it.startsWith(`${spec.name}=`)) return bad(pointer, `must be of the form ;${spec.name}=value`);
        out.push(coerce(it.slice(spec.name.length + 1), spec.info.items()));
      }
      return out;
    }
    if (!v.startsWith(prefix)) return bad(pointer, `must be of the form ;${spec.name}=value`);
    v = v.slice(prefix.length);
  }
  if (spec.shape === 'array') return v === '' ? [] : v.split(sep).map((x) => coerce(x, spec.info.items()));
  if (spec.shape === 'object') return simpleObject(v, spec, pointer);
  return coerce(v, spec.info);
}

function simpleObject(v: string, spec: ParamSpec, pointer: string): Record<string, unknown> | ParamFailure {
  const obj: Record<string, unknown> = {};
  if (v === '') return obj;
  const parts = v.split(',');
  const entries: [string, string][] = [];
  if (spec.explode) {
    for (const p of parts) {
      const eq = p.indexOf('=');
      if (eq === -1) return bad(pointer, 'must be a list of name=value pairs');
      entries.push([p.slice(0, eq).trim(), p.slice(eq + 1).trim()]);
    }
  } else {
    if (parts.length % 2 !== 0) return bad(pointer, 'must be a list of name,value pairs');
    for (let i = 0; i < parts.length; i += 2) entries.push([parts[i]!.trim(), parts[i + 1]!.trim()]);
  }
  for (const [k, val] of entries) {
    if (k === '__proto__') return bad(pointer, 'forbidden key');
    if (Object.prototype.hasOwnProperty.call(obj, k)) return dup(`${pointer}/${escapePointerSegment(k)}`);
    obj[k] = coerce(val, spec.info.property(k));
  }
  return obj;
}

/**
 * Header parameters (style simple). Node joins repeated headers with ", " (except a few it keeps
 * as arrays or drops), so a list arrives as one string; an array here means the header was
 * repeated in a way Node kept apart.
 */
export function readHeaderParam(raw: string | string[], spec: ParamSpec, pointer: string, parseJson: JsonReader): unknown {
  if (Array.isArray(raw)) {
    if (spec.shape !== 'array') return dup(pointer);
    raw = raw.join(',');
  }
  const v = raw.trim();
  if (spec.json) return parseJson(v, pointer);
  // RFC 9110 §5.6.1: list elements are separated by commas with optional whitespace.
  if (spec.shape === 'array') return v === '' ? [] : v.split(',').map((x) => coerce(x.trim(), spec.info.items()));
  if (spec.shape === 'object') return simpleObject(v, spec, pointer);
  return coerce(v, spec.info);
}

/** Cookie header (RFC 6265 §4.2.1: `name=value; name2=value2`) → name → values. */
export function splitCookies(header: string | string[] | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (header === undefined) return out;
  const text = Array.isArray(header) ? header.join('; ') : header;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name === '') continue;
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}

export function readCookieParam(list: string[], spec: ParamSpec, pointer: string, parseJson: JsonReader): unknown {
  if (list.length > 1) return dup(pointer);
  let v = list[0]!;
  // Cookie values carry form-style data percent-encoded; a stray '%' is kept as it is.
  if (v.indexOf('%') !== -1) {
    try {
      v = decodeURIComponent(v);
    } catch {
      // leave raw
    }
  }
  if (spec.json) return parseJson(v, pointer);
  if (spec.shape === 'array') return v === '' ? [] : v.split(',').map((x) => coerce(x, spec.info.items()));
  if (spec.shape === 'object') return pairsToObject(v, ',', spec.info, pointer, 'form');
  return coerce(v, spec.info);
}

// ---------------------------------------------------------------------------------------------
// Form bodies

export interface FormEncoding {
  style?: string;
  explode?: boolean;
  /** Per-property `contentType: application/json` means the field holds JSON. */
  json?: boolean;
}

/**
 * An application/x-www-form-urlencoded body against its object schema (OpenAPI §4.8.15
 * Encoding Object: properties are serialised like query parameters; default style form, explode
 * true). Bracket keys (`metadata[key]=v`, `items[0][price]=5`) build nested values, as deepObject
 * and the forms of many payment APIs do.
 */
export function readForm(text: string, info: TypeInfo, encoding: ReadonlyMap<string, FormEncoding>, parseJson: JsonReader): Record<string, unknown> | ParamFailure {
  const pairs = splitPairs(text, 'body');
  if (isFailure(pairs)) return pairs;
  const out: Record<string, unknown> = {};
  for (const [key, list] of pairs) {
    if (key === '__proto__') return bad('/body', 'forbidden key');
    const path = key.includes('[') ? bracketPath(key) : undefined;
    if (path) {
      if (path[0] === '__proto__') return bad('/body', 'forbidden key');
      for (const raw of list) {
        const f = assignPath(out, path, raw, info, '/body');
        if (f) return f;
      }
      continue;
    }
    const pinfo = info.property(key);
    const enc = encoding.get(key);
    const pointer = `/body/${escapePointerSegment(key)}`;
    if (Object.prototype.hasOwnProperty.call(out, key)) return dup(pointer);
    const spec: ParamSpec = {
      name: key,
      in: 'query',
      required: false,
      style: enc?.style ?? 'form',
      explode: enc?.explode ?? (enc?.style ?? 'form') === 'form',
      allowEmptyValue: true,
      json: enc?.json ?? false,
      info: pinfo ?? ANY,
      shape: pinfo ? shapeOf(pinfo) : 'primitive',
    };
    const v = readOne(new Map([[key, list]]), spec, pointer, new Set(), parseJson);
    if (isFailure(v)) return v;
    out[key] = v;
  }
  return out;
}

