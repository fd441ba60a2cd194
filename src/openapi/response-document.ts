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
 * the bundle by resolve-refs.ts's own `bundle()`, given a reader over those texts: the same walk,
 * so the same mounts. No file is read again from disk: the copy matches what was loaded even if
 * the files have changed since.
 */
import { parse as parseYaml } from 'yaml';
import { bundle, isObject, type Json, type JsonObject, type SourceFile, type SourceReader } from './resolve-refs.js';

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
  // A single file whose references are all `#...` (and no discriminator mapping) is already in
  // bundle form once parsed: skip the walk (about as long as the parse for GitHub's document).
  if (!needsRewrite(files)) {
    const doc = parseSource(root);
    if (!isObject(doc)) throw new Error('rebuildDocument: the root document is not an object');
    return doc;
  }
  const byPath = new Map<string, SourceFile>(files.map((f) => [f.path, f]));
  // bundle() walks as it did at load, so it asks for the same files in the same order.
  const read: SourceReader = (path, mount) => {
    const f = mount === '' ? root : byPath.get(path);
    if (!f || f.mount !== mount) throw new Error(`rebuildDocument: ${path} is not the loaded bundle's file at '${mount}'`);
    return { value: parseSource(f), source: f };
  };
  return bundle(root.path, read).doc;
}
