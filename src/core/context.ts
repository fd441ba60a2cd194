/**
 * Per-request state on one typed object (STYLE point 5). Each stage documents what it adds; the
 * composer, the proxy and the ledger read it. One context per exchange, one configuration
 * version (`runtime`) per context, captured when the request arrives.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiRuntime, GatewayRuntime } from '../gateway/runtime.js';
import type { OperationModel } from '../openapi/types.js';
import type { ApiKeyRecord } from '../storage/types.js';
import type { ErrorCode } from './errors.js';

export interface Principal {
  /** Display identity: the key's name for API keys. Personal: goes to the private part. */
  name: string;
  /** The customer or tenant the credential acts for (data subject). */
  subject?: string;
  keyId?: string;
  /** api-key: a key on each request; access-token: Rampart's own token; external-token: a configured issuer's; mtls: a client certificate. */
  authMethod: 'api-key' | 'access-token' | 'external-token' | 'mtls' | 'none';
  /** For an external token: its id (jti) and issuer. */
  tokenId?: string;
  issuer?: string;
  scopes: ReadonlySet<string>;
  key?: ApiKeyRecord;
}

export interface Denial {
  code: ErrorCode;
  /** Stage that denied (set by the composer). */
  stage?: string;
  /** Extra detail for the client, safe to show (no echo of input, no internals). */
  detail?: string;
  /** JSON pointer of the offending field (validation). */
  pointer?: string;
  errors?: { pointer: string; message: string }[];
  /** Extra response headers (WWW-Authenticate, Allow, Retry-After, RateLimit). */
  headers?: Record<string, string>;
  /**
   * A security event to record beside the denial (injection, anomaly): `event` names it and
   * `detail` says what matched (family, rule, field), never the offending value.
   */
  event?: { name: string; detail: Record<string, string> };
  /** Internal cause: logged, never sent. */
  cause?: unknown;
}

export interface RequestContext {
  readonly requestId: string;
  /**
   * The verification run this request is a probe of (`rampart verify`, ../gateway/probe-marker.ts):
   * an authenticated label carried into the ledger records' detail, never a relaxation of any control.
   */
  probe?: string;
  /** process.hrtime.bigint() at arrival. */
  readonly startNs: bigint;
  /** UTC ms at arrival (AU-8). */
  readonly receivedAt: number;
  /** The configuration version this request runs under, start to finish. */
  readonly runtime: GatewayRuntime;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The TCP peer. */
  readonly peerAddress: string;
  /** The client address: the peer, or the first untrusted hop of X-Forwarded-For from a trusted proxy. */
  clientAddress: string;
  /** X-Forwarded-For chain as received from a trusted proxy (personal). */
  forwardedFor?: string;
  /** 'https' on TLS, or what a trusted proxy said. */
  proto: 'http' | 'https';
  method: string;
  /** parse: the canonical path (no query). */
  path: string;
  /** parse: the raw query string without '?'. */
  rawQuery: string;
  /** route: the API and operation, the path relative to the mount, and decoded path params. */
  api?: ApiRuntime;
  operation?: OperationModel;
  apiPath?: string;
  pathParams?: Record<string, string>;
  /** authenticate */
  principal?: Principal;
  /** authenticate, on a failure: the id of a real API key presented with a wrong secret, or revoked or expired (not secret; for the anomaly model). */
  presentedKeyId?: string;
  /** authenticate: header names that carried Rampart credentials (never forwarded). */
  credentialHeaders?: string[];
  /** validate: the bounded, decoded request body (undefined when none or streamed). */
  body?: Buffer;
  /** validate: whether the request carries a body at all. */
  hasBody: boolean;
  /** validate: the query parameters, parsed and coerced per the document. */
  query?: Record<string, unknown>;
  /** validate: the parsed JSON body (undefined when none or not JSON). */
  json?: unknown;
  /**
   * authorize: what object-level authorization decided. On a denial, the object and the owner it
   * resolved (personal: recorded in the private part); `anyObjectScope` when a scope allowed any.
   */
  authz?: { kind: string; objectId: string; owner?: string } | { anyObjectScope: string };
  /** authorize: every `kind:id` the request named (personal; fed to the anomaly model, never recorded as such). */
  objectIds?: string[];
  /** address-limit, principal-limit: the rate-limit decisions, for the RateLimit headers and the quota charges after the response. */
  limits?: import('../threat/limits-runtime.js').LimitState;
  /** Number of request body bytes received. */
  bytesIn: number;
  /** Set when a stage denies. */
  denial?: Denial;
}
