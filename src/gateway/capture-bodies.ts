/**
 * Body capture for the ledger (issue 4: "request and response bodies are captured, capped per
 * config, with the commitment to the full body kept; secrets always redacted; classified personal
 * fields redacted or kept per policy"). What is captured is sealed beside the record (class
 * `bodies`, 3 years by default: R17a4-2) and re-creates the exchange for an examiner (R17a4-4);
 * the salted commitment in the chained record still covers every byte that passed.
 *
 * The request body is already in memory (validated, bounded). The response streams through: at
 * most CAPTURE_WINDOW bytes are kept for capture, and a body larger than that is recorded with a
 * note instead of a redacted copy (redaction needs the whole document; nothing is stored that was
 * not redacted). A response in a content coding is recorded as such, not decoded here.
 */
import type { RequestContext } from '../core/context.js';
import type { LedgerConfig } from '../config/types.js';
import { captureBody, type CapturedBody, type CapturePolicy } from '../ledger/capture.js';
import { responseClassifications } from '../openapi/types.js';

/** Largest response body held for capture (the stored copy is capped lower, at bodies.maxBytes). */
export const CAPTURE_WINDOW = 1024 * 1024;

const policies = new WeakMap<LedgerConfig['bodies'], CapturePolicy>();

/** The capture policy of a configuration, or undefined when capture is off. */
export function capturePolicy(cfg: LedgerConfig['bodies']): CapturePolicy | undefined {
  if (!cfg.capture) return undefined;
  let p = policies.get(cfg);
  if (!p) {
    p = { maxBytes: cfg.maxBytes, personal: cfg.personal, defaultPersonal: cfg.defaultPersonal, opaque: cfg.opaque };
    policies.set(cfg, p);
  }
  return p;
}

export function captureRequest(ctx: RequestContext): CapturedBody | undefined {
  const policy = capturePolicy(ctx.runtime.config.ledger.bodies);
  if (!policy || !ctx.body || ctx.body.length === 0) return undefined;
  const ct = ctx.req.headers['content-type'];
  return { ...captureBody({ contentType: ct, body: ctx.body, map: ctx.operation?.classifications.request, policy }), ...(ct ? { contentType: ct } : {}) };
}

/** Collects a response's chunks up to CAPTURE_WINDOW, then captures them once the body has ended. */
export class ResponseCapture {
  readonly #policy: CapturePolicy;
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  #overflow = false;

  private constructor(policy: CapturePolicy) {
    this.#policy = policy;
  }

  /** A capture for this exchange, or undefined when capture is off. */
  static for(ctx: RequestContext): ResponseCapture | undefined {
    const p = capturePolicy(ctx.runtime.config.ledger.bodies);
    return p ? new ResponseCapture(p) : undefined;
  }

  add(chunk: Buffer): void {
    if (this.#overflow) return;
    this.#bytes += chunk.length;
    if (this.#bytes > CAPTURE_WINDOW) {
      this.#overflow = true;
      this.#chunks.length = 0;
      return;
    }
    this.#chunks.push(chunk);
  }

  finish(ctx: RequestContext, status: number, headers: Record<string, string | string[] | undefined>): CapturedBody | undefined {
    const ct = typeof headers['content-type'] === 'string' ? headers['content-type'] : undefined;
    const coding = headers['content-encoding'];
    const base = { truncated: false, redacted: [], subjects: [], classesSeen: [], ...(ct ? { contentType: ct } : {}) };
    if (this.#overflow) return { ...base, encoding: 'none', note: `larger than the capture window (${CAPTURE_WINDOW} bytes): not captured; the commitment covers it` };
    if (this.#bytes === 0) return undefined;
    if (coding !== undefined && coding !== 'identity') return { ...base, encoding: 'none', note: `content-encoding ${String(coding)}: not captured; the commitment covers the encoded bytes` };
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const map = ctx.operation ? responseClassifications(ctx.operation, status) : undefined;
    return { ...captureBody({ contentType: ct, body, map, policy: this.#policy }), ...(ct ? { contentType: ct } : {}) };
  }
}
