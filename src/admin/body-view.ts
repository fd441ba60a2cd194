/**
 * A captured body as the console may show it (issue 7; FC-3, API3, ASVS 8.3.5): masked by the
 * DLP policy of the record's API exactly as a client without reveal scopes would have received
 * it (src/threat/dlp: the same policy the respond stage applies, src/gateway/response-controls.ts
 * `dlpPolicy`). What is stored is already redacted of secrets and capped (src/ledger/capture.ts);
 * a response's stored copy is what the client received, except a response the gateway withheld,
 * whose stored copy is what the upstream sent: masking it again here blocks it again, so the
 * console shows that it was withheld and not its content.
 *
 * Fail closed: what DLP cannot look at (opaque bytes, a JSON body cut at the capture cap is
 * scanned as text) is shown as text only after the detectors ran over it; base64 content is not
 * shown at all (its secrets cannot be recognised), only its facts.
 */
import type { CapturedBodyInput } from '../ledger/record.js';
import type { ClassificationMap } from '../openapi/classification.js';
import { maskJsonText, maskText, type DlpPolicy } from '../threat/dlp/index.js';

export interface BodyView {
  encoding: string;
  contentType?: string;
  truncated: boolean;
  /** JSON pointers the capture redacted (secrets, personal fields per policy). */
  redacted: string[];
  /** Classes of data the body held (ASVS 8.3.5). */
  classesSeen: string[];
  note?: string;
  /** The masked text; absent when nothing may be shown. */
  text?: string;
  /** DLP would have withheld it (a `block` action fired): nothing of it is shown. */
  withheld?: boolean;
  blockedBy?: string;
  /** What the policy masked for this view, by class or detector (never the values). */
  masked: Record<string, number>;
}

/** No reveal scopes: the console shows what the least privileged client would have seen. */
const NO_SCOPES: ReadonlySet<string> = new Set();

/**
 * @example
 * const view = bodyView(captured, dlpPolicy(config, 'brokerage'), op && responseClassifications(op, 200));
 */
export function bodyView(c: CapturedBodyInput, policy: DlpPolicy, map: ClassificationMap | undefined): BodyView {
  const base: BodyView = {
    encoding: c.encoding,
    ...(c.contentType !== undefined ? { contentType: c.contentType } : {}),
    truncated: c.truncated,
    redacted: [...c.redacted],
    classesSeen: [...(c.classesSeen ?? [])],
    ...(c.note !== undefined ? { note: c.note } : {}),
    masked: {},
  };
  if (c.stored === undefined) return base;
  if (c.encoding === 'json' && !c.truncated) {
    const m = maskJsonText(c.stored, map, policy, NO_SCOPES);
    if (m.blocked) return { ...base, withheld: true, ...(m.blockedBy !== undefined ? { blockedBy: m.blockedBy } : {}), masked: m.masked };
    return { ...base, text: m.value, masked: m.masked };
  }
  if (c.encoding === 'json' || c.encoding === 'form' || c.encoding === 'text') {
    const m = maskText(c.stored, policy, NO_SCOPES);
    if (m.blocked) return { ...base, withheld: true, ...(m.blockedBy !== undefined ? { blockedBy: m.blockedBy } : {}), masked: m.masked };
    return { ...base, text: m.value, masked: m.masked };
  }
  return { ...base, note: base.note ?? `${c.encoding} content is not shown: DLP cannot inspect it` };
}
