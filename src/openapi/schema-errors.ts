/**
 * Turns ajv's errors into the client-facing `{ pointer, message }` form: where, and what was
 * expected ("must be integer", "must be <= 100", "must not have property 'isAdmin'"). ajv runs
 * with `verbose: false`, so its errors carry no data; the only client-supplied text that can
 * appear is a property name, which is shortened and stripped of control characters here.
 */
import type { ErrorObject } from 'ajv';
import { escapePointerSegment } from './json-strict.js';
import { NON_UNICODE_PATTERN, INVALID_PATTERN, READ_ONLY } from './normalize-schema.js';

export interface PointerMessage {
  pointer: string;
  message: string;
}

const MAX_NAME = 64;
const MAX_POINTER = 512;
/** Further failures returned besides the first (ValidationFailure.errors is bounded). */
export const MAX_EXTRA_ERRORS = 5;

/** C0/C1 controls and line separators: never written into a message, a log line or a header. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// eslint-disable-next-line security/detect-non-literal-regexp -- constant source: CONTROL above, without its g flag
const HAS_CONTROL = new RegExp(CONTROL.source);

/** A client-supplied name as it may appear in a message or pointer. */
export function safeName(name: string): string {
  let s = name.replace(CONTROL, '?');
  if (s.length > MAX_NAME) s = s.slice(0, MAX_NAME) + '…';
  return s;
}

export function safePointer(pointer: string): string {
  if (pointer.length <= MAX_NAME && !HAS_CONTROL.test(pointer)) return pointer;
  const p = pointer
    .split('/')
    .map((seg) => safeName(seg))
    .join('/');
  return p.length > MAX_POINTER ? p.slice(0, MAX_POINTER) + '…' : p;
}

const COMPOSITE = new Set(['anyOf', 'oneOf', 'allOf', 'if', 'not', '$ref']);

function typeList(t: unknown): string[] {
  if (Array.isArray(t)) return t.map(String);
  return String(t).split(',');
}

function messageFor(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return `must be ${typeList(p['type']).join(' or ')}`;
    case 'required':
      return 'is required';
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return `must not have property '${safeName(String(p['additionalProperty'] ?? p['unevaluatedProperty'] ?? ''))}'`;
    case 'false schema':
      return 'must not be present';
    case 'enum':
      return 'must be one of the allowed values';
    case 'const':
      return 'must be equal to the allowed value';
    case 'propertyNames':
      return `must not have property '${safeName(String(p['propertyName'] ?? ''))}' (name not allowed)`;
    case NON_UNICODE_PATTERN:
      return 'must match the pattern the API declares';
    case READ_ONLY:
      return 'is read-only and must not be sent';
    case INVALID_PATTERN:
      return "cannot be validated: the API document's pattern is invalid";
    default:
      // ajv's own messages state the expectation from the schema, never the data.
      return (e.message ?? 'is invalid').replace(/must NOT/g, 'must not');
  }
}

function pointerFor(prefix: string, e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  let ptr = prefix + e.instancePath;
  if (e.keyword === 'required' && typeof p['missingProperty'] === 'string') ptr += '/' + escapePointerSegment(p['missingProperty']);
  return safePointer(ptr);
}

/**
 * Chooses the error that best explains the failure: the deepest location (the most specific),
 * preferring a concrete keyword to a combinator's summary. When every alternative of an
 * anyOf/oneOf failed on type at the same place, says so in one message ("must be object or null").
 */
export function formatSchemaErrors(prefix: string, errors: readonly ErrorObject[] | null | undefined): { first: PointerMessage; more: PointerMessage[] } {
  const list = errors ?? [];
  if (list.length === 0) return { first: { pointer: prefix || '/', message: 'is invalid' }, more: [] };
  const depth = (e: ErrorObject): number => {
    let d = e.instancePath.split('/').length;
    if (e.keyword === 'required') d++;
    return d;
  };
  let best = list[0]!;
  for (const e of list) {
    const better = depth(e) > depth(best) || (depth(e) === depth(best) && COMPOSITE.has(best.keyword) && !COMPOSITE.has(e.keyword));
    if (better) best = e;
  }
  let first: PointerMessage = { pointer: pointerFor(prefix, best), message: messageFor(best) };
  if (best.keyword === 'type') {
    const sameSpot = list.filter((e) => e.instancePath === best.instancePath && !COMPOSITE.has(e.keyword));
    if (sameSpot.length > 1 && sameSpot.every((e) => e.keyword === 'type')) {
      const types = [...new Set(sameSpot.flatMap((e) => typeList((e.params as Record<string, unknown>)['type'])))];
      first = { pointer: first.pointer, message: `must be ${types.join(' or ')}` };
    }
  }
  const seen = new Set([`${first.pointer}\0${first.message}`]);
  const more: PointerMessage[] = [];
  for (const e of list) {
    if (more.length >= MAX_EXTRA_ERRORS) break;
    if (e === best || e.keyword === 'if') continue;
    const pm = { pointer: pointerFor(prefix, e), message: messageFor(e) };
    const key = `${pm.pointer}\0${pm.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    more.push(pm);
  }
  return { first, more };
}
