/**
 * The anomaly model's settings, every one with a documented default (docs/anomaly.md "Tuning").
 * The gateway passes `anomaly.model` from rampart.yaml through unchanged, so this file checks what
 * it gets once, at creation (STYLE: options checked eagerly): an unknown key, a wrong type or a
 * value out of range throws a TypeError naming the path, so that a typo in the YAML cannot
 * silently switch a detector off. The result is frozen.
 */
import { ANOMALY_KINDS, type ActionLevel, type AnomalyKind } from './types.js';

export interface KindPolicy {
  enabled: boolean;
  /** The strongest action this kind may take, whatever its score. */
  maxAction: ActionLevel;
  /** How long a throttle or block lasts. */
  durationMs: number;
}

export interface AnomalyConfig {
  /** Principals tracked at once; the least recently active is evicted beyond it (about 2 KB each). */
  maxPrincipals: number;
  /** Client addresses tracked (unauthenticated traffic and authentication failures only). */
  maxAddresses: number;
  /** Key ids tracked for authentication failures. */
  maxKeys: number;
  /** Throttles and blocks in force at once; the oldest is dropped beyond it. */
  maxRestrictions: number;
  /** The short window is `windowSlots` slots of `slotMs`: by default the last 50-60 s. */
  slotMs: number;
  windowSlots: number;
  /**
   * Active minutes before a principal's baseline is trusted as is. Before the first one, cold
   * (population) thresholds apply; in between, the baseline's thresholds x (1 + earlyInflation / n),
   * never laxer than cold.
   */
  warmupMinutes: number;
  earlyInflation: number;
  /** Half-life of the baselines, in active minutes of the principal (not wall-clock minutes). */
  halfLifeMinutes: number;
  /** A minute folded into a baseline is clipped at max(mean + clipSigmas x sd, 2 x mean) + 1 (slow poisoning). */
  clipSigmas: number;
  /** Half-life of the peak envelope, in active minutes (remembers recurring peaks: a nightly batch). */
  envelopeHalfLifeMinutes: number;
  /** Thresholds are at least this multiple of the envelope. */
  envelopeMultiple: number;
  /** Score (0..10) from which each action applies. */
  scores: { alert: number; throttle: number; block: number };
  /** One alert per subject and kind per cool-down, unless the action escalates or a restriction lapsed. */
  cooldownMs: number;
  kinds: Record<AnomalyKind, KindPolicy>;
  /** A throttled principal keeps max(minPerMinute, baselineMultiple x its usual requests per minute). */
  throttle: { minPerMinute: number; baselineMultiple: number };
  /** Requests in the short window (ASVS 8.1.4). */
  rate: { coldPerMinute: number; floorPerMinute: number; multiple: number; sigmas: number; anonymousPerMinute: number };
  /** Records and bytes out (FC-3 bulk download). */
  volume: {
    coldRecordsPerMinute: number;
    floorRecordsPerMinute: number;
    coldBytesPerMinute: number;
    floorBytesPerMinute: number;
    multiple: number;
    sigmas: number;
    /** FC-3's "N records per hour": over the last hour (12 slots of 5 min). */
    recordsPerHour: number;
    bytesPerHour: number;
    /**
     * Once a principal has hourScaleMinMinutes active minutes of history, its hourly limit is
     * max(recordsPerHour, hourMultiple x 60 x its usual records per minute). Before that (and for
     * people, who rarely reach it), recordsPerHour applies as is. false: always as is.
     */
    hourScalesWithBaseline: boolean;
    hourScaleMinMinutes: number;
    hourMultiple: number;
    /** Per-principal hourly record limits that replace the above (service accounts). */
    recordsPerHourOverrides: Record<string, number>;
  };
  /** Object ids (API1 BOLA probing). */
  objects: {
    /** Distinct ids are remembered this long (and at most `cap` per principal). */
    windowMs: number;
    cap: number;
    /** Ids read from one event at most. */
    maxPerEvent: number;
    /** Distinct ids denied (403/404) within windowMs from which a sweep is flagged. */
    deniedDistinct: number;
    /** New (not seen within windowMs) ids in the short window. */
    coldNovelPerMinute: number;
    floorNovelPerMinute: number;
    multiple: number;
    sigmas: number;
    /** Reasons that mean "this object is not yours / does not exist". */
    deniedReasons: string[];
  };
  /** Authentication failures (ASVS 2.2.1: at most 100 failed attempts per hour per account). */
  auth: {
    /** Failures from one address in the short window. */
    addressFailures: number;
    /** Failures against one key id in the short window, from any address. */
    keyFailures: number;
    /** Failures per address or per key over the last hour. */
    failuresPerHour: number;
    /** Distinct key ids tried from one address within authWindowMs (credential stuffing). */
    distinctKeys: number;
    authWindowMs: number;
    /** Restricting a key on failures others cause would let anyone lock a customer out: alert only by default. */
    keyMaxAction: ActionLevel;
    /** Reasons counted as a failed authentication (besides any 401 other than RAMPART_AUTH_REQUIRED). */
    failureReasons: string[];
  };
  /** Client errors (4xx other than 401, 429 and object denials) as a share of requests. */
  errors: { minErrors: number; ratio: number; overBaseline: number };
  /** Client networks (/24 IPv4, /48 IPv6) and blocks (/16, /32). */
  network: {
    /** A principal's networks are "known" once it has this many events over at least minDays UTC days. */
    minEvents: number;
    minDays: number;
    /** Networks and blocks remembered per principal. */
    cap: number;
    /** New block for a principal that has used only one block on at least pinnedMinDays days (a pinned key). */
    pinnedScore: number;
    pinnedMinDays: number;
    /** New block for a principal that already uses several (a person on the move). */
    multiBlockScore: number;
    /** New /24 inside a known block (mobile carrier, DHCP). */
    sameBlockScore: number;
    /** New block that at least sharedMinPrincipals other principals took up without alarm (a mobile carrier, a shared office). */
    sharedBlockScore: number;
    sharedMinPrincipals: number;
    /** Blocks counted for sharing (LRU). */
    maxSharedBlocks: number;
    /** A high-risk action from a network first seen less than highRiskWindowMs ago (RSID-1 red flag). */
    highRiskScore: number;
    highRiskWindowMs: number;
  };
  /** RSID-1: a dormant account turning active. */
  dormancy: { idleMs: number; score: number; highRiskScore: number; windowMs: number };
  /** A high-risk action at an hour the principal is never active. */
  offHours: { minEvents: number; minDays: number; share: number; score: number };
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** The defaults, as documented in docs/anomaly.md. */
export const DEFAULT_ANOMALY_CONFIG: AnomalyConfig = deepFreeze({
  maxPrincipals: 50_000,
  maxAddresses: 100_000,
  maxKeys: 50_000,
  maxRestrictions: 100_000,
  slotMs: 10_000,
  windowSlots: 6,
  warmupMinutes: 10,
  earlyInflation: 2,
  halfLifeMinutes: 720,
  clipSigmas: 4,
  envelopeHalfLifeMinutes: 2880,
  envelopeMultiple: 2,
  scores: { alert: 4, throttle: 7, block: 9 },
  cooldownMs: 10 * MIN,
  kinds: {
    enumeration: { enabled: true, maxAction: 'block', durationMs: 30 * MIN },
    'bulk-pull': { enabled: true, maxAction: 'block', durationMs: 15 * MIN },
    'auth-failures': { enabled: true, maxAction: 'block', durationMs: 15 * MIN },
    'new-network': { enabled: true, maxAction: 'throttle', durationMs: 15 * MIN },
    'dormant-reactivation': { enabled: true, maxAction: 'throttle', durationMs: 60 * MIN },
    // Alerts only by default: a burst or a buggy client is the rate limiter's business
    // (rateLimits.rules, explicit and documented), not a guess that throttles a new integration.
    'rate-spike': { enabled: true, maxAction: 'alert', durationMs: 5 * MIN },
    'error-ratio': { enabled: true, maxAction: 'alert', durationMs: 10 * MIN },
    'off-hours': { enabled: true, maxAction: 'alert', durationMs: 15 * MIN },
  },
  throttle: { minPerMinute: 6, baselineMultiple: 1.5 },
  rate: { coldPerMinute: 120, floorPerMinute: 40, multiple: 3, sigmas: 5, anonymousPerMinute: 300 },
  volume: {
    coldRecordsPerMinute: 2_000,
    floorRecordsPerMinute: 300,
    coldBytesPerMinute: 8 * 1024 * 1024,
    floorBytesPerMinute: 1024 * 1024,
    multiple: 3,
    sigmas: 5,
    recordsPerHour: 10_000,
    bytesPerHour: 256 * 1024 * 1024,
    hourScalesWithBaseline: true,
    hourScaleMinMinutes: 240,
    hourMultiple: 3,
    recordsPerHourOverrides: {},
  },
  objects: {
    windowMs: 10 * MIN,
    cap: 64,
    maxPerEvent: 16,
    deniedDistinct: 6,
    coldNovelPerMinute: 40,
    floorNovelPerMinute: 24,
    multiple: 3,
    sigmas: 5,
    deniedReasons: ['RAMPART_OBJECT_FORBIDDEN', 'RAMPART_OBJECT_NOT_FOUND'],
  },
  auth: {
    addressFailures: 10,
    keyFailures: 10,
    failuresPerHour: 100,
    distinctKeys: 5,
    authWindowMs: 10 * MIN,
    keyMaxAction: 'alert',
    failureReasons: ['RAMPART_AUTH_INVALID', 'RAMPART_AUTH_THROTTLED', 'RAMPART_ADMIN_LOGIN_FAILED', 'RAMPART_ADMIN_LOCKED'],
  },
  errors: { minErrors: 12, ratio: 0.5, overBaseline: 0.3 },
  network: { minEvents: 20, minDays: 2, cap: 16, pinnedScore: 6, pinnedMinDays: 4, multiBlockScore: 3, sameBlockScore: 1, sharedBlockScore: 2, sharedMinPrincipals: 3, maxSharedBlocks: 100_000, highRiskScore: 8, highRiskWindowMs: HOUR },
  dormancy: { idleMs: 30 * DAY, score: 5, highRiskScore: 8, windowMs: DAY },
  offHours: { minEvents: 200, minDays: 3, share: 0.01, score: 5 },
});

/** Deep partial: what `createAnomalyDetector` accepts (Partial<AnomalyConfig> fits). */
export type AnomalyOptions = { [K in keyof AnomalyConfig]?: AnomalyConfig[K] extends string[] ? string[] : AnomalyConfig[K] extends object ? { [L in keyof AnomalyConfig[K]]?: AnomalyConfig[K][L] extends string[] ? string[] : AnomalyConfig[K][L] extends object ? Partial<AnomalyConfig[K][L]> : AnomalyConfig[K][L] } : AnomalyConfig[K] };

const LEVELS: readonly string[] = ['alert', 'throttle', 'block'];
/** Keys whose value is a free-form map (any key allowed). */
const FREE_MAPS = new Set(['volume.recordsPerHourOverrides']);
/** Numbers that must be integers >= 1. */
const COUNTS = new Set(['maxPrincipals', 'maxAddresses', 'maxKeys', 'maxRestrictions', 'windowSlots', 'objects.cap', 'objects.maxPerEvent', 'network.cap', 'network.sharedMinPrincipals', 'network.maxSharedBlocks']);
/** Numbers that are shares (0..1]. */
const SHARES = new Set(['errors.ratio', 'offHours.share']);
/** Numbers that may be 0 (a score of 0 silences that case; warm-up 0 trusts the first minute). */
const ZERO_OK = new Set(['warmupMinutes', 'earlyInflation', 'errors.overBaseline', 'network.pinnedScore', 'network.multiBlockScore', 'network.sameBlockScore', 'network.sharedBlockScore', 'network.highRiskScore', 'dormancy.score', 'dormancy.highRiskScore', 'offHours.score']);

/**
 * Merges options over the defaults and checks them. Throws TypeError (with the offending path)
 * for an unknown key, a wrong type or a value out of range.
 *
 * @example
 * const cfg = resolveAnomalyConfig({ volume: { recordsPerHour: 5000 } });
 * cfg.volume.recordsPerHour; // 5000
 * resolveAnomalyConfig({ volume: { recordsPerHuor: 5000 } } as never); // TypeError: anomaly.volume.recordsPerHuor: unknown setting
 */
export function resolveAnomalyConfig(options: AnomalyOptions | undefined): AnomalyConfig {
  if (options === undefined || options === null) return DEFAULT_ANOMALY_CONFIG;
  const merged = merge(DEFAULT_ANOMALY_CONFIG as unknown as Record<string, unknown>, options as unknown, '') as unknown as AnomalyConfig;
  const s = merged.scores;
  if (!(s.alert > 0 && s.alert <= s.throttle && s.throttle <= s.block && s.block <= 10)) throw new TypeError('anomaly.scores: expected 0 < alert <= throttle <= block <= 10');
  if (merged.windowSlots < 2) throw new TypeError('anomaly.windowSlots: expected at least 2');
  return deepFreeze(merged);
}

function merge(base: Record<string, unknown>, over: unknown, path: string): Record<string, unknown> {
  if (typeof over !== 'object' || over === null || Array.isArray(over)) throw new TypeError(`anomaly${path ? '.' + path : ''}: expected an object`);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    const p = path ? `${path}.${k}` : k;
    if (!Object.hasOwn(base, k)) throw new TypeError(`anomaly.${p}: unknown setting`);
    if (v === undefined) continue;
    const d = base[k];
    if (FREE_MAPS.has(p)) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`anomaly.${p}: expected a map of principal to number`);
      for (const [name, n] of Object.entries(v)) if (!(typeof n === 'number' && Number.isFinite(n) && n > 0)) throw new TypeError(`anomaly.${p}.${name}: expected a positive number`);
      out[k] = { ...(v as Record<string, number>) };
    } else if (Array.isArray(d)) {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new TypeError(`anomaly.${p}: expected a list of strings`);
      out[k] = [...(v as string[])];
    } else if (typeof d === 'object' && d !== null) {
      out[k] = merge(d as Record<string, unknown>, v, p);
    } else if (typeof d === 'number') {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`anomaly.${p}: expected a finite number >= 0`);
      if (COUNTS.has(p) && !(Number.isInteger(v) && v >= 1)) throw new TypeError(`anomaly.${p}: expected an integer >= 1`);
      if (SHARES.has(p) && !(v > 0 && v <= 1)) throw new TypeError(`anomaly.${p}: expected a share in (0, 1]`);
      if (v === 0 && !ZERO_OK.has(p)) throw new TypeError(`anomaly.${p}: expected a number > 0`);
      out[k] = v;
    } else if (typeof d === 'boolean') {
      if (typeof v !== 'boolean') throw new TypeError(`anomaly.${p}: expected true or false`);
      out[k] = v;
    } else if (typeof d === 'string') {
      if (typeof v !== 'string' || (k.toLowerCase().endsWith('maxaction') && !LEVELS.includes(v))) throw new TypeError(`anomaly.${p}: expected one of ${LEVELS.join(', ')}`);
      out[k] = v;
    }
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Kinds in ANOMALY_KINDS order, for index lookups. */
export const KIND_INDEX: Readonly<Record<AnomalyKind, number>> = Object.freeze(Object.fromEntries(ANOMALY_KINDS.map((k, i) => [k, i])) as Record<AnomalyKind, number>);
