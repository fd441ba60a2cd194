/**
 * Structured JSON logs (pino). Redaction paths make sure credentials never reach a log line
 * (ASVS 7.1.1) even if a caller passes headers by mistake.
 */
import { pino, destination, stdTimeFunctions, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.RAMPART_LOG_LEVEL ?? 'info',
      base: { svc: 'rampart' },
      timestamp: stdTimeFunctions.isoTime,
      redact: {
        paths: ['*.authorization', '*.headers.authorization', '*.headers.cookie', '*.headers["x-api-key"]', '*.key', '*.secret', 'key', 'secret'],
        censor: '[redacted]',
      },
    },
    (opts.destination as DestinationStream | undefined) ?? destination(2),
  );
}

/** A logger that drops everything (tests, CLI commands that print their own output). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
