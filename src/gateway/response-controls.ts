/**
 * The respond side's controls, between the upstream's answer and the client (DESIGN.md: "respond
 * (response contract, PII masking / DLP, security headers)"):
 *
 * - the response contract (API3, API10): a JSON response is validated against the operation's
 *   response schema; undeclared properties are stripped (or the response blocked, or reported, per
 *   `responses.contract`); any other break is 502 RAMPART_RESPONSE_CONTRACT and recorded;
 * - DLP (FC-3): classified fields and detected SSNs, card numbers, routing numbers, emails and
 *   phone numbers are masked per `responses.dlp` and the caller's scopes; a `block` action
 *   withholds the response (403 RAMPART_RESPONSE_WITHHELD);
 * - the page-size cap (API4) on what comes back: a list larger than the operation's cap is 502;
 * - the records count, for data-volume quotas and the anomaly model.
 *
 * Compression never hides data from the controls: the proxy asks the upstream for `identity`;
 * a JSON or text response that still arrives gzip/deflate/br-encoded is decoded here with a bound
 * (`responses.maxInspectBytes`), and anything that cannot be decoded within it is refused
 * (502 RAMPART_RESPONSE_UNINSPECTABLE), never passed on uninspected.
 *
 * The body is parsed once (strictly, by the response validator), changed in place, and
 * serialised once, only when something was stripped or masked. Responses that are
 * neither JSON nor text (PDF statements, images) stream through untouched: say so in docs/dlp.md.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { RampartConfig } from '../config/types.js';
import type { RequestContext } from '../core/context.js';
import { ConfigError, type ErrorCode } from '../core/errors.js';
import { responseClassifications } from '../openapi/types.js';
import { compileDlpPolicy, maskJson, maskText, type DlpPolicy } from '../threat/dlp/index.js';

export type ResponseKind = 'json' | 'text';

export interface InspectedResponse {
  ok: true;
  /** What the client receives. */
  body: Buffer;
  /** Non-personal facts for the completion record: what was stripped and masked. */
  detail: Record<string, string | number>;
  records: number | undefined;
}

export interface RefusedResponse {
  ok: false;
  code: Extract<ErrorCode, 'RAMPART_RESPONSE_CONTRACT' | 'RAMPART_RESPONSE_UNINSPECTABLE' | 'RAMPART_RESPONSE_WITHHELD'>;
  /** Non-personal reason, for the record and the log. */
  cause: string;
  detail: Record<string, string | number>;
}

const policies = new WeakMap<RampartConfig, Map<string, DlpPolicy>>();

/**
 * The compiled DLP policy of a configuration version for one API: reveal scopes are qualified
 * the way every scope is (`api:scope`) when several APIs are configured.
 */
export function dlpPolicy(config: RampartConfig, api: string): DlpPolicy {
  let byApi = policies.get(config);
  if (!byApi) policies.set(config, (byApi = new Map()));
  let p = byApi.get(api);
  if (!p) {
    const qualify = config.apis.length > 1;
    p = compileDlpPolicy(config.responses.dlp, qualify ? { qualifyScope: (s) => `${api}:${s}` } : {});
    byApi.set(api, p);
  }
  return p;
}

/**
 * Compiles every API's DLP policy when a configuration version is built, so that a bad policy is
 * a configuration error at start (naming the entry), never a failure on the first response.
 */
export function compileDlpPolicies(config: RampartConfig): void {
  for (const a of config.apis) {
    try {
      dlpPolicy(config, a.name);
    } catch (err) {
      throw new ConfigError([{ file: 'rampart.yaml', pointer: '/responses/dlp', message: (err as Error).message }]);
    }
  }
}

/**
 * Whether a response must be held and inspected before it is released, and as what. HEAD, 204,
 * 304 and bodies that are neither JSON nor text stream through.
 *
 * @example
 * responseKind(ctx, 200, { 'content-type': 'application/json' }); // 'json'
 */
export function responseKind(ctx: RequestContext, status: number, headers: Record<string, string | string[] | undefined>): ResponseKind | undefined {
  if (ctx.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) return undefined;
  const raw = headers['content-type'];
  const ct = (typeof raw === 'string' ? raw : Array.isArray(raw) ? raw[0] ?? '' : '').toLowerCase();
  const semi = ct.indexOf(';');
  const type = (semi === -1 ? ct : ct.slice(0, semi)).trim();
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type === 'text/plain' || type === 'text/csv') return 'text';
  // A missing Content-Type on a body: nothing declares what it is, so it is treated as text and
  // scanned rather than passed on unseen.
  if (type === '') return 'text';
  return undefined;
}

/**
 * Decodes a content coding with a bound on the decoded size; undefined when it cannot be decoded
 * within it (or the coding is unknown).
 */
export function decodeResponse(body: Buffer, coding: string | string[] | undefined, maxBytes: number): Buffer | undefined {
  if (coding === undefined) return body;
  const c = (Array.isArray(coding) ? coding.join(',') : coding).trim().toLowerCase();
  if (c === '' || c === 'identity') return body;
  try {
    const o = { maxOutputLength: maxBytes };
    if (c === 'gzip' || c === 'x-gzip') return gunzipSync(body, o);
    if (c === 'deflate') return inflateSync(body, o);
    if (c === 'br') return brotliDecompressSync(body, o);
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * Applies the contract, the page cap and DLP to a whole, decoded response body.
 *
 * @example
 * const r = inspectResponse(ctx, 200, 'application/json', body, 'json');
 * if (r.ok) res.end(r.body);
 */
export function inspectResponse(ctx: RequestContext, status: number, contentType: string | undefined, body: Buffer, kind: ResponseKind): InspectedResponse | RefusedResponse {
  const cfg = ctx.runtime.config.responses;
  const op = ctx.operation!;
  const policy = dlpPolicy(ctx.runtime.config, ctx.api!.name);
  const scopes = ctx.principal?.scopes ?? new Set<string>();
  const detail: Record<string, string | number> = {};

  if (kind === 'text') {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      return { ok: false, code: 'RAMPART_RESPONSE_UNINSPECTABLE', cause: 'text-not-utf8', detail: {} };
    }
    const m = maskText(text, policy, scopes);
    if (m.blocked) return { ok: false, code: 'RAMPART_RESPONSE_WITHHELD', cause: `dlp-block:${m.blockedBy ?? 'policy'}`, detail: maskedDetail(m.masked, m.revealed) };
    Object.assign(detail, maskedDetail(m.masked, m.revealed));
    return { ok: true, body: m.value === text ? body : Buffer.from(m.value, 'utf8'), detail, records: undefined };
  }

  // The validator parses the bytes strictly (no duplicate keys, no __proto__, UTF-8, bounded
  // depth) and hands back the value it checked; only with the contract off is it parsed here.
  let value: unknown;
  let changed = false;
  if (cfg.contract !== 'off') {
    const check = op.validateResponse(status, contentType, body, cfg.contract === 'strip' ? 'strip' : 'report', { undeclaredStatus: cfg.undeclaredStatus, undocumentedBody: cfg.undocumentedBody });
    value = check.body;
    if (check.undeclared.length > 0) {
      detail.undeclared = check.undeclared.length;
      // Where, for the operator: property names, but a segment that is not a plain name (a map
      // keyed by emails or account numbers) is shown as `*`: this detail is in the chained,
      // unencrypted part of the record.
      detail.undeclaredAt = check.undeclared.slice(0, 5).map(plainPointer).join(' ').slice(0, 300);
      if (cfg.contract === 'block') return { ok: false, code: 'RAMPART_RESPONSE_CONTRACT', cause: 'undeclared-properties', detail };
      if (cfg.contract === 'strip') changed = true;
    }
    // In report mode, undeclared properties alone come back as reason 'schema' with no errors.
    const broken = !check.ok && (check.reason !== 'schema' || check.errors.length > 0);
    if (broken) {
      detail.contract = check.reason ?? 'schema';
      const first = check.errors[0];
      if (first) detail.contractAt = `${plainPointer(first.pointer)}: ${first.message}`.slice(0, 300);
      // A body that cannot be read as JSON cannot be masked either: refused whatever `invalid` says.
      if (cfg.invalid === 'block' || check.reason === 'not-json' || check.reason === 'too-deep' || check.reason === 'internal') {
        return { ok: false, code: 'RAMPART_RESPONSE_CONTRACT', cause: `contract:${check.reason ?? 'schema'}`, detail };
      }
    }
  }
  if (value === undefined) {
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return { ok: false, code: cfg.contract === 'off' ? 'RAMPART_RESPONSE_UNINSPECTABLE' : 'RAMPART_RESPONSE_CONTRACT', cause: 'not-json', detail };
    }
  }
  const records = status >= 200 && status < 300 ? op.countRecords(status, value) : undefined;
  if (records !== undefined) {
    detail.records = records;
    const cap = capFor(ctx);
    if (cap !== undefined && records > cap) {
      detail.maxPageSize = cap;
      return { ok: false, code: 'RAMPART_RESPONSE_CONTRACT', cause: 'page-too-large', detail };
    }
  }
  const m = maskJson(value, responseClassifications(op, status), policy, scopes);
  if (m.blocked) return { ok: false, code: 'RAMPART_RESPONSE_WITHHELD', cause: `dlp-block:${m.blockedBy ?? 'policy'}`, detail: { ...detail, ...maskedDetail(m.masked, m.revealed) } };
  Object.assign(detail, maskedDetail(m.masked, m.revealed));
  if (detail.masked !== undefined) changed = true;
  return { ok: true, body: changed ? Buffer.from(JSON.stringify(m.value), 'utf8') : body, detail, records };
}

/** The page cap that applies to this operation's responses: its own, or the global one when it pages. */
function capFor(ctx: RequestContext): number | undefined {
  const op = ctx.operation!;
  const own = ctx.api!.config.operations[op.id]?.maxPageSize;
  if (own !== undefined) return own;
  return op.pageSizeParam !== undefined ? ctx.runtime.config.responses.maxPageSize : undefined;
}

/** A JSON pointer with every segment that is not a plain property name (or an array index) replaced by `*`. */
function plainPointer(pointer: string): string {
  return pointer
    .split('/')
    .map((seg, i) => (i === 0 || /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(seg) || /^\d{1,6}$/.test(seg) ? seg : '*'))
    .join('/');
}

/**
 * Counts for the completion record: values masked by class, and values a reveal scope let through
 * in full (ASVS 8.3.5: access to sensitive data is audited), never the values themselves.
 */
function maskedDetail(masked: Record<string, number>, revealed: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const [k, n] of Object.entries(masked)) {
    if (n > 0) {
      out[`masked.${k}`] = n;
      total += n;
    }
  }
  if (total > 0) out.masked = total;
  let shown = 0;
  for (const [k, n] of Object.entries(revealed)) {
    if (n > 0) {
      out[`revealed.${k}`] = n;
      shown += n;
    }
  }
  if (shown > 0) out.revealed = shown;
  return out;
}
