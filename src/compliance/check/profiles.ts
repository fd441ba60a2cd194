/**
 * Severity of every rule under each compliance profile.
 *
 * - `default`: most findings are warnings or notes; errors only where the gateway would refuse
 *   the file anyway or where a control the design treats as non-negotiable is off (admin MFA).
 * - `finra`: what SEC 17a-4, FINRA 4511 and the encryption baseline demand becomes an error:
 *   TLS below 1.2, plain HTTP off loopback, a ledger that is not strict, checkpoints not
 *   published outside the store, a development KEK provider, retention below the minima,
 *   operations without security, no admin plane (FC-1 MFA for admin access).
 *
 * `rampart check --profile P` overrides the config's `profile` field.
 */
import type { Severity } from './findings.js';
import type { RuleId } from './rules.js';

export const PROFILES = ['default', 'finra'] as const;
export type Profile = (typeof PROFILES)[number];

export function isProfile(v: unknown): v is Profile {
  return typeof v === 'string' && (PROFILES as readonly string[]).includes(v);
}

/** [default, finra] per rule. */
const TABLE: Record<RuleId, readonly [Severity, Severity]> = {
  // The gateway would not start: an error whatever the profile.
  'config-invalid': ['error', 'error'],
  'openapi-invalid': ['error', 'error'],
  'tls-min-version': ['error', 'error'],
  'plain-http-exposed': ['error', 'error'],
  'token-lifetime': ['error', 'error'],
  'config-warning': ['warning', 'warning'],

  'plain-http-loopback': ['note', 'warning'],
  'plain-http-behind-proxy': ['warning', 'error'],
  'upstream-plain-http': ['warning', 'error'],

  'ledger-not-strict': ['warning', 'error'],
  'checkpoints-unpublished': ['warning', 'error'],
  'checkpoints-same-volume': ['note', 'warning'],
  'ledger-no-stream': ['note', 'warning'],
  'kek-development-provider': ['warning', 'error'],
  'retention-short': ['warning', 'error'],

  'admin-plane-absent': ['warning', 'error'],
  // MFA for admin access is a design non-negotiable (DESIGN.md "MFA for admin access").
  'admin-sso-single-factor': ['error', 'error'],
  'external-token-lifetime': ['note', 'warning'],
  'auth-throttle-loose': ['note', 'warning'],
  'no-address-rate-limit': ['warning', 'warning'],
  'api-open-objects': ['note', 'error'],

  'operation-no-security': ['warning', 'error'],
  'operation-public': ['note', 'warning'],
  'api-key-in-query': ['warning', 'error'],
  'string-no-max-length': ['warning', 'warning'],
  'array-no-max-items': ['warning', 'warning'],
  'request-body-open-object': ['warning', 'warning'],
  'number-unbounded': ['note', 'note'],
};

/**
 * The severity of `rule` under `profile`.
 *
 * @example
 * severityOf('ledger-not-strict', 'finra'); // 'error'
 */
export function severityOf(rule: RuleId, profile: Profile): Severity {
  return TABLE[rule][profile === 'finra' ? 1 : 0];
}
