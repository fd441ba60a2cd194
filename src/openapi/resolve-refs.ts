/**
 * Reads an OpenAPI document and the local files it references, and bundles them into one
 * in-memory document in which every `$ref` is internal (`#/...`).
 *
 * OpenAPI 3.1 §4.8.23 / 3.0 §4.7.26 (Reference Object): `$ref` is a URI reference resolved
 * against the referring document. We accept relative file references (`./schemas/account.yaml#/Account`,
 * `common.yaml`) and refuse network ones: a gateway's contract must not change because a remote
 * server did (and fetching at start would be an SSRF and availability hazard).
 *
 * Each referenced file is parsed once and mounted whole under `/x-rampart-files/<n>` of the root
 * document; refs are rewritten to point there. Internal refs stay refs, so recursive schemas work
 * and ajv later resolves them against the one registered document. Only what the root document
 * and the referenced parts reach is walked, so a broken corner of a shared file that nothing uses
 * does not stop loading.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath, relative } from 'node:path';
import { LineCounter, parse as parseYaml, parseDocument, isMap, isSeq, isScalar, isPair, type Node as YamlNode } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { parseStrictJson, lineColumnAt } from './json-strict.js';

/** Root key under which referenced files are mounted. */
export const FILES_KEY = 'x-rampart-files';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface SourceFile {
  /** Absolute path. */
  path: string;
  text: string;
  format: 'json' | 'yaml';
  /** Pointer in the bundle where this file is mounted ('' for the root document). */
  mount: string;
  /** Time spent parsing, ms. */
  parseMs: number;
}

export interface Bundle {
  doc: JsonObject;
  root: SourceFile;
  files: SourceFile[];
  /** Number of `$ref`s seen. */
  refCount: number;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

// ---------------------------------------------------------------------------------------------
// JSON pointers (RFC 6901), also in their URI-fragment form (§6: percent-encoded).

export function escapeSegment(s: string): string {
  if (s.indexOf('~') === -1 && s.indexOf('/') === -1) return s;
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function formatPointer(segs: readonly (string | number)[]): string {
  let p = '';
  for (const s of segs) p += '/' + escapeSegment(String(s));
  return p;
}

/** Splits a JSON pointer ('' or '/a/b'); returns undefined when malformed. */
export function parsePointer(p: string): string[] | undefined {
  if (p === '') return [];
  if (p[0] !== '/') return undefined;
  return p
    .slice(1)
    .split('/')
    .map((s) => (s.indexOf('~') === -1 ? s : s.replace(/~1/g, '/').replace(/~0/g, '~')));
}

/** Decodes a URI fragment (without '#') into a JSON pointer string. */
export function fragmentToPointer(fragment: string): string | undefined {
  try {
    return fragment.indexOf('%') === -1 ? fragment : decodeURIComponent(fragment);
  } catch {
    return undefined;
  }
}

/**
 * Encodes a JSON pointer as a URI fragment the way ajv expects to read it back
 * (ajv: unescapeFragment = unescapeJsonPointer(decodeURIComponent(part))).
 */
export function pointerToFragment(pointer: string): string {
  return pointer
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%7E/gi, '~'))
    .join('/');
}

export function getAt(doc: unknown, pointer: string): unknown {
  const segs = parsePointer(pointer);
  if (!segs) return undefined;
  let cur: unknown = doc;
  for (const s of segs) {
    if (Array.isArray(cur)) {
      const i = Number(s);
      if (!Number.isInteger(i) || i < 0 || String(i) !== s) return undefined;
      cur = cur[i];
    } else if (isObject(cur)) {
      if (!hasOwn(cur, s)) return undefined;
      cur = cur[s];
    } else return undefined;
  }
  return cur;
}

/** The pointer a local `$ref` names, or undefined when the ref is not `#...` with a pointer. */
export function localRefPointer(ref: string): string | undefined {
  if (ref[0] !== '#') return undefined;
  const p = fragmentToPointer(ref.slice(1));
  if (p === undefined || (p !== '' && p[0] !== '/')) return undefined;
  return p;
}

/**
 * Follows `$ref` chains from an object in the bundle. Returns the target and its pointer.
 * Throws (as a plain Error, the caller adds the file) on a cycle of pure references.
 */
export function deref(doc: JsonObject, node: Json | undefined, pointer: string): { node: Json | undefined; pointer: string } {
  let cur = node;
  let ptr = pointer;
  for (let hops = 0; isObject(cur) && typeof cur['$ref'] === 'string'; hops++) {
    if (hops > 64) throw new Error('reference cycle');
    const p = localRefPointer(cur['$ref']);
    if (p === undefined) return { node: undefined, pointer: ptr };
    ptr = p;
    cur = getAt(doc, p) as Json | undefined;
  }
  return { node: cur, pointer: ptr };
}

// ---------------------------------------------------------------------------------------------
// Reading files

/**
 * Reads and parses one document. JSON (by extension or first character) goes through the strict
 * parser, which is fast and refuses duplicate keys; YAML through `yaml` with unique keys.
 */
export function readSourceFile(path: string, mount: string, referrer?: { file: string; pointer: string; text: string }): { value: Json; source: SourceFile } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const msg = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? 'error'})`;
    if (referrer) throw refError(referrer.file, referrer.pointer, `$ref target file ${path} ${msg}`, referrer.text);
    throw new ConfigError([{ file: path, message: `OpenAPI document ${msg}` }]);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // editors' BOM; not content
  const first = /\S/.exec(text)?.[0];
  const isJson = /\.json$/i.test(path) || first === '{' || first === '[';
  const t0 = performance.now();
  let value: Json;
  if (isJson) {
    const r = parseStrictJson(text, { maxDepth: 1000 });
    if (!r.ok) {
      const { line, column } = lineColumnAt(text, r.error.offset);
      const what =
        r.error.kind === 'syntax'
          ? 'is not valid JSON'
          : r.error.kind === 'duplicate-key'
            ? `repeats the key '${r.error.key ?? ''}'`
            : r.error.kind === 'forbidden-key'
              ? "uses the forbidden key '__proto__'"
              : 'nests too deeply';
      throw new ConfigError([{ file: path, line, column, pointer: r.error.pointer || undefined, message: `document ${what}` }]);
    }
    value = r.value as Json;
  } else {
    try {
      // uniqueKeys: a repeated key in YAML is an error (YAML 1.2 §3.2.1.1), not "last one wins".
      // merge: `<<` merge keys appear in hand-written specs.
      value = parseYaml(text, { uniqueKeys: true, merge: true, prettyErrors: true }) as Json;
    } catch (e) {
      const err = e as { linePos?: { line: number; col: number }[]; message?: string };
      const pos = err.linePos?.[0];
      const message = String(err.message ?? e).split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw new ConfigError([{ file: path, line: pos?.line, column: pos?.col, message: `invalid YAML: ${message}` }]);
    }
  }
  const parseMs = performance.now() - t0;
  // A referenced file may hold any JSON value (a whole-file ref names it); the root must be a map.
  if (!referrer && !isObject(value)) {
    throw new ConfigError([{ file: path, line: 1, message: 'the document must be a mapping (an object) at the top level' }]);
  }
  return { value, source: { path, text, format: isJson ? 'json' : 'yaml', mount, parseMs } };
}

/**
 * 1-based line and column of the value at `pointer` in a source file. Only used on the error
 * path: it re-parses the file with positions.
 */
export function locate(source: Pick<SourceFile, 'text'>, pointer: string): { line: number; column: number } | undefined {
  const segs = parsePointer(pointer);
  if (!segs) return undefined;
  try {
    const lc = new LineCounter();
    const d = parseDocument(source.text, { lineCounter: lc, uniqueKeys: false, keepSourceTokens: false });
    let node: unknown = d.contents;
    let best: YamlNode | undefined = node as YamlNode | undefined;
    for (const s of segs) {
      let next: unknown;
      let at: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === s);
        next = pair?.value;
        // The line of a key is where a reader looks for "this entry".
        at = pair?.key;
      } else if (isSeq(node)) {
        next = node.items[Number(s)];
        at = next;
      }
      if (at === undefined || at === null) break;
      best = at as YamlNode;
      if (next === undefined || next === null) break;
      node = next;
    }
    const range = best?.range;
    if (!range) return undefined;
    const pos = lc.linePos(range[0]);
    return { line: pos.line, column: pos.col };
  } catch {
    return undefined;
  }
}

function refError(file: string, pointer: string, message: string, text?: string): ConfigError {
  const pos = text !== undefined ? locate({ text }, pointer) : undefined;
  return new ConfigError([{ file, line: pos?.line, column: pos?.column, pointer: pointer || undefined, message }]);
}

// ---------------------------------------------------------------------------------------------
// Bundling

/**
 * Keys whose value is a map of names (property names, status codes, media types...), not of
 * keywords. Inside such a map every key is walked, even `example` or `x-foo`.
 */
const NAME_MAPS = new Set([
  'properties', 'patternProperties', 'definitions', '$defs', 'dependentSchemas', 'dependencies',
  'paths', 'webhooks', 'callbacks', 'schemas', 'responses', 'parameters', 'requestBodies', 'headers',
  'securitySchemes', 'links', 'content', 'encoding', 'variables', 'pathItems', 'mapping', 'scopes',
]);

/**
 * Keys whose values are data or documentation, never references we must follow: examples,
 * defaults, enumerations, extensions. A `$ref` inside an example is an example, not a reference.
 */
function isDataKey(k: string): boolean {
  return k === 'example' || k === 'examples' || k === 'default' || k === 'enum' || k === 'const' || k.startsWith('x-');
}

interface PendingRef {
  /** Bundle pointer of the reference value (for messages). */
  at: string;
  /** The reference as written (for messages). */
  ref: string;
  /** Bundle pointer of the target. */
  target: string;
}

/** How bundle() gets a file: read and parsed from disk, or (./response-document.ts) from texts read before. */
export type SourceReader = (path: string, mount: string, referrer?: { file: string; pointer: string; text: string }) => { value: Json; source: SourceFile };

/**
 * Bundles the document at `rootPath` and every file it references into one document (see the
 * header); `read` supplies each file, from disk by default.
 */
export function bundle(rootPath: string, read: SourceReader = readSourceFile): Bundle {
  const absRoot = resolvePath(rootPath);
  const { value, source: root } = read(absRoot, '');
  const doc = value as JsonObject;
  if (hasOwn(doc, FILES_KEY)) {
    throw new ConfigError([{ file: absRoot, pointer: `/${FILES_KEY}`, message: `the key ${FILES_KEY} is reserved for Rampart` }]);
  }
  const files: SourceFile[] = [root];
  const byPath = new Map<string, SourceFile>([[absRoot, root]]);
  // Mounted now so that pointers into it resolve while walking; the root walk skips it (x- key).
  const mounted: Json[] = [];
  doc[FILES_KEY] = mounted;
  const visited = new WeakSet<object>();
  const queue: PendingRef[] = [];
  let refCount = 0;

  /** The file a bundle pointer lives in, and the pointer inside that file. */
  const origin = (pointer: string): { source: SourceFile; inner: string } => {
    const m = /^\/x-rampart-files\/(\d+)(.*)$/.exec(pointer);
    if (m) {
      const src = files.find((f) => f.mount === `/${FILES_KEY}/${m[1]}`);
      if (src) return { source: src, inner: m[2] ?? '' };
    }
    return { source: root, inner: pointer };
  };
  const failAt = (pointer: string, message: string): ConfigError => {
    const { source, inner } = origin(pointer);
    return refError(source.path, inner, message, source.text);
  };

  /** Rewrites one reference string found in `file` (mounted at `mount`); returns the bundle ref. */
  const rewrite = (ref: string, src: SourceFile, at: string): string => {
    const hash = ref.indexOf('#');
    const uriPart = hash === -1 ? ref : ref.slice(0, hash);
    const fragment = hash === -1 ? '' : ref.slice(hash + 1);
    const pointer = fragmentToPointer(fragment);
    if (pointer === undefined || (pointer !== '' && pointer[0] !== '/')) {
      throw failAt(at, `$ref ${JSON.stringify(ref)}: only JSON-pointer fragments are supported (no anchors)`);
    }
    if (uriPart === '') {
      return src.mount === '' ? ref : '#' + pointerToFragment(src.mount + pointer);
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(uriPart) || uriPart.startsWith('//')) {
      const network = /^(https?:|\/\/)/i.test(uriPart);
      throw failAt(
        at,
        network
          ? `$ref ${JSON.stringify(ref)}: network references are not supported; copy the document next to the spec and use a relative file reference`
          : `$ref ${JSON.stringify(ref)}: only relative file references are supported`,
      );
    }
    let relPath: string;
    try {
      relPath = decodeURIComponent(uriPart);
    } catch {
      throw failAt(at, `$ref ${JSON.stringify(ref)}: invalid percent-encoding`);
    }
    const abs = resolvePath(dirname(src.path), relPath.split('?')[0]!);
    let target = byPath.get(abs);
    if (!target) {
      const mount = `/${FILES_KEY}/${mounted.length}`;
      const { source: referrerSrc, inner } = origin(at);
      const loaded = read(abs, mount, { file: referrerSrc.path, pointer: inner, text: referrerSrc.text });
      mounted.push(loaded.value);
      target = loaded.source;
      files.push(target);
      byPath.set(abs, target);
    }
    return '#' + pointerToFragment(target.mount + pointer);
  };

  /** Walks a subtree of the bundle that lives in `src`, rewriting refs and queueing targets. */
  const walk = (start: Json, startPointer: string, src: SourceFile): void => {
    // Recursive over a shared segment list: no pointer string is built unless a reference or an
    // error needs it (a 4 MB document has hundreds of thousands of nodes). Depth is bounded by
    // the parsers (JSON maxDepth) and by the shape of OpenAPI documents.
    const segs: string[] = [];
    const here = (): string => startPointer + formatPointer(segs);
    const visit = (node: Json, nameMap: boolean): void => {
      if (Array.isArray(node)) {
        if (visited.has(node)) return;
        visited.add(node);
        for (let i = 0; i < node.length; i++) {
          const v = node[i];
          if (typeof v !== 'object' || v === null) continue;
          segs.push(String(i));
          visit(v, false);
          segs.pop();
        }
        return;
      }
      if (!isObject(node) || visited.has(node)) return;
      visited.add(node);
      if (hasOwn(node, '__proto__')) throw failAt(here(), "the key '__proto__' is not allowed");
      if (!nameMap) {
        const ref = node['$ref'];
        if (ref !== undefined) {
          const pointer = here();
          if (typeof ref !== 'string') throw failAt(pointer + '/$ref', '$ref must be a string');
          refCount++;
          const rewritten = rewrite(ref, src, pointer + '/$ref');
          node['$ref'] = rewritten;
          queue.push({ at: pointer + '/$ref', ref, target: localRefPointer(rewritten)! });
        }
        // Discriminator mapping values may be references too (OpenAPI 3.1 §4.8.25).
        const disc = node['discriminator'];
        if (isObject(disc) && isObject(disc['mapping'])) {
          const mapping = disc['mapping'];
          for (const [k, v] of Object.entries(mapping)) {
            // A value is a schema name unless it looks like a URI reference.
            if (typeof v === 'string' && (v.includes('#') || v.includes('/') || /\.(ya?ml|json)$/i.test(v))) {
              const at = `${here()}/discriminator/mapping/${escapeSegment(k)}`;
              const rewritten = rewrite(v, src, at);
              mapping[k] = rewritten;
              queue.push({ at, ref: v, target: localRefPointer(rewritten)! });
            }
          }
        }
      }
      for (const k in node) {
        if (!nameMap && (k === '$ref' || isDataKey(k))) continue;
        const v = node[k];
        if (typeof v !== 'object' || v === null) continue;
        segs.push(k);
        visit(v as Json, !nameMap && NAME_MAPS.has(k));
        segs.pop();
      }
    };
    visit(start, false);
  };

  walk(doc, '', root);
  // Every reference target must exist and be walked itself (a target may sit under an `x-` key
  // or in a file seen for the first time).
  const walkedTargets = new Set<string>();
  for (let i = 0; i < queue.length; i++) {
    const { at, ref, target } = queue[i]!;
    if (walkedTargets.has(target)) continue;
    walkedTargets.add(target);
    const node = getAt(doc, target);
    if (node === undefined) {
      const { source, inner } = origin(at);
      throw refError(source.path, inner, `$ref target not found: ${JSON.stringify(ref)} (${describeTarget(target, files, source)})`, source.text);
    }
    if (typeof node === 'object' && node !== null) walk(node as Json, target, origin(target).source);
  }
  if (mounted.length === 0) delete doc[FILES_KEY];
  return { doc, root, files, refCount };
}

function describeTarget(p: string, files: SourceFile[], from: SourceFile): string {
  const m = /^\/x-rampart-files\/(\d+)(.*)$/.exec(p);
  if (m) {
    const f = files.find((x) => x.mount === `/${FILES_KEY}/${m[1]}`);
    if (f) return `${relative(dirname(from.path), f.path) || f.path}#${m[2] ?? ''}`;
  }
  return `#${p}`;
}

/** File and line for a problem at a bundle pointer (used by the loader's own checks). */
export function configIssueAt(b: Bundle, pointer: string, message: string): ConfigError {
  const m = /^\/x-rampart-files\/(\d+)(.*)$/.exec(pointer);
  let source = b.root;
  let inner = pointer;
  if (m) {
    const f = b.files.find((x) => x.mount === `/${FILES_KEY}/${m[1]}`);
    if (f) {
      source = f;
      inner = m[2] ?? '';
    }
  }
  return refError(source.path, inner, message, source.text);
}
