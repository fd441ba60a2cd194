/**
 * The probes' HTTP client: every connection and request to the target goes through `budget`, so
 * a run makes at most `--max-probes` of them (safe against production); every request carries the
 * run's probe marker when there is one (../gateway/probe-marker.ts), and the gateway's request id
 * of each answer is kept so the run can check that the request landed in the ledger (AU-12).
 *
 * TLS is verified (system roots plus `--ca`) unless `--insecure`: the probes send real test
 * credentials, which must not go to a server whose identity is unproven. Evidence never holds a
 * credential: only where it came from (`customer.keyEnv VERIFY_KEY`).
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { PROBE_HEADER } from '../gateway/probe-marker.js';
import type { Credential } from './identities.js';

/** Most of an answer's body kept (problem+json is small; an API answer is only looked at). */
const MAX_BODY_KEPT = 64 * 1024;

export class ProbeBudgetExceeded extends Error {
  constructor(readonly max: number) {
    super(`the probe budget of ${max} connections and requests is spent`);
    this.name = 'ProbeBudgetExceeded';
  }
}

export class ProbeNetworkError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProbeNetworkError';
  }
}

export interface ProbeBudget {
  readonly max: number;
  readonly used: number;
  /** Counts one connection or request; throws ProbeBudgetExceeded past the maximum. */
  take(): void;
}

export function createBudget(max: number): ProbeBudget {
  let used = 0;
  return {
    max,
    get used() {
      return used;
    },
    take() {
      if (used >= max) throw new ProbeBudgetExceeded(max);
      used += 1;
    },
  };
}

export interface ProbeClientOptions {
  target: URL;
  budget: ProbeBudget;
  /** Extra trusted CA certificates (PEM), beside the system roots. */
  ca: readonly string[];
  insecure: boolean;
  timeoutMs: number;
  marker?: string;
}

export interface SentRequest {
  method: string;
  path: string;
  /** Header names and values as sent, credentials replaced by where they came from. */
  headers: Record<string, string>;
  bodyBytes?: number;
}

export interface ProbeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The problem+json `code` (RFC 9457 extension member), when the answer is one. */
  code?: string;
  /** The gateway's x-request-id. */
  requestId?: string;
}

export interface Exchange {
  control: string;
  sent: SentRequest;
  response: ProbeResponse;
}

export interface ProbeClient {
  readonly options: ProbeClientOptions;
  /** Every exchange so far, in order (the ledger landing check reads their request ids). */
  readonly exchanges: Exchange[];
  request(control: string, o: RequestOptions): Promise<Exchange>;
}

export interface RequestOptions {
  method: string;
  path: string;
  credential?: Credential;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Streams a JSON body of about this many bytes with chunked transfer coding (no Content-Length). */
  streamJsonBytes?: number;
}

export function createProbeClient(o: ProbeClientOptions): ProbeClient {
  const exchanges: Exchange[] = [];
  const tls = o.target.protocol === 'https:';
  const host = o.target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(o.target.port || (tls ? 443 : 80));
  const base = o.target.pathname.replace(/\/+$/, '');
  const ca = [...rootCertificates, ...o.ca];

  async function request(control: string, r: RequestOptions): Promise<Exchange> {
    if (r.credential && !tls && !o.insecure) throw new ProbeNetworkError('INSECURE', `refusing to send ${r.credential.source} over plain HTTP (--insecure allows it)`);
    o.budget.take();
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'rampart-verify', ...(r.headers ?? {}) };
    const shown: Record<string, string> = { ...headers };
    if (o.marker !== undefined) {
      headers[PROBE_HEADER] = o.marker;
      shown[PROBE_HEADER] = `${o.marker.split('.')[0]}.<expiry>.<mac>`;
    }
    if (r.credential) {
      const name = r.credential.header ?? 'authorization';
      headers[name] = r.credential.header ? r.credential.value : `Bearer ${r.credential.value}`;
      shown[name] = `<${r.credential.source}>`;
    }
    const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
    if (body !== undefined) headers['content-length'] = String(body.length);
    const path = `${base}${r.path}`;
    const sent: SentRequest = { method: r.method, path, headers: shown, ...(body !== undefined ? { bodyBytes: body.length } : {}) };
    const response = await send(path, r.method, headers, body, r.streamJsonBytes, sent);
    const ex: Exchange = { control, sent, response };
    exchanges.push(ex);
    return ex;
  }

  function send(path: string, method: string, headers: Record<string, string>, body: Buffer | undefined, streamBytes: number | undefined, sent: SentRequest): Promise<ProbeResponse> {
    const mod = tls ? https : http;
    return new Promise((resolve, reject) => {
      let settled = false;
      let answered = false;
      const fail = (err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        reject(new ProbeNetworkError(err.code ?? 'ERROR', `${method} ${path}: ${err.message}`));
      };
      const req = mod.request(
        {
          host,
          port,
          method,
          path,
          headers,
          agent: false,
          timeout: o.timeoutMs,
          ...(tls ? { ca, rejectUnauthorized: !o.insecure, ...(isIP(host) === 0 ? { servername: host } : {}) } : {}),
        } as https.RequestOptions,
        (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on('data', (c: Buffer) => {
            if (kept < MAX_BODY_KEPT) {
              chunks.push(c.subarray(0, MAX_BODY_KEPT - kept));
              kept += Math.min(c.length, MAX_BODY_KEPT - kept);
            }
          });
          const done = () => {
            if (settled) return;
            settled = true;
            const buf = Buffer.concat(chunks);
            const rid = res.headers['x-request-id'];
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, ...problemCode(res.headers, buf), ...(typeof rid === 'string' ? { requestId: rid } : {}) });
            req.destroy();
          };
          res.on('end', done);
          // The server may close mid-body after a refusal: what arrived is the answer.
          res.on('close', done);
          res.on('error', done);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A write cut short because the server already refused the body is not a failure.
        if (answered) return;
        fail(err);
      });
      if (streamBytes !== undefined) {
        streamJson(req, streamBytes, () => answered || settled).then((n) => (sent.bodyBytes = n), () => {});
      } else {
        req.end(body);
      }
    });
  }

  return { options: o, exchanges, request };
}

/** `{"pad":"aaaa..."}` of `total` bytes, written with backpressure until done or answered. */
async function streamJson(req: http.ClientRequest, total: number, stop: () => boolean): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const head = Buffer.from('{"pad":"');
  const tail = Buffer.from('"}');
  let written = 0;
  const write = (b: Buffer) =>
    new Promise<void>((resolve, reject) => {
      if (req.destroyed) return reject(new Error('destroyed'));
      written += b.length;
      if (req.write(b)) resolve();
      else {
        const onDrain = () => { req.off('close', onClose); resolve(); };
        const onClose = () => { req.off('drain', onDrain); reject(new Error('closed')); };
        req.once('drain', onDrain);
        req.once('close', onClose);
      }
    });
  await write(head);
  let left = total - head.length - tail.length;
  while (left > 0 && !stop()) {
    const n = Math.min(left, chunk.length);
    await write(n === chunk.length ? chunk : chunk.subarray(0, n));
    left -= n;
  }
  if (!stop()) {
    await write(tail);
    req.end();
  }
  return written;
}

function problemCode(headers: http.IncomingHttpHeaders, body: Buffer): { code?: string } {
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/problem+json') return {};
  try {
    const p = JSON.parse(body.toString('utf8')) as { code?: unknown };
    return typeof p.code === 'string' ? { code: p.code } : {};
  } catch {
    return {};
  }
}

/** The evidence of one exchange: what was sent, what came back (no bodies, no credentials). */
export function exchangeEvidence(ex: Exchange, headerNames: readonly string[] = []): Record<string, unknown> {
  const shownHeaders: Record<string, string> = {};
  for (const h of headerNames) {
    const v = ex.response.headers[h];
    if (v !== undefined) shownHeaders[h] = Array.isArray(v) ? v.join(', ') : v;
  }
  return {
    sent: ex.sent,
    received: {
      status: ex.response.status,
      ...(ex.response.code !== undefined ? { code: ex.response.code } : {}),
      ...(ex.response.requestId !== undefined ? { requestId: ex.response.requestId } : {}),
      ...(headerNames.length > 0 ? { headers: shownHeaders } : {}),
    },
  };
}
