/**
 * Routes a canonical path to an operation of the inventory (API9: only declared operations exist).
 *
 * A segment trie: matching costs O(segments) map lookups, not a scan over every path's regex.
 * OpenAPI 3.1 §4.8.8.2 (Paths Object): "When matching URLs, concrete (non-templated) paths would
 * be matched before their templated counterparts", so at each segment a literal child is tried
 * first, then templates that mix literals (`{name}.json`), then a whole-segment template; the
 * first complete match in that order wins (a literal dead end backtracks to the template).
 * A template matches exactly one non-empty segment (§4.8.8.1 path templating: a variable does not
 * span '/'). Only declared methods exist: HEAD is not implied by GET (405 lists what is declared).
 */
import type { OperationModel, RouteMatch } from './types.js';

interface Leaf {
  /** Parameter names in capture order. */
  names: string[];
  methods: Map<string, OperationModel>;
  allowed: string[];
}

interface MixedChild {
  /** The segment's literal parts around its variables (one more than there are variables). */
  literals: string[];
  /** Number of variables (captures). */
  count: number;
  /** The segment template, for identity when inserting. */
  template: string;
  node: TrieNode;
}

interface TrieNode {
  literal: Map<string, TrieNode> | null;
  mixed: MixedChild[] | null;
  param: TrieNode | null;
  leaf: Leaf | null;
}

const newNode = (): TrieNode => ({ literal: null, mixed: null, param: null, leaf: null });

/** A path template variable: `{name}` (names may hold anything but braces). */
const VAR = /\{([^{}]+)\}/g;

export class RouterBuildError extends Error {}

export interface Router {
  match(method: string, path: string): RouteMatch;
}

export function createRouter(operations: readonly OperationModel[]): Router {
  const root = newNode();
  const NOT_FOUND: RouteMatch = Object.freeze({ kind: 'not-found' });

  for (const op of operations) {
    const segs = splitPath(op.route);
    let node = root;
    const names: string[] = [];
    for (const seg of segs) {
      const vars = [...seg.matchAll(VAR)].map((m) => m[1]!);
      if (vars.length === 0) {
        node.literal ??= new Map();
        // The document may spell a literal with characters the canonical path percent-encodes.
        const keys = new Set([seg, canonicalLiteral(seg)]);
        let child: TrieNode | undefined;
        for (const k of keys) child ??= node.literal.get(k);
        child ??= newNode();
        for (const k of keys) node.literal.set(k, child);
        node = child;
      } else if (vars.length === 1 && seg === `{${vars[0]}}`) {
        node.param ??= newNode();
        node = node.param;
      } else {
        node.mixed ??= [];
        let child = node.mixed.find((m) => m.template === seg.replace(VAR, '{}'));
        if (!child) {
          child = { literals: mixedLiterals(seg), count: vars.length, template: seg.replace(VAR, '{}'), node: newNode() };
          node.mixed.push(child);
          // More literal text is more specific: try `{id}.json` before `{id}.{ext}`.
          node.mixed.sort((a, b) => b.template.replace(/\{\}/g, '').length - a.template.replace(/\{\}/g, '').length);
        }
        node = child.node;
      }
      names.push(...vars);
    }
    if (new Set(names).size !== names.length) {
      throw new RouterBuildError(`path ${op.route} uses a template variable twice`);
    }
    if (!node.leaf) node.leaf = { names, methods: new Map(), allowed: [] };
    else if (node.leaf.names.join('\0') !== names.join('\0')) {
      // /a/{id} and /a/{key} are the same path to a client (§4.8.8.1: MUST NOT exist together)
      // unless they are one path item; we cannot tell which names a request means.
      throw new RouterBuildError(`path ${op.route} is ambiguous with another templated path of the same shape`);
    }
    if (node.leaf.methods.has(op.method)) throw new RouterBuildError(`${op.method} ${op.route} is declared twice`);
    node.leaf.methods.set(op.method, op);
    node.leaf.allowed.push(op.method);
  }

  const values: string[] = [];

  /** Depth-first with the precedence literal > mixed > template; values collects captures. */
  const walk = (node: TrieNode, segs: string[], i: number): Leaf | null => {
    if (i === segs.length) return node.leaf;
    const seg = segs[i]!;
    if (node.literal) {
      const child = node.literal.get(seg);
      if (child) {
        const r = walk(child, segs, i + 1);
        if (r) return r;
      }
    }
    if (node.mixed && seg !== '') {
      for (const m of node.mixed) {
        const hit = matchMixed(m.literals, seg);
        if (!hit) continue;
        const mark = values.length;
        for (const v of hit) values.push(v);
        const r = walk(m.node, segs, i + 1);
        if (r) return r;
        values.length = mark;
      }
    }
    if (node.param && seg !== '') {
      const mark = values.length;
      values.push(seg);
      const r = walk(node.param, segs, i + 1);
      if (r) return r;
      values.length = mark;
    }
    return null;
  };

  return {
    match(method: string, path: string): RouteMatch {
      if (path.length === 0 || path.charCodeAt(0) !== 47 /* / */) return NOT_FOUND;
      values.length = 0;
      const leaf = walk(root, splitPath(path), 0);
      if (!leaf) return NOT_FOUND;
      const op = leaf.methods.get(method);
      if (!op) return { kind: 'method-not-allowed', allowed: leaf.allowed.slice() };
      const pathParams: Record<string, string> = {};
      for (let k = 0; k < leaf.names.length; k++) {
        const raw = values[k]!;
        let v = raw;
        if (raw.indexOf('%') !== -1) {
          try {
            v = decodeURIComponent(raw);
          } catch {
            // Malformed percent-encoding names no resource of this API.
            return NOT_FOUND;
          }
        }
        pathParams[leaf.names[k]!] = v;
      }
      return { kind: 'found', operation: op, pathParams };
    },
  };
}

/** '/a/b' → ['a','b']; '/' → ['']; '/a/' → ['a','']. */
function splitPath(path: string): string[] {
  return path.slice(1).split('/');
}

/** `{name}.json` → ['', '.json']: the canonical literal text around each variable. */
function mixedLiterals(seg: string): string[] {
  const literals: string[] = [];
  let last = 0;
  for (const m of seg.matchAll(VAR)) {
    literals.push(canonicalLiteral(seg.slice(last, m.index)));
    last = m.index + m[0].length;
  }
  literals.push(canonicalLiteral(seg.slice(last)));
  return literals;
}

/** Characters `.` does not match: a variable never held one (they are percent-encoded anyway). */
const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;

/**
 * Matches a segment against literals L0..Lk around k variables, giving exactly what the regex
 * `^L0(.+?)L1(.+?)…(.+?)Lk$` gave (each variable at least one character, the shortest that lets
 * the rest match, left to right), in O(k·n). The regex backtracked polynomially: with three
 * variables and a 4 KiB segment that does not match (`{a}-{b}-{c}.json` against
 * `'-'.repeat(4000)`) one request took seconds of CPU (API4; test/unit/redos-router.test.ts).
 * A variable may hold any character but a line terminator, so an occurrence of a literal can
 * always be moved later by growing the variable before it: the latest feasible start of each
 * variable, computed right to left, decides everything, and then each variable ends at the first
 * occurrence of the next literal that stays within that bound.
 */
function matchMixed(literals: readonly string[], seg: string): string[] | null {
  const k = literals.length - 1;
  const first = literals[0]!;
  const lastLit = literals[k]!;
  if (!seg.startsWith(first) || !seg.endsWith(lastLit) || LINE_TERMINATOR.test(seg)) return null;
  const end = seg.length - lastLit.length; // where the last variable ends
  // latest[j]: the latest index at which variable j (1-based) can start and the rest still match.
  const latest = new Array<number>(k + 1);
  latest[k] = end - 1;
  for (let j = k - 1; j >= 1; j--) {
    const lit = literals[j]!;
    const bound = latest[j + 1]! - lit.length; // L_j must start at or before this
    if (bound < 0) return null;
    const q = seg.lastIndexOf(lit, bound);
    if (q === -1) return null;
    latest[j] = q - 1;
  }
  let at = first.length;
  if (at > latest[1]!) return null;
  const out: string[] = [];
  for (let j = 1; j < k; j++) {
    const lit = literals[j]!;
    const q = seg.indexOf(lit, at + 1);
    // q exists and fits: latest[j] >= at guarantees an occurrence at or before latest[j + 1] - |L_j|.
    out.push(seg.slice(at, q));
    at = q + lit.length;
  }
  out.push(seg.slice(at, end));
  return out;
}

/**
 * The form a literal segment takes in a canonical request path: characters outside RFC 3986
 * `pchar` percent-encoded with upper-case hex; existing escapes kept.
 */
function canonicalLiteral(seg: string): string {
  return seg.replace(/%[0-9a-fA-F]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@%]/gu, (c) => {
    if (c.length === 3 && c[0] === '%') return c.toUpperCase();
    return Buffer.from(c, 'utf8')
      .toString('hex')
      .toUpperCase()
      .replace(/(..)/g, '%$1');
  });
}
