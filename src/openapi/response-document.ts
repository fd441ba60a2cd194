/**
 * A second, untouched copy of a loaded OpenAPI document, for response validation (API10).
 *
 * The loader normalises the bundled document in place for request validation (readOnly refused,
 * objects closed per `closedObjects`...), and responses need a differently normalised copy
 * (writeOnly refused, readOnly allowed). Taking a copy at load would cost load time on every
 * start (structuredClone of GitHub's 6.9 MB document: ~200 ms, about half of its load), while
 * most gateways validate responses of a fraction of their operations. So the copy is rebuilt on
 * first use from the texts the loader already read: each file is parsed again (JSON.parse, ~70 ms
 * for GitHub's document: the strict checks passed at load) and its references are rewritten into
 * the bundle exactly as resolve-refs.ts did: same walk (root first, then every reference target in
 * order, with the same rules for name maps and data keywords), same mounts. No file is read again
 * from disk: the copy matches what was loaded even if the files have changed since.
 *
 * The walk below mirrors `bundle()` in resolve-refs.ts (which reads from disk and cannot take
 * texts); a change to its rules must be made in both places.
 */
import { dirname, resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type Json, type JsonObject, type SourceFile, FILES_KEY, isObject, fragmentToPointer, pointerToFragment, localRefPointer, getAt } from './resolve-refs.js';

/** As in resolve-refs.ts: keys whose value is a map of names, not of keywords. */
const NAME_MAPS = new Set([
  'properties', 'patternProperties', 'definitions', '$defs', 'dependentSchemas', 'dependencies',
  'paths', 'webhooks', 'callbacks', 'schemas', 'responses', 'parameters', 'requestBodies', 'headers',
  'securitySchemes', 'links', 'content', 'encoding', 'variables', 'pathItems', 'mapping', 'scopes',
]);

/** As in resolve-refs.ts: data and documentation, never references to follow. */
function isDataKey(k: string): boolean {
  return k === 'example' || k === 'examples' || k === 'default' || k === 'enum' || k === 'const' || k.startsWith('x-');
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * Whether bundling rewrote anything: always with several files; for one JSON file only a
 * reference to itself by file name (`openapi.json#/...`) or a discriminator mapping can change.
 * Errs towards walking: YAML (keys can be spelt many ways; its parse dwarfs the walk), a property
 * named `$ref`, a `\u` escape of one of the characters of `$ref` all walk.
 */
function needsRewrite(files: readonly SourceFile[]): boolean {
  if (files.length !== 1 || files[0]!.format !== 'json') return true;
  const t = files[0]!.text;
  if (/\\u00(?:24|72|65|66)/i.test(t) || /"\$ref"\s*:\s*(?!"#)/.test(t)) return true;
  // Mapping values are rewritten when they look like references to a file (see bundle()): a flat
  // object of strings each either a schema name or `#...` needs nothing.
  // Whitespace has one owner: it belongs to the `\s*` after a value (or after `{` or a comma).
  // The former spelling `\{(?:\s*"…"\s*:\s*"…"\s*,?)*\s*\}` let the blanks between two
  // entries without a comma go to either side, which is exponential on a mapping that does not
  // close (`{"a":"b" "a":"b" …`, API4); this one accepts the same texts (test/unit/redos-response-document.test.ts).
  // eslint-disable-next-line security/detect-unsafe-regex -- linear: string bodies `(?:[^"\\]|\\.)*` are deterministic, and every `\s*` is followed by a character it cannot match ('"', ':', ',' or '}')
  const flat = /\{\s*(?:"(?:[^"\\]|\\.)*"\s*:\s*"(?:[^"\\]|\\.)*"\s*(?:,\s*)?)*\}/y;
  for (const m of t.matchAll(/"mapping"\s*:\s*/g)) {
    flat.lastIndex = m.index + m[0].length;
    const obj = flat.exec(t);
    if (!obj) return true;
    if (/:\s*"(?!#)(?:[^"\\]|\\.)*?(?:[#/]|\.(?:ya?ml|json)")/i.test(obj[0])) return true;
  }
  return false;
}

function parseSource(f: SourceFile): Json {
  // Both parsers already accepted this exact text at load (JSON strictly: no duplicate keys).
  return f.format === 'json' ? (JSON.parse(f.text) as Json) : (parseYaml(f.text, { uniqueKeys: true, merge: true }) as Json);
}

/**
 * Parses the source files of a loaded bundle again and bundles them in memory, giving a document
 * equal to what `bundle()` returned before any normalisation. `files` is `Bundle.files` (root
 * first). Throws a plain Error when the list is not a bundle's.
 *
 * @example
 * const b = bundle('openapi.yaml');          // the loader's bundle, later normalised in place
 * const fresh = rebuildDocument(b.files);    // deep-equal to the bundle as it was
 */
export function rebuildDocument(files: readonly SourceFile[]): JsonObject {
  const root = files[0];
  if (!root || root.mount !== '') throw new Error('rebuildDocument: the first file must be the root document');
  const doc = parseSource(root);
  if (!isObject(doc)) throw new Error('rebuildDocument: the root document is not an object');
  const byPath = new Map<string, SourceFile>();
  const byMount = new Map<string, SourceFile>();
  for (const f of files) {
    byPath.set(f.path, f);
    byMount.set(f.mount, f);
  }
  if (files.length > 1) {
    const mounted: Json[] = [];
    for (const f of files.slice(1)) {
      const m = /^\/x-rampart-files\/(\d+)$/.exec(f.mount);
      if (!m) throw new Error(`rebuildDocument: unexpected mount ${f.mount}`);
      mounted[Number(m[1])] = parseSource(f);
    }
    doc[FILES_KEY] = mounted;
  }

  // A single file whose references are all `#...` (and no discriminator mapping) is already in
  // bundle form once parsed: skip the walk (about as long as the parse for GitHub's document).
  if (!needsRewrite(files)) return doc;

  const origin = (pointer: string): SourceFile => {
    const m = /^\/x-rampart-files\/(\d+)/.exec(pointer);
    return (m ? byMount.get(`/${FILES_KEY}/${m[1]}`) : undefined) ?? root;
  };

  /** The bundle form of a reference written in `src`; undefined leaves it as written. */
  const rewrite = (ref: string, src: SourceFile): string | undefined => {
    const hash = ref.indexOf('#');
    const uriPart = hash === -1 ? ref : ref.slice(0, hash);
    const pointer = fragmentToPointer(hash === -1 ? '' : ref.slice(hash + 1));
    if (pointer === undefined || (pointer !== '' && pointer[0] !== '/')) return undefined;
    if (uriPart === '') return src.mount === '' ? ref : '#' + pointerToFragment(src.mount + pointer);
    if (/^[a-z][a-z0-9+.-]*:/i.test(uriPart) || uriPart.startsWith('//')) return undefined;
    let relPath: string;
    try {
      relPath = decodeURIComponent(uriPart);
    } catch {
      return undefined;
    }
    const target = byPath.get(resolvePath(dirname(src.path), relPath.split('?')[0]!));
    return target ? '#' + pointerToFragment(target.mount + pointer) : undefined;
  };

  const visited = new WeakSet<object>();
  const queue: string[] = [];
  const walk = (start: Json, src: SourceFile): void => {
    const visit = (node: Json, nameMap: boolean): void => {
      if (Array.isArray(node)) {
        if (visited.has(node)) return;
        visited.add(node);
        for (let i = 0; i < node.length; i++) {
          const v = node[i];
          if (typeof v !== 'object' || v === null) continue;
          visit(v, false);
        }
        return;
      }
      if (!isObject(node) || visited.has(node)) return;
      visited.add(node);
      if (!nameMap) {
        const ref = node['$ref'];
        if (typeof ref === 'string') {
          const rewritten = rewrite(ref, src);
          if (rewritten !== undefined) {
            node['$ref'] = rewritten;
            const target = localRefPointer(rewritten);
            if (target !== undefined) queue.push(target);
          }
        }
        const disc = node['discriminator'];
        if (isObject(disc) && isObject(disc['mapping'])) {
          const mapping = disc['mapping'];
          for (const k of Object.keys(mapping)) {
            const v = mapping[k];
            if (typeof v === 'string' && (v.includes('#') || v.includes('/') || /\.(ya?ml|json)$/i.test(v))) {
              const rewritten = rewrite(v, src);
              if (rewritten === undefined) continue;
              mapping[k] = rewritten;
              const target = localRefPointer(rewritten);
              if (target !== undefined) queue.push(target);
            }
          }
        }
      }
      for (const k in node) {
        if (!hasOwn(node, k)) continue;
        if (!nameMap && (k === '$ref' || isDataKey(k))) continue;
        const v = node[k];
        if (typeof v !== 'object' || v === null) continue;
        visit(v as Json, !nameMap && NAME_MAPS.has(k));
      }
    };
    visit(start, false);
  };

  walk(doc, root);
  const walked = new Set<string>();
  for (let i = 0; i < queue.length; i++) {
    const target = queue[i]!;
    if (walked.has(target)) continue;
    walked.add(target);
    const node = getAt(doc, target);
    if (typeof node === 'object' && node !== null) walk(node as Json, origin(target));
  }
  return doc;
}
