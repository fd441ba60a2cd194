/**
 * The one error the limiter throws for an outage: in strict mode (`onOutage: 'refuse'`) a Redis
 * outage refuses traffic rather than counting it locally (fail closed, DESIGN non-negotiable).
 * The integrator answers 503 with a stable code; the cause stays in `cause` and the logs, never
 * in the response.
 */
export class RateLimitUnavailableError extends Error {
  readonly code = 'RAMPART_RATELIMIT_UNAVAILABLE' as const;
  readonly status = 503;
  constructor(options?: { cause?: unknown }) {
    super('rate limits cannot be checked right now (Redis unavailable, strict mode)', options);
    this.name = 'RateLimitUnavailableError';
  }
}
