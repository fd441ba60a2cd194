/**
 * Turns OpenAPI Schema Objects into schemas ajv validates as the document means them, in place,
 * for the schemas that request validation reaches (parameters and request bodies, and whatever
 * they reference) or, in response mode, that response validation reaches (API10).
 *
 * - OpenAPI 3.0 §4.7.24 `nullable: true` → `type: [T, 'null']` (or `anyOf: [S, {type:'null'}]`
 *   when the schema has no type or combines others: real specs put `nullable` next to `$ref`,
 *   `allOf` and `anyOf`, and mean "or null"). Ajv refuses `nullable` without `type`, so it always goes.
 * - Draft-04 style boolean `exclusiveMinimum`/`exclusiveMaximum` (3.0 inherits them) → numeric
 *   (draft 6+ and 2020-12, which 3.1 uses).
 * - `discriminator` (3.1 §4.8.25): ajv's own keyword refuses `mapping` and most real layouts, so
 *   a discriminator over `oneOf`/`anyOf` of references becomes an explicit dispatch
 *   (`if` the property equals the value `then` that schema), which is what the document means and
 *   also works when alternatives overlap (plain `oneOf` would reject valid data). A child that
 *   refers back to its parent through `allOf` gets the parent without the dispatch, so the
 *   recursion ends. Anything else: the discriminator is dropped (oneOf/anyOf semantics) with a warning.
 * - `readOnly` properties (3.0 §4.7.24, "SHOULD NOT be sent as part of the request"): dropped from
 *   `required` in requests; with `closedObjects` they are refused (API3, mass assignment).
 *   In `mode: 'response'` the roles swap: `writeOnly` properties ("SHOULD NOT be sent as part of
 *   the response"; a required writeOnly property is required in requests only) are dropped from
 *   `required` and, with `closedObjects`, refused by a keyword of their own (WRITE_ONLY) so that the
 *   response validator can strip them like undeclared ones (API3, data leakage); readOnly is fine.
 * - `closedObjects` (API3): a plain object schema with `properties` and no `additionalProperties`
 *   is closed. An `allOf` whose members' property names are all known statically is closed over
 *   the union of those names; its members, and every schema used where closing would change
 *   meaning (`allOf` members, `not`, `if`/`then`/`else`, dependent schemas, `oneOf`/`anyOf` next
 *   to own properties), stay open: references from those places point to an open variant.
 * - Patterns that are not valid as unicode regular expressions run without the `u` flag; patterns
 *   that are not valid at all fail closed (the field is refused) with a warning.
 * - Formats are collected so that the loader can register unknown ones as no-ops with a warning.
 *
 * The pass rewrites the document it is given. Request validation normalises the loaded document
 * (`mode: 'request'`); response validation (API10, validate-response.ts) runs its own pass in
 * `mode: 'response'` over a separate, freshly parsed copy, because readOnly/writeOnly mean
 * opposite things there and a schema shared by a request and a response must serve both.
 */
import { type Json, type JsonObject, isObject, getAt, localRefPointer, escapeSegment, pointerToFragment } from './resolve-refs.js';

/** Root key under which open and base variants of schemas are stored. */
export const VARIANTS_KEY = 'x-rampart-variants';
/** Custom keywords registered with ajv by the validator (see validate-operation.ts). */
export const NON_UNICODE_PATTERN = 'x-rampart-pattern';
export const INVALID_PATTERN = 'x-rampart-invalid-pattern';
export const READ_ONLY = 'x-rampart-read-only';
/** Refuses a writeOnly property in a response (response mode with closedObjects). */
export const WRITE_ONLY = 'x-rampart-write-only';

export interface NormalizeOptions {
  version: '3.0' | '3.1';
  closedObjects: boolean;
  warn(message: string): void;
  /**
   * Which direction the schemas serve (default 'request'): decides whether readOnly (request)
   * or writeOnly (response) properties are the ones that must not be present.
   */
  mode?: 'request' | 'response';
}

export interface Normalizer {
  /** Normalises the schema at `pointer` and everything it reaches. */
  schemaAt(pointer: string): void;
  /** Formats seen in normalised schemas. */
  readonly formats: Set<string>;
}

const JSON_TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'string', 'integer']);
/** Keywords that make a schema more than a plain object (closing it could break valid data). */
const COMPOSITION = ['allOf', 'oneOf', 'anyOf', 'not', 'if', 'then', 'else', '$ref', 'dependentSchemas', 'dependencies', '$dynamicRef', '$recursiveRef'];
/** Keywords that can refuse a null value; with `nullable` they move under `anyOf: [.., null]`. */
const NULL_REFUSING = new Set([
  'type', 'enum', 'const', 'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', '$ref', 'discriminator',
  'unevaluatedProperties', 'unevaluatedItems', '$dynamicRef', '$recursiveRef',
]);
const OBJECT_KEYWORDS = ['properties', 'patternProperties', 'additionalProperties', 'unevaluatedProperties', 'required', 'propertyNames', 'minProperties', 'maxProperties'];

interface Added {
  additionalProperties: boolean;
  names: string[];
}

interface Item {
  node: Json;
  pointer: string;
  /** This level must not be closed (it combines with siblings). */
  open: boolean;
  /** Nothing below may be closed (inside not/if/contains/propertyNames: closing changes meaning). */
  frozen: boolean;
}

export function createNormalizer(doc: JsonObject, opts: NormalizeOptions): Normalizer {
  const { version, closedObjects, warn } = opts;
  const response = opts.mode === 'response';
  /** The annotation that marks a property as absent in this direction, and the keyword refusing it. */
  const hiddenFlag = response ? 'writeOnly' : 'readOnly';
  const hiddenKeyword = response ? WRITE_ONLY : READ_ONLY;
  const formats = new Set<string>();
  const ownDone = new WeakSet<object>();
  const childrenDone = new WeakSet<object>();
  const added = new WeakMap<object, Added>();
  const hadDiscriminator = new WeakSet<object>();
  const openVariants = new Map<string, string>();
  const warned = new Set<string>();
  const warnOnce = (key: string, msg: string): void => {
    if (warned.has(key)) return;
    warned.add(key);
    warn(msg);
  };
  let variants: Json[] | undefined;
  const addVariant = (schema: JsonObject): string => {
    if (!variants) {
      variants = [];
      doc[VARIANTS_KEY] = variants;
    }
    variants.push(schema);
    return `/${VARIANTS_KEY}/${variants.length - 1}`;
  };
  const refTo = (pointer: string): string => '#' + pointerToFragment(pointer);
  const stack: Item[] = [];

  const schemaAt = (pointer: string): void => {
    const node = getAt(doc, pointer) as Json | undefined;
    if (node === undefined) return;
    stack.push({ node, pointer, open: false, frozen: false });
    drain();
  };

  function drain(): void {
    while (stack.length > 0) {
      const item = stack.pop()!;
      const { node } = item;
      if (!isObject(node)) continue;
      if (!ownDone.has(node)) ownLevel(node, item.pointer, item.open || item.frozen);
      if (item.open || item.frozen) openRef(node);
      if (childrenDone.has(node)) continue;
      childrenDone.add(node);
      pushChildren(node, item);
    }
  }

  /** In an open context, a reference must reach the open variant of its target. */
  function openRef(node: JsonObject): void {
    if (!closedObjects) return;
    const ref = node['$ref'];
    if (typeof ref !== 'string') return;
    const p = localRefPointer(ref);
    if (p === undefined) return;
    const v = openVariant(p, 0);
    if (v !== p) node['$ref'] = refTo(v);
  }

  function openVariant(pointer: string, depth: number): string {
    const cached = openVariants.get(pointer);
    if (cached !== undefined) return cached;
    const target = getAt(doc, pointer) as Json | undefined;
    if (!isObject(target) || depth > 32) return pointer;
    if (!ownDone.has(target)) ownLevel(target, pointer, false);
    let result = pointer;
    const ref = target['$ref'];
    const a = added.get(target);
    if (typeof ref === 'string' && !a && !Object.keys(target).some((k) => k !== '$ref' && !isAnnotation(k))) {
      // A pure reference: open what it points to.
      const p = localRefPointer(ref);
      if (p !== undefined) {
        const inner = openVariant(p, depth + 1);
        if (inner !== p) {
          const copy: JsonObject = { $ref: refTo(inner) };
          ownDone.add(copy);
          childrenDone.add(copy);
          result = addVariant(copy);
        }
      }
    } else if (a) {
      const copy: JsonObject = { ...target };
      if (a.additionalProperties) delete copy['additionalProperties'];
      if (a.names.length > 0 && isObject(copy['properties'])) {
        const props = { ...copy['properties'] };
        for (const n of a.names) delete props[n];
        copy['properties'] = props;
      }
      ownDone.add(copy);
      childrenDone.add(copy); // its children are the target's, walked through the target
      result = addVariant(copy);
      stack.push({ node: target, pointer, open: false, frozen: false });
    }
    openVariants.set(pointer, result);
    return result;
  }

  function ownLevel(s: JsonObject, pointer: string, open: boolean): void {
    ownDone.add(s);
    if ('$schema' in s) delete s['$schema'];
    if ('$id' in s) {
      // Ids inside the document would move the base URI of every ref below them.
      warnOnce(`$id:${pointer}`, `schema ${pointer}: $id ignored (references resolve against the document)`);
      delete s['$id'];
    }
    if ('nullable' in s) {
      const nullable = s['nullable'] === true;
      delete s['nullable'];
      if (nullable) addNull(s, pointer, open);
    }
    convertExclusive(s, 'exclusiveMinimum', 'minimum', pointer);
    convertExclusive(s, 'exclusiveMaximum', 'maximum', pointer);
    const type = s['type'];
    if (type !== undefined) {
      const types = Array.isArray(type) ? type : [type];
      const good = types.filter((t): t is string => typeof t === 'string' && JSON_TYPES.has(t));
      if (good.length !== types.length) {
        warnOnce(`type:${pointer}`, `schema ${pointer}: type ${JSON.stringify(type)} is not a JSON Schema type; ignored`);
        if (good.length === 0) delete s['type'];
        else s['type'] = good.length === 1 ? good[0]! : good;
      }
    }
    if ('required' in s && !(Array.isArray(s['required']) && s['required'].every((r) => typeof r === 'string'))) {
      warnOnce(`required:${pointer}`, `schema ${pointer}: required must be an array of names; ignored`);
      delete s['required'];
    }
    if (version === '3.1' && Array.isArray(s['items'])) {
      // 2020-12 spells tuples prefixItems.
      s['prefixItems'] = s['items'];
      delete s['items'];
    }
    if (typeof s['pattern'] === 'string') checkPattern(s, pointer);
    if (isObject(s['patternProperties'])) {
      for (const re of Object.keys(s['patternProperties'])) {
        try {
          // eslint-disable-next-line security/detect-non-literal-regexp -- the operator's own OpenAPI document (patternProperties key): compiled only to check that it is valid, never run here
          new RegExp(re, 'u');
        } catch {
          warnOnce(`pp:${pointer}`, `schema ${pointer}: patternProperties key is not a valid unicode regular expression; operations using it fail closed`);
        }
      }
    }
    if (typeof s['format'] === 'string') formats.add(s['format']);
    hiddenProperties(s);
    if (s['discriminator'] !== undefined) discriminator(s, pointer);
    if (closedObjects && !open && !hadDiscriminator.has(s)) close(s, pointer);
  }

  /** `nullable: true`: adds null to the type, or wraps the null-refusing keywords in `anyOf: [.., {type: null}]`. */
  function addNull(s: JsonObject, pointer: string, open: boolean): void {
    const type = s['type'];
    const composite = COMPOSITION.some((k) => k in s);
    if (!composite && (typeof type === 'string' || Array.isArray(type))) {
      const types = Array.isArray(type) ? [...type] : [type];
      if (!types.includes('null')) types.push('null');
      s['type'] = types;
      if (Array.isArray(s['enum']) && !s['enum'].includes(null)) s['enum'] = [...s['enum'], null];
      return;
    }
    // No type, or a combination: "this, or null". Only keywords that would refuse null move into
    // the first alternative; keywords that ignore null (properties, items, minLength...) stay,
    // so that references into this schema's properties keep resolving.
    const rest: JsonObject = {};
    for (const k of Object.keys(s)) {
      if (!NULL_REFUSING.has(k)) continue;
      rest[k] = s[k]!;
      delete s[k];
    }
    s['anyOf'] = [rest, { type: 'null' }];
    // If object keywords stayed here, `rest` combines with them and must not be closed alone.
    const restOpen = open || OBJECT_KEYWORDS.some((k) => k in s);
    ownLevel(rest, `${pointer}/anyOf/0`, restOpen);
    stack.push({ node: rest, pointer: `${pointer}/anyOf/0`, open: restOpen, frozen: false });
  }

  function convertExclusive(s: JsonObject, ex: 'exclusiveMinimum' | 'exclusiveMaximum', bound: 'minimum' | 'maximum', pointer: string): void {
    const v = s[ex];
    if (typeof v !== 'boolean') return;
    delete s[ex];
    if (!v) return;
    if (typeof s[bound] === 'number') {
      s[ex] = s[bound]!;
      delete s[bound];
    } else warnOnce(`${ex}:${pointer}`, `schema ${pointer}: ${ex}: true without ${bound}; ignored`);
  }

  function checkPattern(s: JsonObject, pointer: string): void {
    const p = s['pattern'] as string;
    try {
      // eslint-disable-next-line security/detect-non-literal-regexp -- the operator's own OpenAPI document (`pattern`): compiled only to check that it is valid
      new RegExp(p, 'u');
      return;
    } catch {
      // fall through
    }
    delete s['pattern'];
    try {
      // eslint-disable-next-line security/detect-non-literal-regexp -- the operator's own OpenAPI document (`pattern`): compiled only to check that it is valid
      new RegExp(p);
      s[NON_UNICODE_PATTERN] = p;
    } catch {
      s[INVALID_PATTERN] = true;
      warnOnce(`pattern:${pointer}`, `schema ${pointer}: pattern is not a valid regular expression; values for it are refused`);
    }
  }

  /** readOnly (request mode) or writeOnly (response mode), on the schema or what it stands for. */
  function isHidden(schema: Json | undefined, depth = 0): boolean {
    if (!isObject(schema) || depth > 8) return false;
    if (schema[hiddenFlag] === true) return true;
    if (typeof schema['$ref'] === 'string') {
      const p = localRefPointer(schema['$ref']);
      return p !== undefined && isHidden(getAt(doc, p) as Json, depth + 1);
    }
    const all = schema['allOf'];
    return Array.isArray(all) && all.length === 1 && isHidden(all[0], depth + 1);
  }

  function hiddenProperties(s: JsonObject): void {
    const props = s['properties'];
    if (!isObject(props)) return;
    let ro: string[] | undefined;
    for (const k of Object.keys(props)) if (isHidden(props[k])) (ro ??= []).push(k);
    if (!ro) return;
    const req = s['required'];
    if (Array.isArray(req)) s['required'] = req.filter((r) => typeof r !== 'string' || !ro!.includes(r));
    if (closedObjects) {
      // API3: a client must not write what only the server sets (requests), and a response must
      // not carry what only the client sends (writeOnly: passwords, PINs): any value is refused,
      // with a keyword of our own so that the message (or the response stripper) can say why.
      const copy: JsonObject = { ...props };
      for (const k of ro) {
        const refuse: JsonObject = { [hiddenKeyword]: true };
        ownDone.add(refuse);
        childrenDone.add(refuse);
        copy[k] = refuse;
      }
      s['properties'] = copy;
    }
  }

  function discriminator(s: JsonObject, pointer: string): void {
    const d = s['discriminator'];
    delete s['discriminator'];
    hadDiscriminator.add(s);
    const altKey = Array.isArray(s['oneOf']) ? 'oneOf' : Array.isArray(s['anyOf']) ? 'anyOf' : undefined;
    const alts = altKey ? (s[altKey] as Json[]) : undefined;
    const pn = isObject(d) ? d['propertyName'] : undefined;
    if (!alts) {
      warnOnce(`disc:${pointer}`, `schema ${pointer}: discriminator without oneOf/anyOf; validated against this schema only`);
      return;
    }
    if (typeof pn !== 'string' || !alts.every((a) => isObject(a) && typeof a['$ref'] === 'string')) {
      warnOnce(`disc:${pointer}`, `schema ${pointer}: discriminator needs a propertyName and references as alternatives; ${altKey} semantics apply`);
      return;
    }
    // Values → references: explicit mapping first, then the implicit component names (3.1 §4.8.25.2).
    const entries = new Map<string, string>();
    const mapping = isObject(d) && isObject(d['mapping']) ? d['mapping'] : {};
    for (const [value, target] of Object.entries(mapping)) {
      if (typeof target !== 'string') continue;
      const ref = target.startsWith('#') ? target : refTo(`/components/schemas/${escapeSegment(target)}`);
      const p = localRefPointer(ref);
      if (p === undefined || getAt(doc, p) === undefined) {
        warnOnce(`dmap:${pointer}:${value}`, `schema ${pointer}: discriminator mapping for '${value}' names no schema; that value is refused`);
        continue;
      }
      entries.set(value, ref);
    }
    const mapped = new Set(entries.values());
    for (const a of alts as JsonObject[]) {
      const ref = a['$ref'] as string;
      if (mapped.has(ref)) continue;
      const m = /^#\/components\/schemas\/([^/]+)$/.exec(ref);
      const name = m ? decodeURIComponent(m[1]!).replace(/~1/g, '/').replace(/~0/g, '~') : undefined;
      if (name !== undefined && !entries.has(name)) entries.set(name, ref);
      else if (name === undefined) {
        warnOnce(`dimpl:${pointer}`, `schema ${pointer}: a discriminated alternative outside components.schemas has no mapping; it is not reachable`);
      }
    }
    delete s[altKey!];
    // The parent without the dispatch, for children that include it through allOf.
    const base: JsonObject = { ...s };
    ownDone.add(base);
    childrenDone.add(base);
    const basePointer = addVariant(base);
    const ownObjectKeywords = OBJECT_KEYWORDS.some((k) => k in s) || 'allOf' in s;
    const parentNames = closedObjects ? names(base, new Set(), basePointer) : null;
    const branches: Json[] = [];
    for (const [value, ref] of entries) {
      const target = getAt(doc, localRefPointer(ref)!);
      if (isObject(target) && Array.isArray(target['allOf'])) {
        for (const m of target['allOf']) {
          if (isObject(m) && typeof m['$ref'] === 'string' && localRefPointer(m['$ref']) === pointer) m['$ref'] = refTo(basePointer);
        }
      }
      const then: JsonObject = { $ref: ref };
      const cond: JsonObject = { properties: { [pn]: { const: value } }, required: [pn] };
      ownDone.add(cond);
      childrenDone.add(cond);
      const branch: JsonObject = { if: cond, then };
      ownDone.add(branch);
      childrenDone.add(branch);
      branches.push(branch);
      // The chosen alternative may be closed when it allows every property the parent declares
      // itself (the usual layout: the child includes the parent through allOf); otherwise it
      // must stay open for them.
      let open = ownObjectKeywords;
      if (open && closedObjects && parentNames) {
        const childNames = names(target as Json, new Set(), localRefPointer(ref)!);
        open = !childNames || parentNames.some((n) => !childNames.includes(n));
      }
      stack.push({ node: then, pointer: `${pointer}/x-dispatch/${escapeSegment(value)}`, open, frozen: false });
    }
    const dispatch: JsonObject = {
      type: 'object',
      required: [pn],
      properties: { [pn]: { enum: [...entries.keys()] } },
      allOf: branches,
    };
    ownDone.add(dispatch);
    childrenDone.add(dispatch);
    s['allOf'] = [...(Array.isArray(s['allOf']) ? s['allOf'] : []), dispatch];
  }

  /** Property names a schema allows, when statically known (null: unknown, do not close). */
  function names(node: Json | undefined, seen: Set<object>, pointer: string): string[] | null {
    if (node === true || node === false) return [];
    if (!isObject(node)) return null;
    if (seen.has(node)) return null;
    seen.add(node);
    if (hadDiscriminator.has(node)) return null;
    for (const k of ['patternProperties', 'unevaluatedProperties', 'oneOf', 'anyOf', 'not', 'if', 'dependentSchemas', 'dependencies', '$dynamicRef']) {
      if (k in node) return null;
    }
    // additionalProperties: false (the author's or ours) still leaves the names known.
    const ap = node['additionalProperties'];
    if (ap !== undefined && ap !== false) return null;
    const out = new Set<string>();
    if (isObject(node['properties'])) for (const k of Object.keys(node['properties'])) out.add(k);
    if (typeof node['$ref'] === 'string') {
      let p = localRefPointer(node['$ref']);
      let t = p === undefined ? undefined : (getAt(doc, p) as Json | undefined);
      if (p !== undefined && isObject(t) && !ownDone.has(t)) {
        ownLevel(t, p, false);
        // Normalising the target may have re-pointed this reference (discriminator base).
        p = localRefPointer(node['$ref'] as string);
        t = p === undefined ? undefined : (getAt(doc, p) as Json | undefined);
      }
      if (p === undefined) return null;
      const inner = names(t, seen, p);
      if (!inner) return null;
      for (const n of inner) out.add(n);
    }
    if (Array.isArray(node['allOf'])) {
      for (let i = 0; i < node['allOf'].length; i++) {
        const m = node['allOf'][i];
        // An inline member not yet normalised (e.g. nullable): normalise its own level first.
        if (isObject(m) && !ownDone.has(m) && typeof m['$ref'] !== 'string') ownLevel(m, `${pointer}/allOf/${i}`, true);
        const inner = names(node['allOf'][i], seen, `${pointer}/allOf/${i}`);
        if (!inner) return null;
        for (const n of inner) out.add(n);
      }
    }
    return [...out];
  }

  function close(s: JsonObject, pointer: string): void {
    if ('additionalProperties' in s || 'patternProperties' in s || 'unevaluatedProperties' in s) return;
    const t = s['type'];
    if (t !== undefined && !(t === 'object' || (Array.isArray(t) && t.includes('object')))) return;
    const composite = COMPOSITION.some((k) => k in s);
    if (!composite) {
      if (!isObject(s['properties'])) return; // a free-form map: leave it
      s['additionalProperties'] = false;
      added.set(s, { additionalProperties: true, names: [] });
      return;
    }
    // Only a pure allOf (with optional own properties) can be closed over the union of names.
    if (!Array.isArray(s['allOf']) || COMPOSITION.some((k) => k !== 'allOf' && k in s)) return;
    const n = names(s, new Set(), pointer);
    if (!n) return;
    const props = isObject(s['properties']) ? s['properties'] : {};
    const missing = n.filter((k) => !(k in props));
    if (missing.length > 0) {
      const copy: JsonObject = { ...props };
      for (const k of missing) copy[k] = true;
      s['properties'] = copy;
    }
    s['additionalProperties'] = false;
    added.set(s, { additionalProperties: true, names: missing });
  }

  function pushChildren(s: JsonObject, item: Item): void {
    const { pointer, frozen } = item;
    const open = item.open;
    const push = (node: Json | undefined, ptr: string, childOpen: boolean, childFrozen = frozen): void => {
      if (typeof node === 'object' && node !== null) stack.push({ node, pointer: ptr, open: childOpen || childFrozen, frozen: childFrozen });
    };
    const combines = OBJECT_KEYWORDS.some((k) => k in s) || 'allOf' in s || '$ref' in s;
    for (const k of Object.keys(s)) {
      const v = s[k];
      if (typeof v !== 'object' || v === null) continue;
      const p = `${pointer}/${escapeSegment(k)}`;
      switch (k) {
        case 'properties':
        case 'patternProperties':
        case '$defs':
        case 'definitions':
          if (isObject(v)) for (const [name, sub] of Object.entries(v)) push(sub, `${p}/${escapeSegment(name)}`, false);
          break;
        case 'dependentSchemas':
          if (isObject(v)) for (const [name, sub] of Object.entries(v)) push(sub, `${p}/${escapeSegment(name)}`, true);
          break;
        case 'dependencies':
          if (isObject(v)) for (const [name, sub] of Object.entries(v)) if (isObject(sub)) push(sub, `${p}/${escapeSegment(name)}`, true);
          break;
        case 'items':
        case 'prefixItems':
        case 'additionalItems':
        case 'unevaluatedItems':
        case 'additionalProperties':
        case 'unevaluatedProperties':
          if (Array.isArray(v)) v.forEach((sub, i) => push(sub, `${p}/${i}`, false));
          else push(v, p, false);
          break;
        case 'allOf':
          if (Array.isArray(v)) v.forEach((sub, i) => push(sub, `${p}/${i}`, true));
          break;
        case 'oneOf':
        case 'anyOf':
          // Alternatives combine with the parent's own object keywords like allOf members do.
          if (Array.isArray(v)) v.forEach((sub, i) => push(sub, `${p}/${i}`, open || combines));
          break;
        case 'then':
        case 'else':
          push(v, p, true);
          break;
        case 'not':
        case 'if':
        case 'contains':
        case 'propertyNames':
          push(v, p, true, true);
          break;
        default:
          break;
      }
    }
    const ref = s['$ref'];
    if (typeof ref === 'string') {
      const p = localRefPointer(ref);
      if (p !== undefined) {
        const target = getAt(doc, p) as Json | undefined;
        // The target is normalised in its own right; variants share its children.
        // (An open variant is marked done: its children are the original's, reached through it.)
        if (target !== undefined) stack.push({ node: target, pointer: p, open: false, frozen: false });
      }
    }
  }

  return { schemaAt, formats };
}

function isAnnotation(k: string): boolean {
  return (
    k === 'description' || k === 'title' || k === 'example' || k === 'examples' || k === 'default' || k === 'deprecated' ||
    k === 'readOnly' || k === 'writeOnly' || k === 'xml' || k === 'externalDocs' || k === '$comment' || k.startsWith('x-')
  );
}
