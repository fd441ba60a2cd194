/**
 * Requests that Node's HTTP parser itself rejects never reach the pipeline: smuggling shapes
 * (Content-Length with Transfer-Encoding, repeated Content-Length, bad chunking), obs-fold and
 * invalid header tokens, oversized headers, header timeouts, unknown methods. They still get a
 * problem+json and a ledger record (stage `parse`), through this 'clientError' handler.
 * (RFC 9112 §6.1, §6.3: a message with both framings "ought to be handled as an error".)
 */
import { requestId as newRequestId } from '../core/request-id.js';
import type { Socket } from 'node:net';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { ErrorCode } from '../core/errors.js';
import { ERRORS } from '../core/errors.js';
import { problemJson } from '../core/problem.js';
import { channels } from '../core/diagnostics.js';
import type { Ledger } from '../ledger/writer.js';
import type { GatewayRuntime } from './runtime.js';
import { securityHeaders } from './headers.js';
import { normalizeAddress } from './client-address.js';

export function classifyParserError(code: string | undefined): ErrorCode {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'RAMPART_HEADERS_TOO_LARGE';
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return 'RAMPART_REQUEST_SMUGGLING';
    case 'HPE_INVALID_METHOD':
      return 'RAMPART_METHOD_NOT_IMPLEMENTED';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return 'RAMPART_REQUEST_TIMEOUT';
    default:
      return 'RAMPART_MALFORMED_REQUEST';
  }
}

export function createClientErrorHandler(deps: { current: () => GatewayRuntime; ledger: Ledger; tls: boolean }) {
  return function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const code = err.code;
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
      socket.destroy();
      return;
    }
    // A response already under way on this socket (the body failed to parse while the handler
    // runs): if its headers are out, only closing is safe (as Node itself does). Otherwise this
    // handler answers and closes the socket; the pipeline's body read then fails, and its own
    // record of the exchange follows (its response goes nowhere).
    const pending = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (pending?.headersSent) {
      socket.destroy();
      return;
    }
    const rt = deps.current();
    const reason = classifyParserError(code);
    const requestId = newRequestId();
    const status = ERRORS[reason].status;
    const body = problemJson(reason, { requestId });
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
      'content-type: application/problem+json',
      `content-length: ${Buffer.byteLength(body)}`,
      'cache-control: no-store',
      `x-request-id: ${requestId}`,
      'connection: close',
      ...securityHeaders(rt.config.headers, deps.tls).map(([k, v]) => `${k}: ${v}`),
    ].join('\r\n');
    const write = () => {
      if (pending?.headersSent || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(`${head}\r\n\r\n${body}`, () => socket.destroy());
      // Anything the in-flight handler writes after this is dropped with the socket.
      if (pending) socket.destroySoon();
    };
    // Don't let the client keep the socket busy while the record commits.
    if (!pending) socket.pause();
    deps.ledger
      .append({
        type: 'exchange.decision',
        ts: Date.now(),
        requestId,
        outcome: 'deny',
        status,
        stage: 'parse',
        reason,
        configHash: rt.hash,
        detail: { parserError: code ?? 'unknown' },
        personal: { clientAddress: normalizeAddress(socket.remoteAddress ?? 'unknown') },
      })
      .catch((e: unknown) => channels.ledgerAlert.publish({ kind: 'append-failed', error: e }))
      .finally(write);
  };
}
