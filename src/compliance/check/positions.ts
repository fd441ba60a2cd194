/**
 * JSON pointer (RFC 6901) -> line and column in a YAML or JSON text, for findings. The same
 * approach as the config loader (src/config/load.ts, `Positions`): the `yaml` package's
 * LineCounter and a walk down the parsed nodes. The loader's class is private to it, and
 * src/openapi/resolve-refs.ts `locate()` re-parses the file on every call (it serves the error
 * path only); a check can report hundreds of findings against one large document, so the text
 * is parsed once, lazily, on the first lookup.
 *
 * A pointer to something not written in the file (a default) resolves to the deepest parent
 * that is: the place a reader would add it. A pointer none of whose segments exist gives no
 * position, except '' (the document), which is line 1.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';

export interface Position {
  line: number;
  column: number;
}

export interface Locator {
  locate(pointer: string): Position | undefined;
}

/**
 * A locator over `text` (parsed on first use).
 *
 * @example
 * const at = createLocator('a:\n  b: 1\n').locate('/a/b'); // { line: 2, column: 3 }
 */
export function createLocator(text: string): Locator {
  let parsed: { doc: Document; lc: LineCounter } | null | undefined;
  const parse = (): { doc: Document; lc: LineCounter } | null => {
    if (parsed !== undefined) return parsed;
    try {
      const lc = new LineCounter();
      // uniqueKeys false: a position is wanted even for a document the loader would refuse.
      const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
      parsed = { doc, lc };
    } catch {
      parsed = null;
    }
    return parsed;
  };
  return {
    locate(pointer: string): Position | undefined {
      const p = parse();
      if (!p) return undefined;
      const segments = splitPointer(pointer);
      if (!segments) return undefined;
      let node: unknown = p.doc.contents;
      let best: unknown = segments.length === 0 ? node : undefined;
      for (const seg of segments) {
        if (isAlias(node)) node = node.resolve(p.doc);
        let at: unknown;
        let next: unknown;
        if (isMap(node)) {
          const pair = node.items.find((x) => isPair(x) && (isScalar(x.key) ? String(x.key.value) : String(x.key)) === seg);
          // The key's line is where a reader looks for "this entry".
          at = pair?.key;
          next = pair?.value;
        } else if (isSeq(node)) {
          next = /^\d+$/.test(seg) ? node.items[Number(seg)] : undefined;
          at = next;
        }
        if (at === undefined || at === null) break;
        best = at;
        if (next === undefined || next === null) break;
        node = next;
      }
      const range = (best as { range?: [number, number, number] } | undefined)?.range;
      if (!range) return segments.length === 0 ? { line: 1, column: 1 } : undefined;
      const { line, col } = p.lc.linePos(range[0]);
      return { line, column: col };
    },
  };
}

/** RFC 6901 §3/§4: '' is the whole document; each segment unescapes ~1 then ~0. */
export function splitPointer(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** One pointer segment, escaped (RFC 6901 §3). */
export function escapePointerSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
