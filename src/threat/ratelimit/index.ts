/** Rate limits and data-volume quotas (API4, API6, N63-5, ASVS 2.2.1, 8.1.4): the public surface. */
export { createLimiter, type Limiter, type LimiterOptions, type LimiterEvent, type LimiterHealth, type RedisBackendOptions } from './limiter.js';
export { rateLimitHeaders, type RateLimitHeaderOptions } from './headers.js';
export { RateLimitUnavailableError } from './errors.js';
export { ruleProblems, assertRule, limitKey, boundedKey, RULE_NAME_PATTERN, MAX_KEY_LENGTH, type LimitRule, type LimitDecision, type LimitUnit } from './rules.js';
