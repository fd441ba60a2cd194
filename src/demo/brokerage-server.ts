/**
 * The sample brokerage API that `rampart demo` puts behind the gateway: a small node:http server
 * implementing every operation of demo/brokerage.openapi.yaml over in-memory, fictitious data
 * (./brokerage-data.ts).
 *
 * It is deliberately the kind of backend Rampart exists to protect:
 *   - it does no authentication: the gateway authenticates, checks scopes and strips the
 *     client's credentials before forwarding;
 *   - it does no object-level authorization: any account, order, transfer or customer id is
 *     served to whoever asks (a classic IDOR-prone backend); the gateway's ownership policy is
 *     what stops one customer from reading another's data;
 *   - it knows who is calling only from Rampart's signed identity assertion (verified with the
 *     gateway's published keys; see BrokerageIdentityOptions), refuses requests without one,
 *     and uses the customer it names only to scope `listAccounts`.
 * It still refuses malformed input with problem+json rather than corrupting its state.
 *
 * Every request received is logged into `requests` (method, target, headers, body length, and
 * the status answered) so that tests can assert what did or did not reach the upstream. The log
 * lives in memory only, is never printed, and keeps the most recent MAX_LOGGED_REQUESTS entries.
 */
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import {
  createBrokerageState,
  holdingKey,
  type Account,
  type BrokerageState,
  type Order,
  type OrderSide,
  type OrderStatus,
  type OrderType,
  type TimeInForce,
  type Transfer,
  type TransferDirection,
} from './brokerage-data.js';

export interface UpstreamRequestLog {
  method: string;
  /** The request target exactly as received (path and query). */
  url: string;
  /** The path part of the target, undecoded. */
  path: string;
  /** Node's parsed headers (lower-case names), copied. */
  headers: IncomingHttpHeaders;
  /** The raw header list as received, names in their original case. */
  rawHeaders: string[];
  /** Bytes of request body received (all of it, even past the size limit). */
  bodyLength: number;
  /** The operationId the request was routed to, when it matched one. */
  operationId?: string;
  /** Status answered; set once the response is sent. */
  status?: number;
  /** Epoch milliseconds. */
  receivedAt: number;
}

export interface BrokerageUpstream {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  url: string;
  port: number;
  close(): Promise<void>;
  /** Requests received, oldest first; the same array for the server's whole life. */
  requests: UpstreamRequestLog[];
}

/** Test mode only (no identity verification configured): the customer the caller acts for. */
export const SUBJECT_HEADER = 'x-rampart-subject';
export const MAX_LOGGED_REQUESTS = 10_000;
const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_PAGE = 25;
const MAX_PAGE = 100;

/**
 * Path of the OpenAPI document that describes this upstream (demo/brokerage.openapi.yaml at the
 * package root), from either the compiled (dist/src/demo) or the source (src/demo) location.
 */
export function brokerageOpenApiPath(): string {
  for (const rel of ['../../../demo/brokerage.openapi.yaml', '../../demo/brokerage.openapi.yaml']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('demo/brokerage.openapi.yaml not found next to the package');
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

interface Ctx {
  state: BrokerageState;
  /** The customer the caller acts for: from the verified identity assertion (or, without one configured, the test header). */
  subject: string | undefined;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Raw body bytes (bounded by MAX_BODY_BYTES). */
  body: Buffer;
  /** Idempotency-Key records for createTransfer, keyed by `${accountId}\n${key}`. */
  idempotency: Map<string, { body: string; transferId: string }>;
}

type Handler = (ctx: Ctx) => Reply;

interface Route {
  method: string;
  operationId: string;
  /** Path segments; ':name' captures a parameter. */
  segments: string[];
  handler: Handler;
}

function send(res: ServerResponse, status: number, body: unknown, contentType: string, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, {
    ...headers,
    'content-type': contentType,
    'content-length': String(payload.length),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

function sendProblem(res: ServerResponse, p: Problem): void {
  send(
    res,
    p.status,
    { type: 'about:blank', title: STATUS_CODES[p.status] ?? 'Error', status: p.status, detail: p.detail, code: p.code },
    'application/problem+json',
    p.headers,
  );
}

const notFound = (what: string) => new Problem(404, 'BROKERAGE_NOT_FOUND', `No such ${what}.`);
const invalid = (detail: string) => new Problem(400, 'BROKERAGE_INVALID_REQUEST', detail);
const unprocessable = (code: string, detail: string) => new Problem(422, code, detail);

function match(route: Route, parts: string[]): Record<string, string> | undefined {
  if (route.segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = route.segments[i]!;
    const part = parts[i]!;
    if (seg.startsWith(':')) {
      if (part === '') return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(part);
      } catch {
        throw invalid('A path segment is not valid percent-encoding.');
      }
      params[seg.slice(1)] = decoded;
    } else if (seg !== part) {
      return undefined;
    }
  }
  return params;
}

// ---------------------------------------------------------------------------------------------
// Helpers over state and input

const cents = (n: number): number => Math.round(n * 100) / 100;
const isCents = (n: number): boolean => Math.abs(Math.round(n * 100) - n * 100) < 1e-6;
const nowIso = (): string => new Date().toISOString();
const newId = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`;

function account(ctx: Ctx): Account {
  const a = ctx.state.accounts.get(ctx.params.accountId!);
  if (!a) throw notFound('account');
  return a;
}

function singleQuery(q: URLSearchParams, name: string): string | undefined {
  const all = q.getAll(name);
  if (all.length > 1) throw invalid(`Query parameter ${name} is repeated.`);
  return all[0];
}

/** Pages a list already in its final order; the cursor is an opaque encoding of the offset. */
function paginate<T>(items: T[], q: URLSearchParams): { data: T[]; nextCursor?: string } {
  const rawLimit = singleQuery(q, 'limit');
  let limit = DEFAULT_PAGE;
  if (rawLimit !== undefined) {
    if (!/^[0-9]{1,3}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > MAX_PAGE) {
      throw invalid(`limit must be an integer from 1 to ${MAX_PAGE}.`);
    }
    limit = Number(rawLimit);
  }
  let offset = 0;
  const cursor = singleQuery(q, 'cursor');
  if (cursor !== undefined) {
    const m = /^o:([0-9]{1,9})$/.exec(/^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('latin1') : '');
    if (!m) throw invalid('cursor is not a cursor returned by this API.');
    offset = Number(m[1]);
  }
  const data = items.slice(offset, offset + limit);
  const next = offset + limit;
  return next < items.length ? { data, nextCursor: Buffer.from(`o:${next}`, 'latin1').toString('base64url') } : { data };
}

const newestFirst = (a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number =>
  a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1;

function parseJsonBody(ctx: Ctx): Record<string, unknown> {
  const ct = String(ctx.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct !== 'application/json') {
    throw new Problem(415, 'BROKERAGE_UNSUPPORTED_MEDIA_TYPE', 'The body must be application/json.');
  }
  let value: unknown;
  try {
    value = JSON.parse(ctx.body.toString('utf8'));
  } catch {
    throw invalid('The body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('The body must be a JSON object.');
  return value as Record<string, unknown>;
}

/** Minimal structural checks mirroring the document, so bad input never reaches the state. */
class Fields {
  constructor(private readonly body: Record<string, unknown>, allowed: readonly string[]) {
    for (const k of Object.keys(body)) if (!allowed.includes(k)) throw invalid(`Unknown property ${JSON.stringify(k.slice(0, 40))}.`);
  }
  enumOf<T extends string>(name: string, values: readonly T[], required: boolean): T | undefined {
    const v = this.body[name];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw invalid(`${name} must be one of ${values.join(', ')}.`);
    return v as T;
  }
  str(name: string, re: RegExp, maxChars: number, required: boolean): string | undefined {
    const v = this.body[name];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || [...v].length > maxChars || !re.test(v)) throw invalid(`${name} is missing or malformed.`);
    return v;
  }
  num(name: string, check: (n: number) => boolean, what: string, required: boolean): number | undefined {
    const v = this.body[name];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw invalid(`${name} must be ${what}.`);
    return v;
  }
}

/** Adds business days (Monday to Friday) to today's UTC date; returns YYYY-MM-DD. */
function businessDaysFromNow(days: number): string {
  const d = new Date();
  let left = days;
  while (left > 0) {
    d.setUTCDate(d.getUTCDate() + 1);
    const wd = d.getUTCDay();
    if (wd !== 0 && wd !== 6) left--;
  }
  return d.toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------------------
// Operations

function getCustomer(ctx: Ctx): Reply {
  const c = ctx.state.customers.get(ctx.params.customerId!);
  if (!c) throw notFound('customer');
  return { status: 200, body: c };
}

function listAccounts(ctx: Ctx): Reply {
  const subject = ctx.subject;
  let rows = [...ctx.state.accounts.values()];
  if (subject !== undefined) rows = rows.filter((a) => a.customerId === subject);
  rows.sort((a, b) => (a.id < b.id ? -1 : 1));
  return { status: 200, body: paginate(rows, ctx.query) };
}

function getAccount(ctx: Ctx): Reply {
  return { status: 200, body: account(ctx) };
}

function listPositions(ctx: Ctx): Reply {
  const acc = account(ctx);
  const data = [...ctx.state.holdings.values()]
    .filter((h) => h.accountId === acc.id)
    .sort((a, b) => (a.symbol < b.symbol ? -1 : 1))
    .map((h) => {
      const lastPrice = ctx.state.instruments.get(h.symbol)?.last ?? 0;
      const marketValue = cents(h.quantity * lastPrice);
      return { symbol: h.symbol, quantity: h.quantity, costBasis: h.costBasis, lastPrice, marketValue, unrealizedGain: cents(marketValue - h.costBasis) };
    });
  return { status: 200, body: { accountId: acc.id, asOf: nowIso(), currency: 'USD', data } };
}

const ORDER_STATUSES: readonly OrderStatus[] = ['accepted', 'partially_filled', 'filled', 'canceled', 'rejected'];

function listOrders(ctx: Ctx): Reply {
  const acc = account(ctx);
  const status = singleQuery(ctx.query, 'status');
  if (status !== undefined && !(ORDER_STATUSES as readonly string[]).includes(status)) {
    throw invalid(`status must be one of ${ORDER_STATUSES.join(', ')}.`);
  }
  const rows = [...ctx.state.orders.values()]
    .filter((o) => o.accountId === acc.id && (status === undefined || o.status === status))
    .sort(newestFirst);
  return { status: 200, body: paginate(rows, ctx.query) };
}

function placeOrder(ctx: Ctx): Reply {
  const acc = account(ctx);
  const f = new Fields(parseJsonBody(ctx), ['symbol', 'side', 'type', 'quantity', 'limitPrice', 'timeInForce', 'clientOrderId']);
  const symbol = f.str('symbol', /^[A-Z]{1,5}$/, 5, true)!;
  const side = f.enumOf<OrderSide>('side', ['buy', 'sell'], true)!;
  const type = f.enumOf<OrderType>('type', ['market', 'limit'], true)!;
  const quantity = f.num('quantity', (n) => Number.isInteger(n) && n >= 1 && n <= 1_000_000, 'an integer from 1 to 1000000', true)!;
  const limitPrice = f.num('limitPrice', (n) => n > 0 && n <= 1_000_000 && isCents(n), 'a positive price in cents', type === 'limit');
  if (type === 'market' && limitPrice !== undefined) throw invalid('limitPrice is only allowed on limit orders.');
  const timeInForce = f.enumOf<TimeInForce>('timeInForce', ['day', 'gtc', 'ioc', 'fok'], false) ?? 'day';
  const clientOrderId = f.str('clientOrderId', /^[A-Za-z0-9_.:-]+$/, 48, false);

  if (acc.status !== 'open') throw unprocessable('BROKERAGE_ACCOUNT_NOT_OPEN', `The account is ${acc.status} and cannot trade.`);
  const quote = ctx.state.instruments.get(symbol);
  if (!quote) throw unprocessable('BROKERAGE_UNKNOWN_SYMBOL', 'The symbol is not traded here.');
  if (clientOrderId !== undefined && [...ctx.state.orders.values()].some((o) => o.accountId === acc.id && o.clientOrderId === clientOrderId)) {
    throw new Problem(409, 'BROKERAGE_DUPLICATE_CLIENT_ORDER_ID', 'An order with this clientOrderId already exists in the account.');
  }
  const key = holdingKey(acc.id, symbol);
  const holding = ctx.state.holdings.get(key);
  // Buys are checked at the worst price they may fill at; nothing is reserved for resting orders.
  if (side === 'buy' && cents(quantity * (limitPrice ?? quote.ask)) > acc.cashBalance) {
    throw unprocessable('BROKERAGE_INSUFFICIENT_FUNDS', 'The account does not have enough cash for this order.');
  }
  if (side === 'sell' && (holding?.quantity ?? 0) < quantity) {
    throw unprocessable('BROKERAGE_INSUFFICIENT_POSITION', 'The account does not hold enough shares (short selling is not supported).');
  }

  const now = nowIso();
  const order: Order = {
    id: newId('ord'),
    accountId: acc.id,
    ...(clientOrderId !== undefined ? { clientOrderId } : {}),
    symbol,
    side,
    type,
    quantity,
    ...(limitPrice !== undefined ? { limitPrice } : {}),
    timeInForce,
    status: 'accepted',
    filledQuantity: 0,
    createdAt: now,
    updatedAt: now,
  };
  const fillPrice = side === 'buy' ? quote.ask : quote.bid;
  const marketable = limitPrice === undefined || (side === 'buy' ? limitPrice >= quote.ask : limitPrice <= quote.bid);
  if (marketable) {
    const notional = cents(quantity * fillPrice);
    if (side === 'buy') {
      acc.cashBalance = cents(acc.cashBalance - notional);
      if (holding) {
        holding.quantity += quantity;
        holding.costBasis = cents(holding.costBasis + notional);
      } else {
        ctx.state.holdings.set(key, { accountId: acc.id, symbol, quantity, costBasis: notional });
      }
    } else {
      const h = holding!;
      acc.cashBalance = cents(acc.cashBalance + notional);
      h.costBasis = cents(h.costBasis - (h.costBasis * quantity) / h.quantity);
      h.quantity -= quantity;
      if (h.quantity === 0) ctx.state.holdings.delete(key);
    }
    Object.assign(order, { status: 'filled', filledQuantity: quantity, averageFillPrice: fillPrice, filledAt: now });
  } else if (timeInForce === 'ioc' || timeInForce === 'fok') {
    // Not marketable now and not allowed to rest.
    Object.assign(order, { status: 'canceled', canceledAt: now });
  }
  ctx.state.orders.set(order.id, order);
  return { status: 201, body: order };
}

function orderOf(ctx: Ctx): Order {
  const acc = account(ctx);
  const o = ctx.state.orders.get(ctx.params.orderId!);
  if (!o || o.accountId !== acc.id) throw notFound('order');
  return o;
}

function getOrder(ctx: Ctx): Reply {
  return { status: 200, body: orderOf(ctx) };
}

function cancelOrder(ctx: Ctx): Reply {
  const o = orderOf(ctx);
  if (o.status !== 'accepted' && o.status !== 'partially_filled') {
    throw new Problem(409, 'BROKERAGE_ORDER_NOT_CANCELABLE', `The order is ${o.status} and can no longer be cancelled.`);
  }
  const now = nowIso();
  o.status = 'canceled';
  o.canceledAt = now;
  o.updatedAt = now;
  return { status: 200, body: o };
}

function listTransfers(ctx: Ctx): Reply {
  const acc = account(ctx);
  const rows = [...ctx.state.transfers.values()].filter((t) => t.accountId === acc.id).sort(newestFirst);
  return { status: 200, body: paginate(rows, ctx.query) };
}

function createTransfer(ctx: Ctx): Reply {
  const acc = account(ctx);
  const rawKey = ctx.headers['idempotency-key'];
  if (rawKey !== undefined && (typeof rawKey !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(rawKey))) {
    throw invalid('Idempotency-Key must be 1 to 64 characters of A-Z, a-z, 0-9, _ . : -');
  }
  const f = new Fields(parseJsonBody(ctx), ['direction', 'amount', 'bankRoutingNumber', 'bankAccountNumber', 'memo']);
  const direction = f.enumOf<TransferDirection>('direction', ['deposit', 'withdrawal'], true)!;
  const amount = f.num('amount', (n) => n >= 1 && n <= 250_000 && isCents(n), 'from 1.00 to 250000.00 in cents', true)!;
  const bankRoutingNumber = f.str('bankRoutingNumber', /^[0-9]{9}$/, 9, true)!;
  const bankAccountNumber = f.str('bankAccountNumber', /^[0-9]{4,17}$/, 17, true)!;
  const memo = f.str('memo', /^[\s\S]*$/, 140, false);

  const idemKey = rawKey === undefined ? undefined : `${acc.id}\n${rawKey}`;
  if (idemKey !== undefined) {
    const seen = ctx.idempotency.get(idemKey);
    if (seen) {
      if (seen.body !== ctx.body.toString('utf8')) {
        throw unprocessable('BROKERAGE_IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with a different request.');
      }
      return { status: 201, body: ctx.state.transfers.get(seen.transferId), headers: { 'idempotent-replayed': 'true' } };
    }
  }
  if (acc.status !== 'open') throw unprocessable('BROKERAGE_ACCOUNT_NOT_OPEN', `The account is ${acc.status} and cannot move money.`);
  if (direction === 'withdrawal') {
    if (amount > acc.cashBalance) throw unprocessable('BROKERAGE_INSUFFICIENT_FUNDS', 'The account does not have enough cash for this withdrawal.');
    acc.cashBalance = cents(acc.cashBalance - amount);
  }
  const t: Transfer = {
    id: newId('trf'),
    accountId: acc.id,
    direction,
    amount,
    currency: 'USD',
    status: 'pending',
    bankRoutingNumber,
    bankAccountLast4: bankAccountNumber.slice(-4),
    ...(memo !== undefined ? { memo } : {}),
    createdAt: nowIso(),
    expectedSettlementDate: businessDaysFromNow(2),
  };
  ctx.state.transfers.set(t.id, t);
  if (idemKey !== undefined) ctx.idempotency.set(idemKey, { body: ctx.body.toString('utf8'), transferId: t.id });
  return { status: 201, body: t };
}

function getTransfer(ctx: Ctx): Reply {
  const acc = account(ctx);
  const t = ctx.state.transfers.get(ctx.params.transferId!);
  if (!t || t.accountId !== acc.id) throw notFound('transfer');
  return { status: 200, body: t };
}

function getQuote(ctx: Ctx): Reply {
  const i = ctx.state.instruments.get(ctx.params.symbol!);
  if (!i) throw new Problem(404, 'BROKERAGE_UNKNOWN_SYMBOL', 'No quote for this symbol.');
  return { status: 200, body: { symbol: i.symbol, name: i.name, bid: i.bid, ask: i.ask, last: i.last, currency: 'USD', asOf: nowIso() } };
}

const ROUTES: readonly Route[] = (
  [
    ['GET', '/customers/:customerId', 'getCustomer', getCustomer],
    ['GET', '/accounts', 'listAccounts', listAccounts],
    ['GET', '/accounts/:accountId', 'getAccount', getAccount],
    ['GET', '/accounts/:accountId/positions', 'listPositions', listPositions],
    ['GET', '/accounts/:accountId/orders', 'listOrders', listOrders],
    ['POST', '/accounts/:accountId/orders', 'placeOrder', placeOrder],
    ['GET', '/accounts/:accountId/orders/:orderId', 'getOrder', getOrder],
    ['DELETE', '/accounts/:accountId/orders/:orderId', 'cancelOrder', cancelOrder],
    ['GET', '/accounts/:accountId/transfers', 'listTransfers', listTransfers],
    ['POST', '/accounts/:accountId/transfers', 'createTransfer', createTransfer],
    ['GET', '/accounts/:accountId/transfers/:transferId', 'getTransfer', getTransfer],
    ['GET', '/market/quotes/:symbol', 'getQuote', getQuote],
  ] as const
).map(([method, path, operationId, handler]) => ({ method, operationId, segments: path.slice(1).split('/'), handler }));

/**
 * The owner endpoints Rampart's object-level authorization asks (`authorization.objects.*.owner
 * .lookup` in the demo's rampart.yaml): `GET /internal/owners/accounts/{id}` and
 * `/internal/owners/customers/{id}` answer `{"customerId": ...}` or 404. They are not in the
 * OpenAPI document, so no client can reach them through the gateway (API9): only Rampart, from
 * inside, calls them.
 */
function ownerLookup(state: BrokerageState, method: string | undefined, parts: string[]): Reply | undefined {
  if (method !== 'GET' || parts.length !== 4 || parts[0] !== 'internal' || parts[1] !== 'owners') return undefined;
  let id: string;
  try {
    id = decodeURIComponent(parts[3]!);
  } catch {
    throw notFound('object');
  }
  if (parts[2] === 'accounts') {
    const a = state.accounts.get(id);
    if (!a) throw notFound('account');
    return { status: 200, body: { customerId: a.customerId } };
  }
  if (parts[2] === 'customers') {
    if (!state.customers.has(id)) throw notFound('customer');
    return { status: 200, body: { customerId: id } };
  }
  return undefined;
}

/** The operationIds this upstream implements, in document order. */
export const BROKERAGE_OPERATION_IDS: readonly string[] = ROUTES.map((r) => r.operationId);

// ---------------------------------------------------------------------------------------------
// Server

function readBody(req: IncomingMessage): Promise<{ body: Buffer; length: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      // Past the limit the rest is drained and counted but not kept.
      if (length <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve({ body: Buffer.concat(chunks), length }));
    req.on('error', reject);
  });
}

/**
 * How the sample API learns who is calling. With `verify`, every request must carry Rampart's
 * signed identity assertion in `header` (the demo wires jose's verification against the
 * gateway's published keys): anything that did not come through Rampart is refused with 401,
 * and the customer comes from the verified `subject_id` claim. Without it (unit tests of this
 * server alone), the customer is read from X-Rampart-Subject.
 */
export interface BrokerageIdentityOptions {
  header: string;
  verify(token: string): Promise<{ subject?: string }>;
}

export async function startBrokerageUpstream(opts: { host?: string; port?: number; identity?: BrokerageIdentityOptions } = {}): Promise<BrokerageUpstream> {
  const state = createBrokerageState();
  const idempotency = new Map<string, { body: string; transferId: string }>();
  const requests: UpstreamRequestLog[] = [];

  const server = createServer(async (req, res) => {
    const url = req.url ?? '/';
    const qAt = url.indexOf('?');
    const path = qAt === -1 ? url : url.slice(0, qAt);
    const entry: UpstreamRequestLog = {
      method: req.method ?? '',
      url,
      path,
      headers: { ...req.headers },
      rawHeaders: [...req.rawHeaders],
      bodyLength: 0,
      receivedAt: Date.now(),
    };
    requests.push(entry);
    if (requests.length > MAX_LOGGED_REQUESTS) requests.splice(0, requests.length - MAX_LOGGED_REQUESTS);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });

    try {
      const { body, length } = await readBody(req);
      entry.bodyLength = length;
      if (length > MAX_BODY_BYTES) throw new Problem(413, 'BROKERAGE_BODY_TOO_LARGE', `The body exceeds ${MAX_BODY_BYTES} bytes.`);
      if (!path.startsWith('/')) throw notFound('resource');
      let subject: string | undefined;
      if (opts.identity) {
        const token = req.headers[opts.identity.header];
        const who = typeof token === 'string' ? await opts.identity.verify(token).catch(() => undefined) : undefined;
        if (!who) throw new Problem(401, 'BROKERAGE_NOT_THROUGH_GATEWAY', 'Requests must come through the gateway, with its identity assertion.');
        subject = who.subject;
      } else {
        const h = req.headers[SUBJECT_HEADER];
        subject = typeof h === 'string' ? h : undefined;
      }
      const parts = path.slice(1).split('/');
      const owner = ownerLookup(state, req.method, parts);
      if (owner) {
        send(res, owner.status, owner.body, 'application/json; charset=utf-8');
        return;
      }
      let allowed: string[] = [];
      for (const route of ROUTES) {
        const params = match(route, parts);
        if (!params) continue;
        if (route.method !== req.method) {
          allowed.push(route.method);
          continue;
        }
        entry.operationId = route.operationId;
        const reply = route.handler({ state, subject, params, query: new URLSearchParams(qAt === -1 ? '' : url.slice(qAt + 1)), headers: req.headers, body, idempotency });
        send(res, reply.status, reply.body, 'application/json; charset=utf-8', reply.headers);
        return;
      }
      allowed = [...new Set(allowed)];
      if (allowed.length > 0) throw new Problem(405, 'BROKERAGE_METHOD_NOT_ALLOWED', 'The path does not support this method.', { allow: allowed.join(', ') });
      throw notFound('resource');
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendProblem(res, err instanceof Problem ? err : new Problem(500, 'BROKERAGE_INTERNAL', 'The request could not be processed.'));
    }
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    requests,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
