/**
 * The catalogue of `rampart check` rules: a stable id per rule, what it means in one line, the
 * requirement ids it serves (from REQUIREMENTS.md; never invented) and the default fix hint.
 * Severity is not here: it depends on the profile (./profiles.ts). Ids are never reused or
 * renamed: CI pipelines suppress and track findings by them (SARIF ruleId).
 */

export interface RuleInfo {
  /** One line: what is wrong when the rule fires (SARIF shortDescription). */
  readonly title: string;
  /** Requirement ids from REQUIREMENTS.md (SARIF properties.tags). */
  readonly requirements: readonly string[];
  /** How to fix it; a finding may give a more specific one. */
  readonly fix: string;
  /** Where the rule looks: the config file or an API's OpenAPI document. */
  readonly scope: 'config' | 'openapi';
}

export const RULES = {
  // --- the configuration does not load ---------------------------------------------------------
  'config-invalid': {
    title: 'The configuration does not load: the gateway would refuse to start',
    requirements: ['API8'],
    fix: 'fix the file at the line named; every problem is listed at once',
    scope: 'config',
  },
  'config-warning': {
    title: 'The loader accepts the configuration but warns about it',
    requirements: ['API8'],
    fix: 'see the message; the gateway prints the same warning at start',
    scope: 'config',
  },
  // --- transport (ENC-1) ----------------------------------------------------------------------
  'tls-min-version': {
    title: 'TLS below 1.2 is allowed',
    requirements: ['ENC-1', 'ENC-4', 'API8'],
    fix: 'set listen.tls.minVersion to TLSv1.2 or TLSv1.3',
    scope: 'config',
  },
  'plain-http-exposed': {
    title: 'Plain HTTP on a non-loopback address with no TLS-terminating proxy',
    requirements: ['ENC-1', 'API8', 'ASVS 9.2.2'],
    fix: 'configure listen.tls, or bind listen.host to 127.0.0.1, or list the TLS-terminating proxy in trustedProxies',
    scope: 'config',
  },
  'plain-http-loopback': {
    title: 'Plain HTTP on a loopback address (allowed for local development only)',
    requirements: ['ENC-1'],
    fix: 'configure listen.tls (a development certificate is enough) and remove listen.plainHttp',
    scope: 'config',
  },
  'plain-http-behind-proxy': {
    title: 'Plain HTTP behind a TLS-terminating proxy: the hop from the proxy to the gateway is cleartext',
    requirements: ['ENC-1', 'ASVS 9.2.2'],
    fix: 'configure listen.tls as well and let the proxy re-encrypt to the gateway',
    scope: 'config',
  },
  'upstream-plain-http': {
    title: 'Plain HTTP to a non-loopback upstream',
    requirements: ['API10', 'ASVS 9.2.2'],
    fix: 'use an https:// upstream URL (with upstream.ca for a private CA)',
    scope: 'config',
  },
  // --- the ledger ------------------------------------------------------------------------------
  'ledger-not-strict': {
    title: 'Ledger durability is not strict: acknowledged records wait in a local spill journal before they reach the store',
    requirements: ['R17a4-3', 'R4511-2'],
    fix: 'set ledger.durability to strict (the default)',
    scope: 'config',
  },
  'checkpoints-unpublished': {
    title: 'Signed checkpoints are not published outside the store: whoever can write the store can rewrite the chain undetected',
    requirements: ['AU-9(2)', 'AU-9(3)'],
    fix: 'add ledger.checkpoints.publish targets: a file on another volume, or a webhook to an append-only sink',
    scope: 'config',
  },
  'checkpoints-same-volume': {
    title: 'Checkpoints are published to a file on the same volume as the ledger store',
    requirements: ['AU-9(2)'],
    fix: 'publish to a file on another volume (another disk or a mounted WORM store) or to a webhook',
    scope: 'config',
  },
  'ledger-no-stream': {
    title: 'Committed records are not streamed to a second store or SIEM',
    requirements: ['AU-9(2)', 'R17a4-9'],
    fix: 'add a ledger.stream target (JSON lines on another volume, or a replica store)',
    scope: 'config',
  },
  'kek-development-provider': {
    title: 'The ledger key-encryption key comes from a development provider (file or environment variable)',
    requirements: ['ENC-6', 'ASVS 6.4.1', 'ASVS 6.4.2'],
    fix: 'use ledger.encryption.kek.provider: pkcs11 (an HSM) in production',
    scope: 'config',
  },
  'retention-short': {
    title: 'Retention of a record class is shorter than the regulations require',
    requirements: ['R17a4-1', 'R17a4-2', 'R4511-1', 'AU-11'],
    fix: 'raise ledger.retention for the class to at least the required number of days (or remove it: the defaults meet the minima)',
    scope: 'config',
  },
  // --- people and credentials ------------------------------------------------------------------
  'admin-plane-absent': {
    title: 'No admin plane: management commands act on the store directly, with no MFA and no authenticated actor',
    requirements: ['FC-1', 'ASVS 4.3.1', 'AU-10'],
    fix: 'configure admin (its own TLS listener; password plus TOTP or passkey, or SSO with MFA)',
    scope: 'config',
  },
  'admin-sso-single-factor': {
    title: 'Admin single sign-on accepts an ID token that does not assert multi-factor authentication',
    requirements: ['N63-1', 'FC-1', 'ASVS 4.3.1'],
    fix: 'set admin.sso.requireAmr to [mfa] (RFC 8176: only mfa asserts that several factors were used)',
    scope: 'config',
  },
  'token-lifetime': {
    title: 'Access-token lifetime over the maximum of 900 seconds',
    requirements: ['API2', 'N63-3'],
    fix: 'set identity.tokens.lifetimeSeconds to 900 or less (default 600)',
    scope: 'config',
  },
  'external-token-lifetime': {
    title: "External tokens are accepted with a longer lifetime than Rampart's own (900 seconds)",
    requirements: ['API2', 'N63-3'],
    fix: "lower identity.issuers[].maxLifetimeSeconds to 900 and shorten the provider's token lifetime to match",
    scope: 'config',
  },
  'auth-throttle-loose': {
    title: 'The failed-authentication throttle allows more than 100 failures per hour from one address',
    requirements: ['N63-5', 'ASVS 2.2.1'],
    fix: 'lower authThrottle.maxFailures or lengthen authThrottle.windowSeconds (e.g. 20 per 900 s = 80 per hour)',
    scope: 'config',
  },
  'no-address-rate-limit': {
    title: 'No request-rate limit per client address: nothing bounds requests (and credential attempts) before authentication',
    requirements: ['API4', 'API2'],
    fix: 'add a rateLimits.rules entry with by: address (unit requests)',
    scope: 'config',
  },
  'api-open-objects': {
    title: 'closedObjects is off: request objects accept properties the document does not declare',
    requirements: ['API3'],
    fix: 'set closedObjects: true on the API (the finra profile turns it on by default)',
    scope: 'config',
  },
  // --- the OpenAPI documents -------------------------------------------------------------------
  'openapi-invalid': {
    title: 'The OpenAPI document does not load: the gateway would refuse to start',
    requirements: ['API9'],
    fix: 'fix the document at the line named',
    scope: 'openapi',
  },
  'operation-no-security': {
    title: 'An operation declares no security requirement (neither its own nor the document\'s) and is public',
    requirements: ['API5', 'API2'],
    fix: 'add a security requirement to the operation or at the document root; write security: [] only for deliberately public operations',
    scope: 'openapi',
  },
  'operation-public': {
    title: 'An operation opts out of authentication explicitly (security: [] or an empty requirement {})',
    requirements: ['API5'],
    fix: 'confirm that the operation serves only public data; otherwise require a security scheme',
    scope: 'openapi',
  },
  'api-key-in-query': {
    title: 'An API-key scheme carries the credential in the query string',
    requirements: ['ASVS 8.3.1'],
    fix: 'send the key in a header (in: header) or as a Bearer token',
    scope: 'openapi',
  },
  'string-no-max-length': {
    title: 'A request string has no maxLength',
    requirements: ['API4', 'ASVS 5.1.4'],
    fix: 'add maxLength (the longest value the upstream accepts), or an enum or a format of fixed length (uuid, date)',
    scope: 'openapi',
  },
  'array-no-max-items': {
    title: 'A request array has no maxItems',
    requirements: ['API4', 'ASVS 5.1.4'],
    fix: 'add maxItems (the most items the upstream handles in one request)',
    scope: 'openapi',
  },
  'request-body-open-object': {
    title: 'A request-body object accepts undeclared properties (mass assignment)',
    requirements: ['API3'],
    fix: 'add additionalProperties: false, or set closedObjects: true on the API',
    scope: 'openapi',
  },
  'number-unbounded': {
    title: 'A request number has no minimum or no maximum',
    requirements: ['ASVS 5.1.4'],
    fix: 'add minimum and maximum (or format: int32 for a 32-bit integer)',
    scope: 'openapi',
  },
} as const satisfies Record<string, RuleInfo>;

export type RuleId = keyof typeof RULES;

export const RULE_IDS = Object.keys(RULES) as RuleId[];
