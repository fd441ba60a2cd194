/**
 * Structured JSON logs (pino): one JSON object per line with `level`, `time` (ISO 8601 UTC,
 * ASVS 7.3.4 / AU-8), `svc`, `msg`, and `requestId` on every line about an exchange (the same id
 * the client gets in `x-request-id` and the ledger records), so a log line, a problem response
 * and a record can be joined.
 *
 * Secrets never reach a log line (ASVS 7.1.1, DESIGN non-negotiables): callers log ids and
 * codes, never headers or bodies, and these redaction paths are the second line of defence if a
 * caller passes headers, a key or a token by mistake. Personal data stays out too: the access log
 * below carries the route's operation, never the path with its ids, and no client address.
 */
import { pino, destination, stdTimeFunctions, type Logger, type DestinationStream } from 'pino';
import { channels, type ExchangeEndMessage } from './diagnostics.js';

export type { Logger };

/** Header and field names whose values are credentials (redacted wherever a caller puts them). */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'];
const SECRET_FIELDS = ['key', 'secret', 'token', 'password', 'apiKey', 'accessToken', 'refreshToken', 'access_token', 'refresh_token', 'id_token', 'client_secret', 'assertion'];

/** pino redaction paths: the names at the top level, one level down, and under any `headers`. */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
  ...SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`, `*["${h}"]`, `["${h}"]`]),
];

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.RAMPART_LOG_LEVEL ?? 'info',
      base: { svc: 'rampart' },
      timestamp: stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    },
    (opts.destination as DestinationStream | undefined) ?? destination(2),
  );
}

/** A logger that drops everything (tests, CLI commands that print their own output). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * A debug-level access log: one line per exchange from the `exchange:end` channel, with the
 * request id and what was decided. Subscribes only when the logger's level shows debug lines, so
 * a production gateway at `info` pays nothing per request. Returns the unsubscribe function.
 */
export function subscribeAccessLog(logger: Logger): () => void {
  if (!logger.isLevelEnabled('debug')) return () => {};
  const onEnd = (m: unknown) => {
    const e = m as ExchangeEndMessage;
    logger.debug(
      {
        requestId: e.context.requestId,
        method: e.context.method,
        api: e.api,
        operation: e.operationId,
        status: e.status,
        outcome: e.outcome,
        stage: e.stage,
        reason: e.reason,
        durationMs: Math.round(e.durationSeconds * 1e6) / 1000,
        bytesIn: e.bytesIn,
        bytesOut: e.bytesOut,
      },
      'exchange',
    );
  };
  channels.exchangeEnd.subscribe(onEnd);
  return () => channels.exchangeEnd.unsubscribe(onEnd);
}
