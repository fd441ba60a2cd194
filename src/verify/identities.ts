/**
 * The identities file of `rampart verify` (YAML or JSON; docs/verify.md): only what the operator
 * gives is used, so a run against production touches nothing but the test customers named here.
 * Every section is optional; a control whose section is missing is reported `skipped` with the
 * reason. Credentials may sit in the environment instead of the file (`keyEnv`, `tokenEnv`), so
 * the file itself can be committed.
 *
 *   version: 1
 *   customer:                           # a test customer's credential and one object it owns
 *     keyEnv: VERIFY_CUSTOMER_KEY       # or key: / token: / tokenEnv:; header: X-API-Key for apiKey schemes
 *     ownObject: /accounts/acc_t1       # GET with this credential must answer 2xx
 *   otherObject: /accounts/acc_t2       # another customer's object: 403 or 404 with the customer's credential
 *   missingScope:                       # a credential lacking `scope`, and a path that needs it
 *     keyEnv: VERIFY_READONLY_KEY
 *     scope: orders:write
 *     method: POST
 *     path: /accounts/acc_t1/orders
 *     body: {symbol: ABC, side: buy, quantity: 1}
 *   injection: {path: /accounts/acc_t1/notes, param: q}          # a free-text query parameter
 *   oversizedBody: {path: /accounts/acc_t1/orders, method: POST} # an operation with a JSON body
 *   rateLimit: {path: /accounts/acc_t1/ping, budget: 5}          # 429 within budget + 1 requests
 *   expiredToken: ...                   # optional: an access token this gateway issued, now expired
 *   token: {issuer: https://..., audience: brokerage}            # claims for the forged token
 *   unknownRoute: /no-such-route        # optional; default a random path
 *
 * `injection`, `oversizedBody` and `rateLimit` send the customer's credential unless `auth: none`.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';

export interface Credential {
  /** Where it was taken from (`customer.keyEnv VERIFY_KEY`), for messages; never the value. */
  source: string;
  value: string;
  /** Lower-case header name; absent: `Authorization: Bearer`. */
  header?: string;
}

export type Auth = 'customer' | 'none';

export interface Identities {
  customer?: { credential: Credential; ownObject: string };
  otherObject?: string;
  missingScope?: { credential: Credential; scope?: string; path: string; method: string; body?: unknown };
  injection?: { path: string; param: string; auth: Auth };
  oversizedBody?: { path: string; method: 'POST' | 'PUT' | 'PATCH'; auth: Auth };
  rateLimit?: { path: string; budget: number; method: 'GET' | 'HEAD'; auth: Auth };
  expiredToken?: Credential;
  token: { issuer?: string; audience?: string };
  unknownRoute?: string;
}

export class IdentitiesError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'IdentitiesError';
  }
}

const KNOWN = new Set(['version', 'customer', 'otherObject', 'missingScope', 'injection', 'oversizedBody', 'rateLimit', 'expiredToken', 'expiredTokenEnv', 'token', 'unknownRoute']);
const PARAM = /^[A-Za-z0-9_.\-[\]]{1,128}$/;
const HEADER = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const ENV = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Reads and checks the file; every problem is listed at once. */
export async function loadIdentities(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Identities> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new IdentitiesError(file, [`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text); // YAML 1.2 is a superset of JSON: one parser for both
  } catch (err) {
    throw new IdentitiesError(file, [`is not YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  return parseIdentities(doc, file, env);
}

export function parseIdentities(doc: unknown, file: string, env: NodeJS.ProcessEnv = process.env): Identities {
  const problems: string[] = [];
  const bad = (m: string): undefined => {
    problems.push(m);
    return undefined;
  };
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new IdentitiesError(file, ['must be a mapping']);
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!KNOWN.has(k)) bad(`unknown key ${k}`);
  if (d.version !== undefined && d.version !== 1) bad('version: 1 is the only version');

  const obj = (v: unknown, name: string): Record<string, unknown> | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(`${name}: a mapping`);
    return v as Record<string, unknown>;
  };
  const path = (v: unknown, name: string): string | undefined => {
    if (typeof v !== 'string' || !v.startsWith('/') || v.startsWith('//') || v.length > 2048 || /[\s#]/.test(v)) return bad(`${name}: a path starting with / (no scheme, host, spaces or fragment)`);
    return v;
  };
  const credential = (o: Record<string, unknown>, name: string): Credential | undefined => {
    const given = (['key', 'keyEnv', 'token', 'tokenEnv'] as const).filter((k) => o[k] !== undefined);
    if (given.length !== 1) return bad(`${name}: exactly one of key, keyEnv, token, tokenEnv`);
    const k = given[0]!;
    let value: unknown = o[k];
    let source = `${name}.${k}`;
    if (k.endsWith('Env')) {
      if (typeof value !== 'string' || !ENV.test(value)) return bad(`${name}.${k}: an environment variable name`);
      source = `${name}.${k} ${value}`;
      value = env[value];
      if (typeof value !== 'string' || value === '') return bad(`${name}.${k}: the environment variable ${o[k] as string} is not set`);
    }
    if (typeof value !== 'string' || value.length === 0 || value.length > 8192 || /[\s\0]/.test(value)) return bad(`${name}.${k}: a credential without spaces`);
    const header = o.header;
    if (header !== undefined && (typeof header !== 'string' || !HEADER.test(header))) return bad(`${name}.header: a header name`);
    return { source, value, ...(typeof header === 'string' && header.toLowerCase() !== 'authorization' ? { header: header.toLowerCase() } : {}) };
  };
  const auth = (v: unknown, name: string): Auth => {
    if (v === undefined || v === 'customer') return 'customer';
    if (v === 'none') return 'none';
    bad(`${name}.auth: customer or none`);
    return 'customer';
  };
  const method = <M extends string>(v: unknown, allowed: readonly M[], dflt: M, name: string): M => {
    if (v === undefined) return dflt;
    const m = typeof v === 'string' ? v.toUpperCase() : '';
    if (!(allowed as readonly string[]).includes(m)) {
      bad(`${name}.method: one of ${allowed.join(', ')}`);
      return dflt;
    }
    return m as M;
  };

  const out: Identities = { token: {} };

  const c = obj(d.customer, 'customer');
  if (c) {
    const cred = credential(c, 'customer');
    const own = path(c.ownObject, 'customer.ownObject');
    if (cred && own) out.customer = { credential: cred, ownObject: own };
  }
  if (d.otherObject !== undefined) {
    const p = path(d.otherObject, 'otherObject');
    if (p) out.otherObject = p;
  }
  const ms = obj(d.missingScope, 'missingScope');
  if (ms) {
    const cred = credential(ms, 'missingScope');
    const p = path(ms.path, 'missingScope.path');
    const m = method(ms.method, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const, 'GET', 'missingScope');
    if (ms.scope !== undefined && (typeof ms.scope !== 'string' || ms.scope.length === 0 || ms.scope.length > 256)) bad('missingScope.scope: the scope the credential lacks');
    if (cred && p) out.missingScope = { credential: cred, path: p, method: m, ...(typeof ms.scope === 'string' ? { scope: ms.scope } : {}), ...(ms.body !== undefined ? { body: ms.body } : {}) };
  }
  const inj = obj(d.injection, 'injection');
  if (inj) {
    const p = path(inj.path, 'injection.path');
    if (typeof inj.param !== 'string' || !PARAM.test(inj.param)) bad('injection.param: a query parameter name');
    else if (p) out.injection = { path: p, param: inj.param, auth: auth(inj.auth, 'injection') };
  }
  const ob = obj(d.oversizedBody, 'oversizedBody');
  if (ob) {
    const p = path(ob.path, 'oversizedBody.path');
    const m = method(ob.method, ['POST', 'PUT', 'PATCH'] as const, 'POST', 'oversizedBody');
    if (p) out.oversizedBody = { path: p, method: m, auth: auth(ob.auth, 'oversizedBody') };
  }
  const rl = obj(d.rateLimit, 'rateLimit');
  if (rl) {
    const p = path(rl.path, 'rateLimit.path');
    const m = method(rl.method, ['GET', 'HEAD'] as const, 'GET', 'rateLimit');
    if (typeof rl.budget !== 'number' || !Number.isInteger(rl.budget) || rl.budget < 1 || rl.budget > 10_000) bad('rateLimit.budget: the requests the rule allows at once (an integer, 1-10000)');
    else if (p) out.rateLimit = { path: p, budget: rl.budget, method: m, auth: auth(rl.auth, 'rateLimit') };
  }
  if (d.expiredToken !== undefined || d.expiredTokenEnv !== undefined) {
    const cred = credential({ ...(d.expiredToken !== undefined ? { token: d.expiredToken } : {}), ...(d.expiredTokenEnv !== undefined ? { tokenEnv: d.expiredTokenEnv } : {}) }, 'expiredToken');
    if (cred) out.expiredToken = cred;
  }
  const tk = obj(d.token, 'token');
  if (tk) {
    for (const k of ['issuer', 'audience'] as const) {
      const v = tk[k];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v.length === 0 || v.length > 512) bad(`token.${k}: a string`);
      else out.token[k] = v;
    }
  }
  if (d.unknownRoute !== undefined) {
    const p = path(d.unknownRoute, 'unknownRoute');
    if (p) out.unknownRoute = p;
  }
  if ((out.injection?.auth === 'customer' || out.oversizedBody?.auth === 'customer' || out.rateLimit?.auth === 'customer') && !out.customer && !problems.some((p) => p.startsWith('customer'))) {
    bad('injection, oversizedBody and rateLimit use the customer credential unless auth: none, and customer is not given');
  }
  if (problems.length > 0) throw new IdentitiesError(file, problems);
  return out;
}
