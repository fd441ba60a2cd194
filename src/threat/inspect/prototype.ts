/**
 * Prototype pollution (CWE-1321): a key (or a path a merge/set helper splits into keys) that
 * reaches `Object.prototype` through `__proto__` or `constructor.prototype`, and from there every
 * object of the upstream's process (privilege flags, template options, child_process options).
 * Node's own `JSON.parse` creates an own property named `__proto__`, but lodash `merge`/`set`,
 * `qs` with `allowPrototypes` and hand-written deep merges follow it.
 *
 * Rules (`prototype-pollution.` prefix):
 *   key    an object or form key that holds `__proto__` anywhere, is `prototype`, or is a path with
 *          (`a.__proto__.b`, `a[__proto__]`, `constructor[prototype]`, `constructor.prototype`).
 *          A lone `constructor` key is allowed: it only pollutes with a `prototype` key below it,
 *          which is refused in turn.
 *   path   a value that is such a path (`__proto__.isAdmin`, `constructor.prototype.x`), for
 *          upstreams that take a property path from a parameter.
 */

const SEGMENT = /(?:^|[.[\]'"/])\s*__proto__\s*(?:$|[.[\]'"/])|(?:^|[.[\]'"/])constructor['"]?\s*(?:\.|\]?\s*\[)\s*['"]?\s*prototype\b/;

/**
 * The rule a key triggers, or undefined.
 *
 * @example
 * detectPrototypeKey('__proto__'); // 'prototype-pollution.key'
 * detectPrototypeKey('constructor'); // undefined
 */
export function detectPrototypeKey(key: string): string | undefined {
  const k = key.trim().toLowerCase();
  // any __proto__ inside a key: also `__pro__proto__to__`, which a strip-once sanitizer turns into one
  if (k === 'prototype' || k.includes('__proto__')) return 'prototype-pollution.key';
  if ((k.includes('__proto__') || k.includes('prototype')) && (SEGMENT.test(k) || /(?:^|[.[\]'"/])prototype\s*(?:$|[.[\]'"/])/.test(k))) return 'prototype-pollution.key';
  return undefined;
}

/**
 * The rule a (lower-cased) value triggers, or undefined.
 *
 * @example
 * detectPrototypeValue('__proto__.isadmin'); // 'prototype-pollution.path'
 * detectPrototypeValue('prototype of the new app'); // undefined
 */
export function detectPrototypeValue(lower: string): string | undefined {
  if (!lower.includes('__proto__') && !lower.includes('prototype')) return undefined;
  if (lower.trim() === '__proto__') return 'prototype-pollution.path';
  return SEGMENT.test(lower) ? 'prototype-pollution.path' : undefined;
}
