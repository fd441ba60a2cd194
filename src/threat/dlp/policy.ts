/**
 * The DLP policy: per data class an action applied to responses, and the scopes that lift it
 * (API3: "responses are filtered to role-allowlisted properties"; FC-3; ASVS 8.3.x, 7.1.1).
 * Compiled once per configuration version; nothing on the hot path reads the raw config.
 *
 * Actions, weakest to strongest: none < partial < mask < redact < block. A value with several
 * classes (its own and those of the values containing it) gets the strongest action among them.
 * A caller holding any `reveal` scope of a class sees that class in full (action `none`).
 *
 * Defaults, chosen for a brokerage (docs/dlp.md explains each):
 *
 *   class            action   reveal        class           action   reveal
 *   secret           redact   (never)       email           partial  pii:read
 *   ssn              partial  pii:read      phone           partial  pii:read
 *   tax-id           partial  pii:read      name            partial  pii:read
 *   card-number      partial  pci:read      address         mask     pii:read
 *   account-number   partial  pii:read      ip-address      partial  pii:read
 *   routing-number   partial  pii:read      subject-id      none
 *   date-of-birth    mask     pii:read      financial       none
 *   free-text        none (the detectors still run inside it)
 *   any other class  mask     pii:read      (`*` configures it)
 *
 * `secret` is redacted whatever the scopes (it may be configured `block`, nothing weaker). The
 * detectors (detectors.ts, key-hints.ts) use the action of their class unless `detect` names one,
 * and the same reveal scopes: a caller with `pii:read` sees SSNs in full whether the schema
 * classified them or a detector found them.
 */
import { DETECT_KINDS, type DetectKind } from './detectors.js';

export type DlpAction = 'none' | 'mask' | 'partial' | 'redact' | 'block';

const RANK: Readonly<Record<DlpAction, number>> = Object.freeze({ none: 0, partial: 1, mask: 2, redact: 3, block: 4 });
const ACTIONS = Object.keys(RANK) as DlpAction[];

/**
 * Orders actions by strength (none 0 ... block 4).
 *
 * @example
 * actionRank('redact') > actionRank('mask'); // true
 */
export function actionRank(a: DlpAction): number {
  return RANK[a];
}

/** How secret-looking key names are treated in responses. */
export type SecretNames = 'credentials' | 'all' | 'off';

export interface DlpClassConfig {
  /** Absent: the default action of the class. */
  action?: DlpAction;
  /** Scopes any one of which shows the class in full. Replaces the default; `[]`: nobody. */
  reveal?: string | readonly string[];
}

export interface DlpPolicyConfig {
  /** Per class (CLASSIFICATIONS names, custom classes, or `*` for every class not listed). */
  classes?: Record<string, DlpClassConfig>;
  /**
   * The detectors for values no schema classified: `false` turns a kind off, an action overrides
   * the class's action for what the detector finds. account-number and date-of-birth are found by
   * key name only (see key-hints.ts).
   */
  detect?: Partial<Record<DetectKind, DlpAction | false>>;
  /** Key names (accountNumber, dob, ssn...) mark their values (default true). */
  keyNames?: boolean;
  /**
   * Values under secret-looking names: 'credentials' (default) redacts passwords, PINs, CVVs,
   * private keys and client secrets; 'all' also tokens, API keys, cookies and the rest of the
   * ledger's list (isSecretName; this breaks APIs that hand out tokens or page cursors); 'off'
   * relies on `secret` classifications only.
   */
  secretNames?: SecretNames;
}

export interface DlpRule {
  readonly action: DlpAction;
  /** Scopes that lift the action (already qualified). Empty: nobody. */
  readonly reveal: readonly string[];
}

/** A compiled policy: immutable, shared by every request of a configuration version. */
export interface DlpPolicy {
  /** Rules of the known classes and of every configured class. */
  readonly classes: ReadonlyMap<string, DlpRule>;
  /** Rule for classes not in `classes` (custom classes, `unknown`). */
  readonly otherClasses: DlpRule;
  /** Per detector kind: its rule, or false when off. */
  readonly detect: ReadonlyMap<DetectKind, DlpRule | false>;
  readonly keyNames: boolean;
  readonly secretNames: SecretNames;
  /** Non-fatal remarks (a class name that is not in CLASSIFICATIONS, for example). */
  readonly warnings: readonly string[];
}

export interface CompileDlpOptions {
  /** Qualifies reveal scopes the way the gateway qualifies every scope (`api:scope` with several APIs). */
  qualifyScope?: (scope: string) => string;
}

/** The scope that reveals personal data by default. */
export const PII_READ_SCOPE = 'pii:read';
/** The scope that reveals full card numbers by default (PCI DSS 3.4.1: full PAN only with a business need). */
export const PCI_READ_SCOPE = 'pci:read';

const P: readonly string[] = [PII_READ_SCOPE];
const DEFAULTS: ReadonlyArray<[string, DlpAction, readonly string[]]> = [
  ['secret', 'redact', []],
  ['ssn', 'partial', P],
  ['tax-id', 'partial', P],
  ['account-number', 'partial', P],
  ['card-number', 'partial', [PCI_READ_SCOPE]],
  ['routing-number', 'partial', P],
  ['date-of-birth', 'mask', P],
  ['email', 'partial', P],
  ['phone', 'partial', P],
  ['name', 'partial', P],
  ['address', 'mask', P],
  ['ip-address', 'partial', P],
  ['subject-id', 'none', []],
  ['financial', 'none', []],
  ['free-text', 'none', []],
];
const KNOWN = new Set(DEFAULTS.map(([c]) => c));
const OTHER = '*';
const DEFAULT_OTHER: [DlpAction, readonly string[]] = ['mask', P];

const CLASS_NAME = /^(?:\*|[a-z0-9][a-z0-9-]{0,63})$/;
/** RFC 6749 scope-token: visible ASCII except `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function invalid(message: string): TypeError {
  const e = new TypeError(`dlp policy: ${message}`);
  (e as TypeError & { code: string }).code = 'RAMPART_DLP_POLICY_INVALID';
  return e;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(v: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw invalid(`${at}.${k}: unknown setting (expected ${allowed.join(', ')})`);
}

function checkAction(v: unknown, at: string): DlpAction {
  if (typeof v !== 'string' || !Object.hasOwn(RANK, v)) throw invalid(`${at}: ${JSON.stringify(v) ?? String(v)} is not one of ${ACTIONS.join(', ')}`);
  return v as DlpAction;
}

/**
 * Compiles a DLP policy from its configuration (undefined: the defaults). Throws a TypeError with
 * code RAMPART_DLP_POLICY_INVALID naming the bad entry (`dlp policy: classes.ssn.action: ...`).
 *
 * @example
 * const policy = compileDlpPolicy({
 *   classes: { ssn: { action: 'partial', reveal: 'pii:read' }, email: { action: 'mask' } },
 *   detect: { phone: false, 'card-number': 'redact' },
 * });
 */
export function compileDlpPolicy(cfg: DlpPolicyConfig | undefined, options: CompileDlpOptions = {}): DlpPolicy {
  const q = options.qualifyScope ?? ((s: string) => s);
  if (cfg !== undefined && !isRecord(cfg)) throw invalid('the policy must be an object');
  const c: DlpPolicyConfig = cfg ?? {};
  checkKeys(c as Record<string, unknown>, ['classes', 'detect', 'keyNames', 'secretNames'], 'dlp');
  const warnings: string[] = [];

  const reveals = (v: unknown, at: string): string[] => {
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list)) throw invalid(`${at}: must be a scope or a list of scopes`);
    const out: string[] = [];
    list.forEach((s: unknown, i) => {
      if (typeof s !== 'string' || !SCOPE_TOKEN.test(s)) throw invalid(`${at}${Array.isArray(v) ? `[${i}]` : ''}: ${JSON.stringify(s) ?? String(s)} is not a scope (visible ASCII, no spaces, quotes or backslashes)`);
      const qs = q(s);
      if (!out.includes(qs)) out.push(qs);
    });
    return out;
  };

  const base = new Map<string, [DlpAction, readonly string[]]>(DEFAULTS.map(([cls, a, r]) => [cls, [a, r]]));
  base.set(OTHER, DEFAULT_OTHER);
  const configured = new Map<string, { action?: DlpAction; reveal?: string[] }>();
  if (c.classes !== undefined) {
    if (!isRecord(c.classes)) throw invalid('classes: must be an object of class names');
    for (const [name, entry] of Object.entries(c.classes)) {
      const at = `classes.${name}`;
      if (!CLASS_NAME.test(name)) throw invalid(`${at}: not a class name (lower case letters, digits and '-', or '*')`);
      if (!isRecord(entry)) throw invalid(`${at}: must be an object with action and/or reveal`);
      checkKeys(entry, ['action', 'reveal'], at);
      const out: { action?: DlpAction; reveal?: string[] } = {};
      if (entry['action'] !== undefined) out.action = checkAction(entry['action'], `${at}.action`);
      if (entry['reveal'] !== undefined) out.reveal = reveals(entry['reveal'], `${at}.reveal`);
      if (name === 'secret') {
        if (out.action !== undefined && out.action !== 'redact' && out.action !== 'block') throw invalid(`${at}.action: secrets are always redacted (only redact or block)`);
        if (out.reveal !== undefined && out.reveal.length > 0) throw invalid(`${at}.reveal: no scope reveals secrets`);
      }
      if (name !== OTHER && !KNOWN.has(name)) warnings.push(`${at}: '${name}' is not a known classification; it applies only where a document declares it`);
      configured.set(name, out);
    }
  }

  const classes = new Map<string, DlpRule>();
  let otherClasses: DlpRule = { action: 'mask', reveal: [] };
  for (const name of new Set([...base.keys(), ...configured.keys()])) {
    const [da, dr] = base.get(name) ?? base.get(OTHER)!;
    const conf = configured.get(name);
    const rule: DlpRule = Object.freeze({ action: conf?.action ?? da, reveal: Object.freeze(conf?.reveal ?? dr.map(q)) });
    if (name === OTHER) otherClasses = rule;
    else classes.set(name, rule);
  }

  const detect = new Map<DetectKind, DlpRule | false>();
  if (c.detect !== undefined && !isRecord(c.detect)) throw invalid('detect: must be an object of detector kinds');
  const d = (c.detect ?? {}) as Record<string, unknown>;
  checkKeys(d, DETECT_KINDS, 'detect');
  for (const kind of DETECT_KINDS) {
    const v = d[kind];
    const cls = classes.get(kind)!;
    if (v === false) detect.set(kind, false);
    else if (v === undefined || v === true) detect.set(kind, cls);
    else detect.set(kind, Object.freeze({ action: checkAction(v, `detect.${kind}`), reveal: cls.reveal }));
  }

  if (c.keyNames !== undefined && typeof c.keyNames !== 'boolean') throw invalid('keyNames: must be true or false');
  const sn = c.secretNames ?? 'credentials';
  if (sn !== 'credentials' && sn !== 'all' && sn !== 'off') throw invalid(`secretNames: ${JSON.stringify(sn) ?? String(sn)} is not one of credentials, all, off`);

  return Object.freeze({ classes, otherClasses, detect, keyNames: c.keyNames ?? true, secretNames: sn, warnings: Object.freeze(warnings) });
}

/**
 * The rule of a class under `policy`.
 *
 * @example
 * ruleFor(compileDlpPolicy(undefined), 'ssn'); // { action: 'partial', reveal: ['pii:read'] }
 */
export function ruleFor(policy: DlpPolicy, cls: string): DlpRule {
  return policy.classes.get(cls) ?? policy.otherClasses;
}
