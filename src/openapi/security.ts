/**
 * Security requirements of an operation, resolved against components.securitySchemes.
 *
 * OpenAPI 3.1 §4.8.10 (Operation `security`): the operation's list overrides the root one; an
 * empty list removes security; each entry is one alternative, and all schemes named in one entry
 * apply together. §4.8.30 (Security Requirement Object): the array holds scopes for oauth2 and
 * openIdConnect; in 3.1 "for other security scheme types, the array MAY contain a list of role
 * names". An empty object `{}` in the list makes the operation optionally anonymous.
 */
import { type Json, type JsonObject, isObject, deref, escapeSegment } from './resolve-refs.js';
import type { SecurityAlternative, SecuritySchemeRef } from './types.js';

export interface SecurityContext {
  doc: JsonObject;
  version: '3.0' | '3.1';
  apiName: string;
  qualifyScopes: boolean;
  /** Throws a ConfigError located at the pointer. */
  fail(pointer: string, message: string): never;
  warn(message: string): void;
}

const TYPES = new Set(['apiKey', 'http', 'oauth2', 'openIdConnect', 'mutualTLS']);
const KEY_IN = new Set(['header', 'query', 'cookie']);

export function createSecurityResolver(ctx: SecurityContext): (requirement: Json | undefined, pointer: string, opId: string) => SecurityAlternative[] {
  const schemes = new Map<string, SecuritySchemeRef>();
  const components = isObject(ctx.doc['components']) ? ctx.doc['components'] : {};
  const declared = isObject(components['securitySchemes']) ? components['securitySchemes'] : {};
  const warnedRoles = new Set<string>();

  const scheme = (name: string, at: string): SecuritySchemeRef => {
    const known = schemes.get(name);
    if (known) return known;
    const ptr = `/components/securitySchemes/${escapeSegment(name)}`;
    if (!Object.prototype.hasOwnProperty.call(declared, name)) {
      ctx.fail(at, `security scheme '${name}' is not declared in components.securitySchemes`);
    }
    const { node, pointer } = deref(ctx.doc, declared[name], ptr);
    if (!isObject(node)) ctx.fail(ptr, `security scheme '${name}' must be an object`);
    const type = node['type'];
    if (typeof type !== 'string' || !TYPES.has(type)) {
      ctx.fail(`${pointer}/type`, `security scheme '${name}': type must be one of apiKey, http, oauth2, openIdConnect, mutualTLS`);
    }
    if (type === 'mutualTLS' && ctx.version === '3.0') {
      ctx.fail(`${pointer}/type`, `security scheme '${name}': mutualTLS needs OpenAPI 3.1`);
    }
    const ref: SecuritySchemeRef = { name, type: type as SecuritySchemeRef['type'] };
    if (type === 'apiKey') {
      const where = node['in'];
      const pname = node['name'];
      if (typeof where !== 'string' || !KEY_IN.has(where)) ctx.fail(`${pointer}/in`, `security scheme '${name}': in must be header, query or cookie`);
      if (typeof pname !== 'string' || pname === '') ctx.fail(`${pointer}/name`, `security scheme '${name}': name is required for apiKey`);
      ref.in = where as 'header' | 'query' | 'cookie';
      // Header names compare case-insensitively (RFC 9110 §5.1); Node gives them lower-case.
      ref.paramName = where === 'header' ? pname.toLowerCase() : pname;
    } else if (type === 'http') {
      const sch = node['scheme'];
      if (typeof sch !== 'string' || sch === '') ctx.fail(`${pointer}/scheme`, `security scheme '${name}': scheme is required for http`);
      ref.scheme = sch.toLowerCase();
    }
    schemes.set(name, ref);
    return ref;
  };

  return (requirement, pointer, opId) => {
    if (requirement === undefined) return [];
    if (!Array.isArray(requirement)) ctx.fail(pointer, 'security must be an array of security requirements');
    const out: SecurityAlternative[] = [];
    requirement.forEach((alt, i) => {
      const at = `${pointer}/${i}`;
      if (!isObject(alt)) ctx.fail(at, 'a security requirement must be an object');
      const schemesOut: SecuritySchemeRef[] = [];
      const scopes = new Set<string>();
      for (const [name, list] of Object.entries(alt)) {
        const sAt = `${at}/${escapeSegment(name)}`;
        const s = scheme(name, sAt);
        if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) ctx.fail(sAt, `the scopes for '${name}' must be an array of strings`);
        schemesOut.push(s);
        if (list.length === 0) continue;
        const oauthLike = s.type === 'oauth2' || s.type === 'openIdConnect';
        if (!oauthLike && ctx.version === '3.0' && !warnedRoles.has(name)) {
          // 3.0 says the list MUST be empty for other types. Dropping it would silently weaken
          // the contract, so the names are enforced like 3.1 roles (fail closed).
          warnedRoles.add(name);
          ctx.warn(`${opId}: scheme '${name}' (${s.type}) lists roles, which OpenAPI 3.0 does not define; they are required like 3.1 roles`);
        }
        for (const sc of list as string[]) scopes.add(ctx.qualifyScopes ? `${ctx.apiName}:${sc}` : sc);
      }
      out.push({ schemes: schemesOut, scopes: [...scopes] });
    });
    return out;
  };
}
