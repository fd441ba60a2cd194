/**
 * Data classifications: which JSON locations of a body carry which kind of personal or secret
 * data, read from `x-rampart-classification` on Schema Objects of the API's OpenAPI document.
 *
 * The ledger stores every exchange's bodies (encrypted); before that, secrets are always redacted
 * and personal fields are kept or redacted per policy (DESIGN non-negotiable: "Secrets never reach
 * a log, a ledger record or an error; PII only as policy allows"; ASVS 7.1.1, 8.3.5). Values
 * classified `subject-id` are extracted so the ledger can say whose records were accessed, by
 * whom, between t1 and t2 (RSP-2, RSP-1). Response masking (DLP) reuses the same map.
 *
 * A map is a small deterministic automaton over JSON locations, compiled once per body schema:
 *
 *   schema graph ($ref, allOf/oneOf/anyOf, properties, items...)   one node per schema object,
 *        │                                                          cycles are back edges
 *        ▼ prune what cannot reach a classification
 *        ▼ subset construction (unions of branches become one state)
 *   ClassState: { classes, named: key → state, any: state for array items / other keys }
 *
 * so walking a body costs one Map lookup per key, recursive schemas classify data at any depth
 * without unrolling them, and a union of branches (allOf, oneOf, anyOf) is the union of their
 * maps. Schemas shared by many bodies are analysed once per document (createClassifier), and an
 * operation's maps are built on first use. Guarantees: building never loops and never throws for
 * odd schemas; nesting of distinct schemas deeper than 32 levels (or a pathological blow-up of
 * states) stops the analysis there and marks the map `complete: false`.
 *
 * Secrets are also recognised by property name, whatever the document says (defence in depth):
 * see isSecretName.
 */
import { type Json, type JsonObject, isObject, getAt, localRefPointer, deref, escapeSegment } from './resolve-refs.js';
import { normalizeContentKey } from './media-type.js';

/** The OpenAPI extension keyword that classifies a schema (and everything below it). */
export const CLASSIFICATION_KEYWORD = 'x-rampart-classification';

/**
 * The known classes and what each one means. Classes not listed here are accepted (a load
 * warning says so) and treated as personal data.
 */
export const CLASSIFICATIONS = Object.freeze({
  secret: 'credentials and authenticators (passwords, tokens, keys, PINs, CVV): always redacted, whatever the policy says',
  ssn: 'a US Social Security number',
  'tax-id': 'another taxpayer identifier (EIN, ITIN, a foreign tax number)',
  'account-number': 'a financial account number (brokerage or bank account)',
  'card-number': 'a payment card number (PAN)',
  'routing-number': 'a bank routing number (ABA routing transit number, sort code)',
  'date-of-birth': 'a date of birth',
  email: 'an email address',
  phone: 'a telephone number',
  name: "a person's name",
  address: 'a postal address or a part of one',
  'ip-address': "the IP address of a person's device",
  'subject-id': 'the id of the customer or data subject the record is about; extracted so the ledger can list whose records were accessed (RSP-2)',
  financial: 'balances, positions, amounts: sensitive but not identifying',
  'free-text': 'text a person typed (memos, notes): may hold anything',
} as const);

export type Classification = keyof typeof CLASSIFICATIONS;

/** Class used for a classification value that is not a non-empty string. */
export const UNKNOWN_CLASS = 'unknown';

const ORDER: ReadonlyMap<string, number> = new Map(Object.keys(CLASSIFICATIONS).map((c, i) => [c, i]));

/**
 * Whether `name` is one of CLASSIFICATIONS.
 *
 * @example
 * isKnownClassification('ssn'); // true
 * isKnownClassification('dob'); // false: write date-of-birth
 */
export function isKnownClassification(name: string): name is Classification {
  return ORDER.has(name);
}

/** Nesting of distinct schemas (properties, items...) followed when building a map. */
export const MAX_SCHEMA_DEPTH = 32;
/** References and compositions followed along one path (a chain of distinct `$ref`s ends here). */
const MAX_HOPS = 128;
/** States of one map's automaton; beyond it the analysis stops (`complete: false`). */
const MAX_STATES = 4096;
/** Entries listed in `ClassificationMap.entries`. */
const MAX_ENTRIES = 1000;

/**
 * What the value at one location carries, and where to go from it. States are shared and may form
 * cycles (recursive schemas); they are frozen.
 */
export interface ClassState {
  /** Classes of the value at this location, secret first, then in CLASSIFICATIONS order. Also apply to everything below it. */
  readonly classes: readonly string[];
  /**
   * Transitions by object key (or array index as a decimal string). `null`: nothing is classified
   * below that key. A key that is absent here takes `any`.
   */
  readonly named: ReadonlyMap<string, ClassState | null>;
  /** Transition for array items and object keys not in `named`. */
  readonly any: ClassState | undefined;
  /** `classes` includes `secret`. */
  readonly secret: boolean;
  /** `classes` includes `subject-id`. */
  readonly subject: boolean;
}

/** One classified location, as a JSON pointer pattern: `*` stands for any array item or any other key. */
export interface ClassifiedPointer {
  readonly pointer: string;
  readonly classes: readonly string[];
}

/**
 * Which JSON locations of one body schema carry which classes.
 *
 * A property literally named `*` shows as `*` in `entries` too; the automaton keeps them apart.
 */
export interface ClassificationMap {
  /** The automaton body capture and DLP masking step through; undefined when nothing is classified. */
  readonly root: ClassState | undefined;
  /**
   * The classified locations for people and tests (`/customer/ssn`, `/items/*\/email`), at
   * most 1000. A recursive schema is listed down to where it repeats itself (`/owner` for a tree
   * of nodes with owners); `step` and `classesAt` follow the recursion to any depth.
   */
  readonly entries: readonly ClassifiedPointer[];
  /** Every class the schema declares, in CLASSIFICATIONS order (unknown classes last, sorted). */
  readonly classes: readonly string[];
  /** False when a bound (32 nested schemas, 4096 states) cut the analysis short. */
  readonly complete: boolean;
}

/**
 * The `properties` maps of a document's schemas as written, taken before the request-schema
 * normaliser rewrites them in place (with closedObjects it replaces readOnly properties by a
 * refusal, which would hide e.g. a readOnly `id: subject-id` from the response map too).
 */
export interface WrittenSchemas {
  readonly properties: ReadonlyMap<object, JsonObject>;
}

export interface BuildOptions {
  /** See WrittenSchemas; from scanClassifications. */
  written?: WrittenSchemas;
}

/** The classifications of one operation's bodies. */
export interface OperationClassifications {
  /** Of the request body's JSON and form media types; undefined when it has none with a schema. */
  request?: ClassificationMap;
  /** By response key as written in the document (`200`, `2XX`, `default`), when it has a JSON or form schema. */
  responses: ReadonlyMap<string, ClassificationMap>;
}

// ---------------------------------------------------------------------------------------------
// Building

/** A schema object as a node of the (possibly cyclic) schema graph. */
interface Node {
  id: number;
  classes: string[];
  /** properties, prefixItems / tuple items by index. */
  named?: Map<string, Node[]>;
  /** items, additionalProperties, patternProperties, unevaluated*: the rest. */
  any?: Node[];
  /** Unions: $ref, allOf, oneOf, anyOf, then/else, dependentSchemas. */
  eps?: Node[];
  /** Reaches a classification. */
  live: boolean;
  /** Reaches a place where a bound stopped the analysis. */
  cut: boolean;
}

function classOf(v: Json | undefined): string {
  if (typeof v !== 'string') return UNKNOWN_CLASS;
  const c = v.trim().toLowerCase();
  return c === '' ? UNKNOWN_CLASS : c;
}

/**
 * Orders class names: CLASSIFICATIONS order (secret first), then unknown classes alphabetically.
 *
 * @example
 * ['email', 'passport', 'secret'].sort(compareClasses); // ['secret', 'email', 'passport']
 */
export function compareClasses(a: string, b: string): number {
  const ra = ORDER.get(a) ?? ORDER.size;
  const rb = ORDER.get(b) ?? ORDER.size;
  return ra !== rb ? ra - rb : a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compiles the classification map of the schema(s) at `pointers` inside `root` (an OpenAPI
 * bundle, or a bare schema with pointer ''). `$ref`s resolve as local references against `root`.
 * Several pointers give the union of their maps (a body that may follow any of them).
 *
 * @example
 * const map = buildClassificationMap({
 *   type: 'object',
 *   properties: { ssn: { type: 'string', 'x-rampart-classification': 'ssn' }, items: { type: 'array', items: { $ref: '#/$defs/Item' } } },
 *   $defs: { Item: { properties: { email: { 'x-rampart-classification': 'email' } } } },
 * });
 * map.entries; // [{ pointer: '/ssn', classes: ['ssn'] }, { pointer: '/items/*\/email', classes: ['email'] }]
 */
export function buildClassificationMap(root: unknown, pointers: string | readonly string[] = '', options: BuildOptions = {}): ClassificationMap {
  return createClassifier(root, options).map(pointers);
}

export interface Classifier {
  /** The map of the schema(s) at `pointers` (see buildClassificationMap). */
  map(pointers: string | readonly string[]): ClassificationMap;
}

/**
 * A classifier over one document: schemas shared by many bodies (components) are analysed once
 * for all the maps it builds. The document must not change while the classifier is in use.
 *
 * @example
 * const classify = createClassifier(bundle.doc);
 * const a = classify.map('/components/schemas/Customer');
 * const b = classify.map(['/components/schemas/Account', '/components/schemas/Customer']); // reuses Customer
 */
export function createClassifier(root: unknown, options: BuildOptions = {}): Classifier {
  const written = options.written?.properties;
  const memo = new Map<object, Node>();
  let nextId = 0;
  /** Nodes created by the current map() call. */
  let fresh: Node[] = [];
  const CUT = Symbol('cut');

  const build = (schema: unknown, depth: number, hops: number): Node | undefined | typeof CUT => {
    if (!isObject(schema)) return undefined; // boolean schemas and junk carry no classification
    const hit = memo.get(schema);
    if (hit) return hit;
    if (depth > MAX_SCHEMA_DEPTH || hops > MAX_HOPS) return CUT;
    const n: Node = { id: nextId++, classes: [], live: false, cut: false };
    fresh.push(n);
    memo.set(schema, n); // before descending: a cycle meets this node again and links back
    if (schema[CLASSIFICATION_KEYWORD] !== undefined) n.classes.push(classOf(schema[CLASSIFICATION_KEYWORD]));

    const child = (s: Json | undefined, d: number, h: number): Node | undefined => {
      const t = build(s, d, h);
      if (t === CUT) {
        n.cut = true;
        return undefined;
      }
      return t;
    };
    const union = (s: Json | undefined): void => {
      const t = child(s, depth, hops + 1);
      if (t) (n.eps ??= []).push(t);
    };
    const rest = (s: Json | undefined): void => {
      const t = child(s, depth + 1, hops);
      if (t) (n.any ??= []).push(t);
    };
    const named = (k: string, s: Json | undefined): void => {
      n.named ??= new Map();
      let list = n.named.get(k);
      if (!list) n.named.set(k, (list = []));
      const t = child(s, depth + 1, hops);
      if (t) list.push(t);
    };

    const ref = schema['$ref'];
    if (typeof ref === 'string') {
      const p = localRefPointer(ref);
      if (p !== undefined) union(getAt(root, p) as Json | undefined);
    }
    for (const k of ['allOf', 'oneOf', 'anyOf'] as const) {
      const list = schema[k];
      if (Array.isArray(list)) for (const s of list) union(s);
    }
    // The normaliser turns a discriminator into if/then dispatches; either branch may describe the data.
    union(schema['then']);
    union(schema['else']);
    for (const k of ['dependentSchemas', 'dependencies'] as const) {
      const deps = schema[k];
      if (isObject(deps)) for (const s of Object.values(deps)) union(s);
    }

    const props = written?.get(schema) ?? schema['properties'];
    if (isObject(props)) for (const k in props) named(k, props[k]);
    const pattern = schema['patternProperties'];
    // Approximation: a pattern may match any key that `properties` does not name.
    if (isObject(pattern)) for (const s of Object.values(pattern)) rest(s);
    rest(schema['additionalProperties']);
    rest(schema['unevaluatedProperties']);

    const items = schema['items'];
    const prefix = Array.isArray(schema['prefixItems']) ? schema['prefixItems'] : Array.isArray(items) ? items : undefined;
    if (prefix) prefix.forEach((s, i) => named(String(i), s));
    if (isObject(items)) rest(items);
    else if (Array.isArray(items)) rest(schema['additionalItems']); // draft-04 tuples (OpenAPI 3.0)
    rest(schema['unevaluatedItems']);
    return n;
  };

  /**
   * Marks the fresh nodes that reach a classification (`live`) or a cut (`cut`), backwards over
   * reversed edges: linear in the size of what this call built. Nodes of earlier calls are final:
   * they never point to fresh ones.
   */
  const settle = (): void => {
    const parents = new Map<Node, Node[]>();
    const liveQ: Node[] = [];
    const cutQ: Node[] = [];
    for (const n of fresh) {
      if (n.classes.length > 0) n.live = true;
      const edge = (t: Node): void => {
        const l = parents.get(t);
        if (l) l.push(n);
        else parents.set(t, [n]);
        if (t.live) n.live = true;
        if (t.cut) n.cut = true;
      };
      if (n.eps) for (const t of n.eps) edge(t);
      if (n.any) for (const t of n.any) edge(t);
      if (n.named) for (const l of n.named.values()) for (const t of l) edge(t);
    }
    for (const n of fresh) {
      if (n.live) liveQ.push(n);
      if (n.cut) cutQ.push(n);
    }
    for (let i = 0; i < liveQ.length; i++) {
      for (const p of parents.get(liveQ[i]!) ?? []) {
        if (p.live) continue;
        p.live = true;
        liveQ.push(p);
      }
    }
    for (let i = 0; i < cutQ.length; i++) {
      for (const p of parents.get(cutQ[i]!) ?? []) {
        if (p.cut) continue;
        p.cut = true;
        cutQ.push(p);
      }
    }
    // Keep only what can reach a classification: a large unclassified schema costs nothing later.
    for (const n of fresh) {
      if (!n.live) continue;
      if (n.eps) n.eps = n.eps.filter((t) => t.live);
      if (n.any) n.any = n.any.filter((t) => t.live);
      if (n.named) {
        const anyLive = n.any !== undefined && n.any.length > 0;
        for (const [k, l] of n.named) {
          const kept = l.filter((t) => t.live);
          // An unclassified named property still hides `any` for its key; otherwise it can go.
          if (kept.length === 0 && !anyLive) n.named.delete(k);
          else n.named.set(k, kept);
        }
      }
    }
    fresh = [];
  };

  return {
    map(pointers: string | readonly string[]): ClassificationMap {
      const starts: Node[] = [];
      let complete = true;
      for (const p of typeof pointers === 'string' ? [pointers] : pointers) {
        const t = build(getAt(root, p), 0, 0);
        if (t === CUT) complete = false;
        else if (t) starts.push(t);
      }
      settle();
      if (starts.some((n) => n.cut)) complete = false;
      const { root: rootState, states, bounded } = determinize(starts.filter((n) => n.live));
      if (bounded) complete = false;
      const classes = new Set<string>();
      for (const s of states) for (const c of s.classes) classes.add(c);
      return Object.freeze({
        root: rootState,
        entries: Object.freeze(listEntries(rootState)),
        classes: Object.freeze([...classes].sort(compareClasses)),
        complete,
      });
    },
  };
}

interface Draft {
  nodes: Node[];
  state: { classes: readonly string[]; named: Map<string, ClassState | null>; any: ClassState | undefined; secret: boolean; subject: boolean };
}

const EMPTY_NAMED: ReadonlyMap<string, ClassState | null> = new Map();

/** Subset construction over the union (eps) closure, from the union of `starts`; returns frozen states. */
function determinize(starts: readonly Node[]): { root: ClassState | undefined; states: ClassState[]; bounded: boolean } {
  const byKey = new Map<string, Draft>();
  const work: Draft[] = [];
  let bounded = false;

  const stateFor = (seeds: readonly Node[]): ClassState | undefined => {
    const seen = new Set<Node>();
    const stack = [...seeds];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      if (n.eps) for (const t of n.eps) stack.push(t);
    }
    // Nodes that only unite others (a bare `$ref`, an allOf wrapper) add nothing of their own:
    // leaving them out makes a recursive schema come back to the same state.
    const nodes = [...seen].filter((n) => n.classes.length > 0 || (n.named?.size ?? 0) > 0 || (n.any?.length ?? 0) > 0).sort((a, b) => a.id - b.id);
    if (nodes.length === 0) return undefined;
    const key = nodes.map((n) => n.id).join(',');
    const hit = byKey.get(key);
    if (hit) return hit.state as ClassState;
    if (byKey.size >= MAX_STATES) {
      bounded = true;
      return undefined;
    }
    const classes = [...new Set(nodes.flatMap((n) => n.classes))].sort(compareClasses);
    const draft: Draft = {
      nodes,
      state: { classes: Object.freeze(classes), named: new Map(), any: undefined, secret: classes.includes('secret'), subject: classes.includes('subject-id') },
    };
    byKey.set(key, draft);
    work.push(draft);
    return draft.state as ClassState;
  };

  const root = stateFor(starts);
  for (let i = 0; i < work.length; i++) {
    const { nodes, state } = work[i]!;
    const anyTargets = nodes.flatMap((n) => n.any ?? []);
    state.any = anyTargets.length > 0 ? stateFor(anyTargets) : undefined;
    const keys = new Set<string>();
    for (const n of nodes) if (n.named) for (const k of n.named.keys()) keys.add(k);
    for (const k of keys) {
      // JSON Schema: `properties` decides for its own keys, the rest (additionalProperties,
      // items) for the others; in a union each branch decides for itself.
      const targets = nodes.flatMap((n) => n.named?.get(k) ?? n.any ?? []);
      const next = targets.length > 0 ? (stateFor(targets) ?? null) : null;
      if (next !== (state.any ?? null)) state.named.set(k, next);
    }
  }
  const states: ClassState[] = [];
  for (const { state } of byKey.values()) {
    if (state.named.size === 0) (state as { named: ReadonlyMap<string, ClassState | null> }).named = EMPTY_NAMED;
    states.push(Object.freeze(state) as ClassState);
  }
  return { root, states, bounded };
}

function listEntries(root: ClassState | undefined): ClassifiedPointer[] {
  const out: ClassifiedPointer[] = [];
  if (!root) return out;
  const onPath = new Set<ClassState>();
  let budget = 20 * MAX_ENTRIES;
  const visit = (s: ClassState, pointer: string, depth: number): void => {
    if (onPath.has(s) || depth > MAX_SCHEMA_DEPTH || out.length >= MAX_ENTRIES || budget-- <= 0) return;
    onPath.add(s);
    if (s.classes.length > 0) out.push(Object.freeze({ pointer, classes: s.classes }));
    for (const [k, next] of s.named) if (next) visit(next, `${pointer}/${escapeSegment(k)}`, depth + 1);
    if (s.any) visit(s.any, `${pointer}/*`, depth + 1);
    onPath.delete(s);
  };
  visit(root, '', 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading a map

/**
 * The state for `key` (an object key, or an array index as a decimal string) below `state`.
 *
 * @example
 * const s = step(step(map.root, 'items'), '0'); // the state of /items/0
 */
export function step(state: ClassState | undefined, key: string): ClassState | undefined {
  if (state === undefined) return undefined;
  const next = state.named.get(key);
  return next === undefined ? state.any : (next ?? undefined);
}

/**
 * Every class that applies at a location: its own and those of the values containing it.
 *
 * @example
 * classesAt(map, ['customer', 'addresses', 0, 'city']); // ['address']
 */
export function classesAt(map: ClassificationMap | undefined, path: readonly (string | number)[]): string[] {
  let s = map?.root;
  const out = new Set<string>(s?.classes ?? []);
  for (const seg of path) {
    s = step(s, String(seg));
    if (!s) break;
    for (const c of s.classes) out.add(c);
  }
  return [...out].sort(compareClasses);
}

// ---------------------------------------------------------------------------------------------
// Operations of a loaded document

/** JSON (`application/json`, any `+json`) and form media types: the bodies capture and DLP understand. */
function structured(key: string): boolean {
  return key === 'application/json' || key.endsWith('+json') || key === 'application/x-www-form-urlencoded';
}

/**
 * Pointers of the schemas of a `content` map's JSON and form media types. A schema that is only
 * a `$ref` is named by its target, so that operations sharing a schema share its map.
 */
function contentSchemas(doc: JsonObject, content: Json | undefined, pointer: string): string[] {
  const out: string[] = [];
  if (!isObject(content)) return out;
  for (const [key, raw] of Object.entries(content)) {
    const norm = normalizeContentKey(key);
    if (norm === undefined || !structured(norm)) continue;
    const { node: mt, pointer: at } = safeDeref(doc, raw, `${pointer}/${escapeSegment(key)}`);
    if (!isObject(mt) || mt['schema'] === undefined) continue;
    const schema = mt['schema'];
    const pure = isObject(schema) && typeof schema['$ref'] === 'string' && Object.keys(schema).length === 1;
    const p = pure ? safeDeref(doc, schema, `${at}/schema`).pointer : `${at}/schema`;
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

/** Per document: its classifier and the maps built, by schema pointers (shared schemas are analysed once). */
const perDocument = new WeakMap<object, { classifier: Classifier; maps: Map<string, ClassificationMap> }>();

function mapFor(doc: JsonObject, schemas: readonly string[], written: WrittenSchemas | undefined): ClassificationMap {
  const owner: object = written ?? doc; // one snapshot belongs to one document
  let d = perDocument.get(owner);
  if (!d) perDocument.set(owner, (d = { classifier: createClassifier(doc, { written }), maps: new Map() }));
  const key = schemas.join('\n');
  let map = d.maps.get(key);
  if (!map) d.maps.set(key, (map = d.classifier.map(schemas)));
  return map;
}

function safeDeref(doc: JsonObject, node: Json | undefined, pointer: string): { node: Json | undefined; pointer: string } {
  try {
    return deref(doc, node, pointer);
  } catch {
    return { node: undefined, pointer }; // a reference cycle: the loader has refused or reported it
  }
}

/**
 * The classification maps of one operation of a bundled document (see resolve-refs.ts): its
 * request body and each response, from the JSON and form media types' schemas (the union of
 * them when there are several). Maps of shared schemas are built once per document. Pass the
 * `written` snapshot of scanClassifications when the document has been normalised since.
 *
 * @example
 * const c = classifyOperation(bundle.doc, '/paths/~1customers~1{id}/get');
 * c.responses.get('200')?.entries; // [{ pointer: '/ssn', classes: ['ssn'] }, ...]
 */
export function classifyOperation(doc: JsonObject, operationPointer: string, written?: WrittenSchemas): OperationClassifications {
  const op = getAt(doc, operationPointer);
  const responses = new Map<string, ClassificationMap>();
  const out: OperationClassifications = { responses };
  if (!isObject(op)) return out;
  if (op['requestBody'] !== undefined) {
    const { node: rb, pointer } = safeDeref(doc, op['requestBody'], `${operationPointer}/requestBody`);
    if (isObject(rb)) {
      const schemas = contentSchemas(doc, rb['content'], `${pointer}/content`);
      if (schemas.length > 0) out.request = mapFor(doc, schemas, written);
    }
  }
  const rs = op['responses'];
  if (isObject(rs)) {
    for (const [code, raw] of Object.entries(rs)) {
      if (code.startsWith('x-')) continue;
      const { node: r, pointer } = safeDeref(doc, raw, `${operationPointer}/responses/${escapeSegment(code)}`);
      if (!isObject(r)) continue;
      const schemas = contentSchemas(doc, r['content'], `${pointer}/content`);
      if (schemas.length > 0) responses.set(code === 'default' ? code : code.toUpperCase(), mapFor(doc, schemas, written));
    }
  }
  return out;
}

/**
 * One pass over a document before it is normalised: classification values that are not known
 * classes (warnings for the loader: they are treated as personal data), and the `properties`
 * maps as written (see WrittenSchemas). Looks at schemas anywhere, except inside examples and
 * defaults.
 *
 * @example
 * const { issues, written } = scanClassifications(bundle.doc);
 * issues; // [{ pointer: '/components/schemas/C/properties/dob/x-rampart-classification', message: "..." }]
 */
export function scanClassifications(doc: unknown): { issues: { pointer: string; message: string }[]; written: WrittenSchemas } {
  const issues: { pointer: string; message: string }[] = [];
  const properties = new Map<object, JsonObject>();
  const seen = new Set<object>();
  // Recursive over one segment list, like the bundler's walk (which has already been through the
  // same document): a pointer string is built only for an issue.
  const segs: string[] = [];
  const issue = (message: string): void => {
    if (issues.length < 100) issues.push({ pointer: segs.map((s) => '/' + escapeSegment(s)).join('') + `/${CLASSIFICATION_KEYWORD}`, message });
  };
  const visit = (node: object): void => {
    if (seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const v: unknown = node[i];
        if (typeof v !== 'object' || v === null) continue;
        segs.push(String(i));
        visit(v);
        segs.pop();
      }
      return;
    }
    const o = node as Record<string, unknown>;
    const props = o['properties'];
    if (typeof props === 'object' && props !== null && !Array.isArray(props)) properties.set(o, props as JsonObject);
    const c = o[CLASSIFICATION_KEYWORD];
    if (c !== undefined) {
      if (typeof c !== 'string' || c.trim() === '') {
        issue(`${CLASSIFICATION_KEYWORD} must be a non-empty string naming a class; it is treated as personal data of class '${UNKNOWN_CLASS}'`);
      } else if (!isKnownClassification(classOf(c))) {
        issue(`${CLASSIFICATION_KEYWORD} '${classOf(c)}' is not a known class (${Object.keys(CLASSIFICATIONS).join(', ')}); it is treated as personal data`);
      }
    }
    for (const k in o) {
      const v = o[k];
      if (typeof v !== 'object' || v === null) continue;
      if (k === 'example' || k === 'examples' || k === 'default' || k === 'enum' || k === 'const' || k === 'x-rampart-variants') continue;
      segs.push(k);
      visit(v);
      segs.pop();
    }
  };
  if (typeof doc === 'object' && doc !== null) visit(doc);
  return { issues, written: { properties } };
}

// ---------------------------------------------------------------------------------------------
// Secrets by name

const SECRET_TERMS = [
  'password', 'passwd', 'passphrase', 'secret', 'clientsecret', 'token', 'accesstoken', 'refreshtoken', 'idtoken',
  'apikey', 'privatekey', 'pin', 'cvv', 'cvc', 'otp', 'totp', 'mfacode', 'recoverycode', 'sessionid', 'cookie',
];
/** Compound names ending in a term are secrets too (`newPassword`, `client_secret`, `x-api-key`, `cardCvv`). */
// eslint-disable-next-line security/detect-non-literal-regexp -- constant source: the literal SECRET_TERMS words above
const SECRET_SUFFIX = new RegExp(`(?:${SECRET_TERMS.join('|')})$`);
/** `authorization` only as a whole name: `preAuthorization` is a payment, not a credential. */
const SECRET_EXACT = new Set(['authorization', 'proxyauthorization']);
/** `passwordConfirmation`, `password2`, `passwordHash`. */
const SECRET_PREFIX = /^(?:password|passwd|passphrase)/;
const nameCache = new Map<string, boolean>();

/**
 * Whether a property (or form field) name denotes a secret, compared case-insensitively and
 * ignoring `_` and `-`: the terms password, passwd, passphrase, secret, clientsecret, token,
 * accesstoken, refreshtoken, idtoken, apikey, authorization, privatekey, pin, cvv, cvc, otp,
 * totp, mfacode, recoverycode, sessionid, cookie; compounds ending in one of them (except
 * authorization), names starting with password/passwd/passphrase, plurals and trailing digits.
 * Errs towards redaction: `nextPageToken` is redacted too (ASVS 7.1.1: no credentials in logs).
 *
 * @example
 * isSecretName('client_secret'); // true
 * isSecretName('X-API-Key');     // true
 * isSecretName('shipping');      // false
 */
export function isSecretName(name: string): boolean {
  const hit = nameCache.get(name);
  if (hit !== undefined) return hit;
  let n = name.toLowerCase();
  if (n.indexOf('_') !== -1 || n.indexOf('-') !== -1) n = n.replace(/[_-]/g, '');
  const last = n.charCodeAt(n.length - 1);
  if (last >= 48 && last <= 57) n = n.replace(/[0-9]+$/, '');
  const stem = n.length > 1 && n.endsWith('s') ? n.slice(0, -1) : n;
  const secret = SECRET_EXACT.has(n) || SECRET_EXACT.has(stem) || SECRET_PREFIX.test(n) || SECRET_SUFFIX.test(n) || SECRET_SUFFIX.test(stem);
  if (name.length <= 64) {
    // Bounded: hostile bodies with random keys must not grow it without end.
    if (nameCache.size >= 4096) nameCache.clear();
    nameCache.set(name, secret);
  }
  return secret;
}
