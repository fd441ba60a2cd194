/**
 * Where object ids sit in a request (API1: "an object-ownership check on every ID in the path,
 * query or body"): `path.NAME`, `query.NAME`, or `body/JSON/POINTER` (RFC 6901, `*` for every
 * item of an array). Parsed once per configuration version; per request, extraction reads the
 * already validated and parsed parts of the context, never the raw request a second time (one
 * parse, one truth).
 */
import type { RequestContext } from '../core/context.js';
import type { OperationModel } from '../openapi/types.js';

export type IdLocation =
  | { where: 'path'; name: string; text: string }
  | { where: 'query'; name: string; text: string }
  | { where: 'body'; segments: string[]; text: string };

/** Parses one `in` entry; throws a TypeError with the reason for a malformed one. */
export function parseLocation(text: string): IdLocation {
  if (text.startsWith('path.')) return { where: 'path', name: text.slice(5), text };
  if (text.startsWith('query.')) return { where: 'query', name: text.slice(6), text };
  if (text.startsWith('body/')) {
    // RFC 6901 §4: ~1 before ~0.
    const segments = text.slice(5).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    return { where: 'body', segments, text };
  }
  throw new TypeError(`'${text}' must be path.NAME, query.NAME or body/JSON/POINTER`);
}

/** Whether an operation can carry ids at this location at all. */
export function appliesTo(loc: IdLocation, op: OperationModel): boolean {
  switch (loc.where) {
    case 'path':
      return op.parameters.path.includes(loc.name);
    case 'query':
      return op.parameters.query.includes(loc.name);
    case 'body':
      return op.requestContentTypes.some((t) => t === 'application/json' || t.endsWith('+json'));
  }
}

/**
 * Adds every id found at `loc` to `out` (strings as they are; numbers as their JSON text, since
 * an id given as 42 and as "42" is the same object to most backends).
 */
export function collectIds(loc: IdLocation, ctx: RequestContext, out: string[]): void {
  switch (loc.where) {
    case 'path': {
      const v = ctx.pathParams?.[loc.name];
      if (v !== undefined) out.push(v);
      return;
    }
    case 'query':
      addValue(ctx.query?.[loc.name], out);
      return;
    case 'body':
      walk(ctx.json, loc.segments, 0, out);
  }
}

function walk(node: unknown, segments: readonly string[], i: number, out: string[]): void {
  if (node === undefined || node === null) return;
  if (i === segments.length) {
    addValue(node, out);
    return;
  }
  const seg = segments[i]!;
  if (Array.isArray(node)) {
    if (seg === '*') {
      for (const item of node) walk(item, segments, i + 1, out);
    } else if (/^(0|[1-9][0-9]*)$/.test(seg)) {
      walk(node[Number(seg)], segments, i + 1, out);
    }
    return;
  }
  if (typeof node === 'object' && Object.prototype.hasOwnProperty.call(node, seg)) {
    walk((node as Record<string, unknown>)[seg], segments, i + 1, out);
  }
}

function addValue(v: unknown, out: string[]): void {
  if (typeof v === 'string') out.push(v);
  else if (typeof v === 'number' && Number.isFinite(v)) out.push(String(v));
  else if (Array.isArray(v)) for (const item of v) addValue(item, out);
}
