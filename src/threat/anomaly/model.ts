/**
 * The anomaly detector: per-principal behaviour baselines, scored as each exchange ends, turned
 * into actions (alert, throttle, block for a period) that the gateway carries out. FC-3 (insider
 * threat: unusual user behaviour; a bulk download over N records per hour raises an alert),
 * RSID-1 (red flags: a new network followed by a high-risk action, a dormant account turning
 * active), ASVS 8.1.4 (alert on abnormal request counts), API1 (BOLA probing), API6 (sensitive
 * flows watched more closely). The model, its thresholds and what it cannot see: docs/anomaly.md.
 *
 *   observe(event) ─┬─ authentication failure ──▶ address state, key state ─▶ auth-failures
 *                   ├─ no principal ────────────▶ address state ───────────▶ rate-spike (anonymous)
 *                   └─ principal ─▶ dormancy, network, window + hour counters, object ids
 *                                   ─▶ rate-spike, bulk-pull, enumeration, error-ratio,
 *                                      new-network, dormant-reactivation, off-hours
 *                                   ─▶ score ─▶ level (capped per kind) ─▶ dedup ─▶ action
 *
 * Cost and memory: O(1) per event (a few Map operations, one hash per object id, at most
 * `windowSlots` steps to roll a window); no timers (time moves with events and tick()). State is
 * three bounded LRU maps (principals, addresses, keys), touched at most once a minute per entry,
 * plus the restriction table (actions.ts). See docs/anomaly.md for the measured cost.
 */
import { alphaForHalfLife, Baseline, envelopeDecay, F_BYTES, F_ERROR_SHARE, F_NOVEL, F_RECORDS, F_REQUESTS, FEATURE_COUNT, FEATURE_NAMES } from './baseline.js';
import { type AnomalyConfig, type AnomalyOptions, resolveAnomalyConfig } from './config.js';
import { hashId, RecentIds, SlidingCounts } from './features.js';
import { networkOf } from './network.js';
import { type AlertBook, newAlertBook, RestrictionTable, shouldEmit } from './actions.js';
import { ACTION_OF, LEVEL_OF, type Level, levelOf, ratioScore, threshold } from './score.js';
import type { AnomalyAction, AnomalyDetector, AnomalyKind, AnomalyRestriction, AnomalyTarget, ExchangeEvent } from './types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The hour window: 12 slots of 5 minutes. */
const HOUR_SLOT_MS = 5 * MINUTE;
const HOUR_SLOTS = 12;
/** Short-window field of client errors (after the four baseline volume features). */
const W_ERRORS = 4;
const W_FIELDS = 5;
/** Address window fields. */
const A_REQUESTS = 0;
const A_FAILURES = 1;
/** Distinct key ids remembered per address. */
const KEYS_PER_ADDRESS = 32;
/** The hour-of-day histogram is halved when it holds this many events (slow forgetting). */
const HOURS_DECAY_AT = 20_000;
/** Latest representable Date. */
const MAX_T = 8.64e15;

/** Where each part of a principal's numbers sits in its one Float64Array (one allocation per principal). */
interface Layout {
  size: number;
  win: number;
  hour: number;
  peak: number;
  base: number;
  hours: number;
}

function layoutFor(cfg: AnomalyConfig): Layout {
  const win = 0;
  const hour = win + SlidingCounts.size(W_FIELDS, cfg.windowSlots);
  const peak = hour + SlidingCounts.size(2, HOUR_SLOTS);
  const base = peak + FEATURE_COUNT;
  const hours = base + Baseline.SIZE;
  return { size: hours + 24, win, hour, peak, base, hours };
}

/** Everything the model keeps about one principal. A throttle or block lives apart (actions.ts). */
class PrincipalState {
  readonly firstT: number;
  lastT: number;
  events = 0;
  lruMinute: number;
  /** Window and hour counters, the minute's peaks, the baseline and the hour-of-day histogram. */
  readonly nums: Float64Array;
  readonly win: SlidingCounts;
  readonly hour: SlidingCounts;
  readonly base: Baseline;
  minute = -1;
  minuteRequests = 0;
  minuteErrors = 0;
  /** A finding's condition held in this minute: it is not folded into the baseline. */
  flagged = false;
  ids: RecentIds | undefined;
  /** Networks and blocks seen, least recently used first (at most network.cap each). */
  nets: string[] | undefined;
  blocks: string[] | undefined;
  lastAddress: string | undefined;
  lastNet = '';
  /** The last network that was new after the principal was established, and when. */
  newNet = '';
  newNetAt = -Infinity;
  newNetBenign = false;
  day = -1;
  days = 0;
  hoursTotal = 0;
  reactivatedAt = -Infinity;
  idleDays = 0;
  /** Last time a pull was flagged (the hourly rule waits until it left the hour window). */
  pullAt = -Infinity;
  book: AlertBook | undefined;

  constructor(t: number, cfg: AnomalyConfig, l: Layout) {
    this.firstT = t;
    this.lastT = t;
    this.lruMinute = Math.floor(t / MINUTE);
    this.nums = new Float64Array(l.size);
    this.win = new SlidingCounts(W_FIELDS, cfg.windowSlots, cfg.slotMs, this.nums, l.win);
    this.hour = new SlidingCounts(2, HOUR_SLOTS, HOUR_SLOT_MS, this.nums, l.hour);
    this.base = new Baseline(this.nums, l.base);
  }
}

/** Unauthenticated traffic and failed authentications from one address. */
class AddressState {
  lruMinute: number;
  readonly win: SlidingCounts;
  readonly hour: SlidingCounts;
  keys: RecentIds | undefined;
  book: AlertBook | undefined;

  constructor(t: number, cfg: AnomalyConfig) {
    this.lruMinute = Math.floor(t / MINUTE);
    const w = SlidingCounts.size(2, cfg.windowSlots);
    const nums = new Float64Array(w + SlidingCounts.size(1, HOUR_SLOTS));
    this.win = new SlidingCounts(2, cfg.windowSlots, cfg.slotMs, nums, 0);
    this.hour = new SlidingCounts(1, HOUR_SLOTS, HOUR_SLOT_MS, nums, w);
  }
}

/** Failed authentications against one key id, from any address. */
class KeyState {
  lruMinute: number;
  readonly win: SlidingCounts;
  readonly hour: SlidingCounts;
  book: AlertBook | undefined;

  constructor(t: number, cfg: AnomalyConfig) {
    this.lruMinute = Math.floor(t / MINUTE);
    const w = SlidingCounts.size(1, cfg.windowSlots);
    const nums = new Float64Array(w + SlidingCounts.size(1, HOUR_SLOTS));
    this.win = new SlidingCounts(1, cfg.windowSlots, cfg.slotMs, nums, 0);
    this.hour = new SlidingCounts(1, HOUR_SLOTS, HOUR_SLOT_MS, nums, w);
  }
}

/** Moves `x` to the end of `list` (adding it if absent, dropping the first beyond `cap`); returns whether it was there. */
function touchList(list: string[], x: string, cap: number): boolean {
  const i = list.indexOf(x);
  if (i >= 0) {
    if (i !== list.length - 1) {
      list.splice(i, 1);
      list.push(x);
    }
    return true;
  }
  list.push(x);
  if (list.length > cap) list.shift();
  return false;
}

/** A baseline as seen from outside (tests, the admin plane, docs examples). */
export interface PrincipalView {
  activeMinutes: number;
  warm: boolean;
  /** Per feature: usual peak over the short window in an active minute, mean and sd. */
  baseline: Record<string, { mean: number; sd: number; peak: number }>;
  networks: number;
  blocks: number;
  days: number;
  events: number;
}

/** The detector, with a read-only look at one principal's state. */
export interface AnomalyModel extends AnomalyDetector {
  /** What the model holds about a principal, or undefined. Not on the hot path. */
  inspect(principal: string): PrincipalView | undefined;
  /** The resolved configuration (frozen). */
  readonly config: AnomalyConfig;
}

/**
 * Creates a detector. Throws TypeError for a malformed configuration (unknown key, wrong type,
 * value out of range); `observe` never throws for event fields of odd types or values (they are
 * coerced: a non-finite time is "now", a negative byte count 0, non-string object ids skipped).
 *
 * @example
 * const d = createAnomalyDetector({ volume: { recordsPerHour: 5000 } });
 * for (const a of d.observe({ t: Date.now(), principal: 'k:key_1', address: '192.0.2.7', method: 'GET', status: 200, outcome: 'allow', bytesOut: 900, records: 3 })) {
 *   // a.action: 'alert' | 'throttle' | 'block'; a.finding.reason explains
 * }
 * d.restriction({ principal: 'k:key_1', address: '192.0.2.7' }, Date.now()); // undefined: nothing in force
 */
export function createAnomalyDetector(options?: AnomalyOptions): AnomalyModel {
  const cfg = resolveAnomalyConfig(options);
  const layout = layoutFor(cfg);
  const alpha = alphaForHalfLife(cfg.halfLifeMinutes);
  const decay = envelopeDecay(cfg.envelopeHalfLifeMinutes);
  const env = cfg.envelopeMultiple;
  const windowSeconds = Math.round((cfg.windowSlots * cfg.slotMs) / 1000);
  const scores = cfg.scores;
  const deniedReasons = new Set(cfg.objects.deniedReasons);
  const failureReasons = new Set(cfg.auth.failureReasons);
  const overrides = new Map(Object.entries(cfg.volume.recordsPerHourOverrides));
  const keyCap = LEVEL_OF[cfg.auth.keyMaxAction];

  const principals = new Map<string, PrincipalState>();
  const addresses = new Map<string, AddressState>();
  const keys = new Map<string, KeyState>();
  /** Network block -> principals that took it up without an alarm (approximate; LRU-bounded). */
  const sharedBlocks = new Map<string, number>();
  const restrictions = new RestrictionTable(cfg.maxRestrictions);
  let clock = 0;
  /** Actions of the event being observed (allocated on the first one). */
  let out: AnomalyAction[] | undefined;

  function emit(
    holder: { book: AlertBook | undefined },
    target: AnomalyTarget,
    id: string,
    kind: AnomalyKind,
    score: number,
    subject: { principal?: string; keyId?: string; address?: string },
    reason: () => string,
    t: number,
    operationId: string | undefined,
    perMinute: number | undefined,
  ): boolean {
    const pol = cfg.kinds[kind];
    if (!pol.enabled) return false;
    let level: Level = levelOf(score, scores);
    const cap = target === 'key' ? Math.min(LEVEL_OF[pol.maxAction], keyCap) : LEVEL_OF[pol.maxAction];
    if (level > cap) level = cap as Level;
    if (level === 0) return false;
    const rkey = target === 'principal' ? `p:${id}` : target === 'key' ? `k:${id}` : `a:${id}`;
    const inForce = level >= 2 && (restrictions.get(rkey, t)?.level ?? 0) >= level;
    holder.book ??= newAlertBook();
    if (!shouldEmit(holder.book, kind, level, t, cfg.cooldownMs, inForce)) return false;
    const finding = { kind, subject, target, score: Math.round(score * 100) / 100, reason: reason(), at: t, ...(operationId !== undefined ? { operationId } : {}) };
    const action: AnomalyAction = { action: ACTION_OF[level]!, finding };
    if (level >= 2) {
      action.until = t + pol.durationMs;
      if (level === 2) action.perMinute = perMinute ?? cfg.throttle.minPerMinute;
      restrictions.set(rkey, level as 2 | 3, action.until, kind, action.perMinute, target, t);
    }
    (out ??= []).push(action);
    return true;
  }

  function lru<S extends { lruMinute: number }>(map: Map<string, S>, id: string, s: S, minute: number): void {
    if (s.lruMinute !== minute) {
      map.delete(id);
      map.set(id, s);
      s.lruMinute = minute;
    }
  }

  function insert<S>(map: Map<string, S>, id: string, s: S, cap: number): void {
    if (map.size >= cap) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
    map.set(id, s);
  }

  function addressState(address: string, t: number): AddressState {
    let a = addresses.get(address);
    if (a === undefined) insert(addresses, address, (a = new AddressState(t, cfg)), cfg.maxAddresses);
    else lru(addresses, address, a, Math.floor(t / MINUTE));
    a.win.roll(t);
    a.hour.roll(t);
    return a;
  }

  function authFailure(t: number, address: string, keyId: string | undefined, operationId: string | undefined): void {
    const a = addressState(address, t);
    a.win.add(A_FAILURES, 1);
    a.hour.add(0, 1);
    let distinct = 0;
    if (keyId !== undefined) {
      a.keys ??= new RecentIds(KEYS_PER_ADDRESS, cfg.auth.authWindowMs);
      a.keys.touch(hashId(keyId), t, false);
    }
    if (a.keys !== undefined) {
      a.keys.expire(t);
      distinct = a.keys.size;
    }
    const fails = a.win.sum(A_FAILURES);
    const hourly = a.hour.sum(0);
    const r = Math.max(fails / cfg.auth.addressFailures, hourly / cfg.auth.failuresPerHour, distinct / cfg.auth.distinctKeys);
    const sc = ratioScore(r, scores.alert, scores.throttle);
    if (sc >= scores.alert) {
      emit(a, 'address', address, 'auth-failures', sc, { address, ...(keyId !== undefined ? { keyId } : {}) },
        () => `${fails} failed authentications from this address in the last ${windowSeconds} s (threshold ${cfg.auth.addressFailures}), ${hourly} in the last hour (threshold ${cfg.auth.failuresPerHour}), ${distinct} distinct key ids tried in ${Math.round(cfg.auth.authWindowMs / MINUTE)} min (threshold ${cfg.auth.distinctKeys})`,
        t, operationId, cfg.throttle.minPerMinute);
    }
    if (keyId === undefined) return;
    let k = keys.get(keyId);
    if (k === undefined) insert(keys, keyId, (k = new KeyState(t, cfg)), cfg.maxKeys);
    else lru(keys, keyId, k, Math.floor(t / MINUTE));
    k.win.roll(t);
    k.hour.roll(t);
    k.win.add(0, 1);
    k.hour.add(0, 1);
    const kf = k.win.sum(0);
    const kh = k.hour.sum(0);
    const rk = Math.max(kf / cfg.auth.keyFailures, kh / cfg.auth.failuresPerHour);
    const sk = ratioScore(rk, scores.alert, scores.throttle);
    if (sk >= scores.alert) {
      emit(k, 'key', keyId, 'auth-failures', sk, { keyId, address },
        () => `${kf} failed authentications against key ${keyId} in the last ${windowSeconds} s (threshold ${cfg.auth.keyFailures}), ${kh} in the last hour (threshold ${cfg.auth.failuresPerHour})`,
        t, operationId, cfg.throttle.minPerMinute);
    }
  }

  function anonymous(t: number, address: string, operationId: string | undefined): void {
    const a = addressState(address, t);
    a.win.add(A_REQUESTS, 1);
    const x = a.win.sum(A_REQUESTS);
    const sc = ratioScore(x / cfg.rate.anonymousPerMinute, scores.alert, scores.throttle);
    if (sc >= scores.alert) {
      emit(a, 'address', address, 'rate-spike', sc, { address },
        () => `${x} unauthenticated requests from this address in the last ${windowSeconds} s (threshold ${cfg.rate.anonymousPerMinute})`,
        t, operationId, cfg.throttle.minPerMinute);
    }
  }

  /**
   * The threshold for a volume feature: cold before the first active minute is folded; the
   * baseline's, inflated by (1 + earlyInflation / n) and never laxer than cold, while young;
   * the baseline's once warm.
   */
  function limitFor(s: PrincipalState, f: number, cold: number, floor: number, multiple: number, sigmas: number): number {
    const b = s.base;
    const n = b.n;
    if (n === 0) return cold;
    const t = threshold(floor, b.mean(f), b.sd(f), multiple, sigmas, b.peak(f), env);
    if (n >= cfg.warmupMinutes) return t;
    const early = t * (1 + cfg.earlyInflation / n);
    return early < cold ? early : cold;
  }

  function closeMinute(s: PrincipalState): void {
    const pk = layout.peak;
    if (!s.flagged && s.minuteRequests > 0) {
      s.nums[pk + F_ERROR_SHARE] = s.minuteErrors / s.minuteRequests;
      s.base.fold(s.nums, alpha, cfg.clipSigmas, decay, pk);
    }
    s.nums.fill(0, pk, pk + FEATURE_COUNT);
    s.minuteRequests = 0;
    s.minuteErrors = 0;
    s.flagged = false;
  }

  // The principal event being observed, so that raising a finding allocates nothing unless one is raised.
  let curState: PrincipalState | undefined;
  let curPid = '';
  let curKeyId: string | undefined;
  let curAddress = '';
  let curOp: string | undefined;
  let curT = 0;

  /** A principal finding: marks the minute (not learned) and emits. Returns whether an action was emitted. */
  function raise(kind: AnomalyKind, score: number, reason: () => string): boolean {
    if (score < scores.alert) return false;
    const s = curState!;
    s.flagged = true;
    const warm = s.base.n >= cfg.warmupMinutes;
    const perMinute = warm ? Math.max(cfg.throttle.minPerMinute, Math.ceil(cfg.throttle.baselineMultiple * s.base.mean(F_REQUESTS))) : cfg.throttle.minPerMinute;
    const subject = curKeyId !== undefined ? { principal: curPid, keyId: curKeyId, address: curAddress } : { principal: curPid, address: curAddress };
    return emit(s, 'principal', curPid, kind, score, subject, reason, curT, curOp, perMinute);
  }

  /** A principal starts using a block: counts toward the block being shared (mobile carriers). */
  function blockUsed(block: string): void {
    const n = sharedBlocks.get(block);
    if (n === undefined) insert(sharedBlocks, block, 1, cfg.network.maxSharedBlocks);
    else {
      sharedBlocks.delete(block);
      sharedBlocks.set(block, n + 1);
    }
  }

  function principalEvent(pid: string, e: ExchangeEvent, t: number, address: string, status: number, bytes: number, records: number, highRisk: boolean, keyId: string | undefined, opId: string | undefined, reason: string | undefined): void {
    const minute = Math.floor(t / MINUTE);
    let s = principals.get(pid);
    let prevT: number | undefined;
    if (s === undefined) {
      insert(principals, pid, (s = new PrincipalState(t, cfg, layout)), cfg.maxPrincipals);
      const hint = e.principalLastSeen;
      if (typeof hint === 'number' && Number.isFinite(hint) && hint < t) prevT = hint;
    } else {
      prevT = s.lastT;
      lru(principals, pid, s, minute);
    }
    if (minute !== s.minute) {
      if (s.minute >= 0) closeMinute(s);
      s.minute = minute;
    }
    curState = s;
    curPid = pid;
    curKeyId = keyId;
    curAddress = address;
    curOp = opId;
    curT = t;
    const warm = s.base.n >= cfg.warmupMinutes;
    const method = typeof e.method === 'string' ? e.method : '';

    // RSID-1: a dormant account turning active, then a high-risk action.
    if (prevT !== undefined && t - prevT >= cfg.dormancy.idleMs) {
      s.reactivatedAt = t;
      s.idleDays = Math.floor((t - prevT) / DAY);
      const days = s.idleDays;
      raise('dormant-reactivation', cfg.dormancy.score, () => `first activity after ${days} days idle (dormant after ${Math.round(cfg.dormancy.idleMs / DAY)})`);
    }
    if (highRisk && t - s.reactivatedAt <= cfg.dormancy.windowMs) {
      const days = s.idleDays;
      const mins = Math.round((t - s.reactivatedAt) / MINUTE);
      raise('dormant-reactivation', cfg.dormancy.highRiskScore, () => `high-risk operation ${opId ?? method} ${mins} min after reactivation of an account idle ${days} days`);
    }

    // Networks: a new /24 (/48) for an established principal; a high-risk action from it.
    if (address !== s.lastAddress) {
      s.lastAddress = address;
      const { net, block } = networkOf(address);
      if (net !== s.lastNet) {
        s.lastNet = net;
        const nets = (s.nets ??= []);
        const blocks = (s.blocks ??= []);
        let alerted = false;
        if (!touchList(nets, net, cfg.network.cap)) {
          const knownBlock = blocks.includes(block);
          if (s.events >= cfg.network.minEvents && s.days >= cfg.network.minDays) {
            const n = cfg.network;
            const shared = !knownBlock && (sharedBlocks.get(block) ?? 0) >= n.sharedMinPrincipals;
            const pinned = blocks.length <= 1 && s.days >= n.pinnedMinDays;
            const score = knownBlock ? n.sameBlockScore : shared ? n.sharedBlockScore : pinned ? n.pinnedScore : n.multiBlockScore;
            s.newNet = net;
            s.newNetAt = t;
            s.newNetBenign = knownBlock || shared;
            const known = blocks.length;
            const st = s;
            alerted = raise('new-network', score, () =>
              shared
                ? `first request from a block ${n.sharedMinPrincipals}+ other principals use`
                : pinned
                  ? `first request from outside the one network block this principal has used (${st.events} requests over ${st.days} days)`
                  : `first request from outside the ${known} network block(s) this principal has used over ${st.days} days`,
            );
          }
          // A block counts toward "shared" only from principals it did not alarm (an attacker's
          // block does not become reputable by being used against many keys).
          if (!knownBlock && !alerted) blockUsed(block);
        }
        touchList(blocks, block, cfg.network.cap);
      }
    }
    if (highRisk && !s.newNetBenign && s.lastNet === s.newNet && t - s.newNetAt <= cfg.network.highRiskWindowMs) {
      const mins = Math.round((t - s.newNetAt) / MINUTE);
      raise('new-network', cfg.network.highRiskScore, () => `high-risk operation ${opId ?? method} from a network first seen ${mins} min ago (RSID-1: new device followed by a high-risk action)`);
    }

    // Off-hours: a high-risk action at an hour this principal is (almost) never active.
    const hourOfDay = Math.floor(t / HOUR) % 24;
    const hist = s.nums;
    const h0 = layout.hours;
    if (highRisk && s.hoursTotal >= cfg.offHours.minEvents && t - s.firstT >= cfg.offHours.minDays * DAY) {
      const mass = (hist[h0 + ((hourOfDay + 23) % 24)]! + hist[h0 + hourOfDay]! + hist[h0 + ((hourOfDay + 1) % 24)]!) / s.hoursTotal;
      if (mass < cfg.offHours.share) {
        raise('off-hours', cfg.offHours.score, () => `high-risk operation ${opId ?? method} at ${hourOfDay}:00 UTC, an hour (+-1) holding ${(mass * 100).toFixed(2)}% of this principal's activity`);
      }
    }
    hist[h0 + hourOfDay]! += 1;
    if (++s.hoursTotal >= HOURS_DECAY_AT) {
      for (let i = 0; i < 24; i++) hist[h0 + i]! *= 0.5;
      s.hoursTotal *= 0.5;
    }
    const day = Math.floor(t / DAY);
    if (day !== s.day) {
      s.day = day;
      s.days++;
    }

    // Counters.
    const ids = e.objectIds;
    const hasIds = Array.isArray(ids) && ids.length > 0;
    const objectDenied = (reason !== undefined && deniedReasons.has(reason)) || ((status === 403 || status === 404) && hasIds);
    const clientError = status >= 400 && status < 500 && status !== 401 && status !== 429 && !objectDenied && !(reason !== undefined && reason.startsWith('RAMPART_ANOMALY_'));
    const win = s.win;
    const hour = s.hour;
    win.roll(t);
    hour.roll(t);
    win.add(F_REQUESTS, 1);
    if (records > 0) {
      win.add(F_RECORDS, records);
      hour.add(0, records);
    }
    if (bytes > 0) {
      win.add(F_BYTES, bytes);
      hour.add(1, bytes);
    }
    s.minuteRequests++;
    if (clientError) {
      win.add(W_ERRORS, 1);
      s.minuteErrors++;
    }
    if (hasIds) {
      const tracker = (s.ids ??= new RecentIds(cfg.objects.cap, cfg.objects.windowMs));
      let novel = 0;
      const n = Math.min(ids.length, cfg.objects.maxPerEvent);
      for (let i = 0; i < n; i++) {
        const id: unknown = ids[i];
        if (typeof id === 'string' && tracker.touch(hashId(id), t, objectDenied)) novel++;
      }
      if (novel > 0) win.add(F_NOVEL, novel);
    }
    s.events++;
    const base = s.base;

    // Rate (ASVS 8.1.4).
    const req = win.sum(F_REQUESTS);
    const rq = cfg.rate;
    const tReq = limitFor(s, F_REQUESTS, rq.coldPerMinute, rq.floorPerMinute, rq.multiple, rq.sigmas);
    if (req >= tReq) {
      raise('rate-spike', ratioScore(req / tReq, scores.alert, scores.throttle), () => `${req} requests in the last ${windowSeconds} s; ${usual(s!, F_REQUESTS, warm)}; threshold ${Math.round(tReq)}`);
    }

    // Volume (FC-3): the short window against the baseline, and the last hour against N records
    // an hour. The hourly rule waits until the last flagged pull has left the hour window (after
    // a pull the hour stays over the limit for an hour, whatever the principal does next), so it
    // speaks once per hour of a slow pull and not at all after a fast one already flagged.
    const v = cfg.volume;
    const rec = win.sum(F_RECORDS);
    const out1 = win.sum(F_BYTES);
    const tRec = limitFor(s, F_RECORDS, v.coldRecordsPerMinute, v.floorRecordsPerMinute, v.multiple, v.sigmas);
    const tBytes = limitFor(s, F_BYTES, v.coldBytesPerMinute, v.floorBytesPerMinute, v.multiple, v.sigmas);
    const rShort = Math.max(rec / tRec, out1 / tBytes);
    if (rShort >= 1) s.pullAt = t;
    let rHour = 0;
    let tHourRec = 0;
    let tHourBytes = 0;
    if (t - s.pullAt >= HOUR) {
      const over = overrides.get(pid);
      const scale = v.hourScalesWithBaseline && base.n >= v.hourScaleMinMinutes;
      tHourRec = over ?? (scale ? Math.max(v.recordsPerHour, v.hourMultiple * 60 * base.mean(F_RECORDS)) : v.recordsPerHour);
      tHourBytes = scale ? Math.max(v.bytesPerHour, v.hourMultiple * 60 * base.mean(F_BYTES)) : v.bytesPerHour;
      rHour = Math.max(hour.sum(0) / tHourRec, hour.sum(1) / tHourBytes);
    }
    const rVol = rShort > rHour ? rShort : rHour;
    if (rVol >= 1) {
      const hRec = hour.sum(0);
      const hBytes = hour.sum(1);
      // The hourly limit alone only alerts: throttling and blocking are for a pull far above the
      // principal's own baseline right now (an unconfigured service account is never blocked by it).
      let score = ratioScore(rVol, scores.alert, scores.throttle);
      if (rShort < 1 && score >= scores.throttle) score = scores.alert + (scores.throttle - scores.alert) * 0.99;
      const emitted = raise('bulk-pull', score, () =>
        rShort >= rHour
          ? `${rec} records and ${kib(out1)} out in the last ${windowSeconds} s (thresholds ${Math.round(tRec)} records, ${kib(tBytes)}; ${usual(s!, F_RECORDS, warm)}); ${hRec} records in the last hour`
          : `${hRec} records and ${kib(hBytes)} out in the last hour (FC-3 limits ${Math.round(tHourRec)} records, ${kib(tHourBytes)}); ${rec} records in the last ${windowSeconds} s`,
      );
      if (emitted) s.pullAt = t;
    }

    // Object ids (API1): a sweep of denied ids, or far more new ids than usual.
    if (s.ids !== undefined) {
      s.ids.expire(t);
      const denied = s.ids.flagged;
      const novel = win.sum(F_NOVEL);
      const o = cfg.objects;
      const tNovel = limitFor(s, F_NOVEL, o.coldNovelPerMinute, o.floorNovelPerMinute, o.multiple, o.sigmas);
      const rObj = Math.max(denied / o.deniedDistinct, novel / tNovel);
      if (rObj >= 1) {
        raise('enumeration', ratioScore(rObj, scores.alert, scores.throttle), () =>
          `${denied} distinct object ids denied (403/404) in the last ${Math.round(o.windowMs / MINUTE)} min (threshold ${o.deniedDistinct}); ${novel} new object ids in the last ${windowSeconds} s (threshold ${Math.round(tNovel)})`,
        );
      }
    }

    // Client errors (validation, scope, unknown routes: fuzzing, BFLA probing).
    const errs = win.sum(W_ERRORS);
    if (errs >= cfg.errors.minErrors) {
      const share = errs / req;
      const need = warm ? Math.max(cfg.errors.ratio, Math.min(1, base.mean(F_ERROR_SHARE) + cfg.errors.overBaseline)) : cfg.errors.ratio;
      if (share >= need) {
        raise('error-ratio', ratioScore(errs / cfg.errors.minErrors, scores.alert, scores.throttle), () =>
          `${errs} client errors in ${req} requests in the last ${windowSeconds} s (share ${(share * 100).toFixed(0)}%, threshold ${(need * 100).toFixed(0)}% and ${cfg.errors.minErrors} errors)`,
        );
      }
    }

    // The minute's peaks, folded when the minute closes.
    const nums = s.nums;
    const pk = layout.peak;
    for (let i = 0; i < 4; i++) {
      const x = win.sum(i);
      if (x > nums[pk + i]!) nums[pk + i] = x;
    }
    s.lastT = t;
    curState = undefined;
  }

  const model: AnomalyModel = {
    config: cfg,

    observe(e: ExchangeEvent): AnomalyAction[] {
      out = undefined;
      let t = typeof e.t === 'number' && Number.isFinite(e.t) && e.t >= 0 && e.t <= MAX_T ? e.t : clock;
      if (t < clock) t = clock;
      clock = t;
      const address = typeof e.address === 'string' ? e.address : '';
      const status = typeof e.status === 'number' && Number.isFinite(e.status) ? e.status : 0;
      const reason = typeof e.reason === 'string' ? e.reason : undefined;
      const keyId = typeof e.keyId === 'string' && e.keyId !== '' ? e.keyId : undefined;
      const opId = typeof e.operationId === 'string' ? e.operationId : undefined;
      if ((status === 401 && reason !== 'RAMPART_AUTH_REQUIRED') || (reason !== undefined && failureReasons.has(reason))) {
        authFailure(t, address, keyId, opId);
      } else {
        const pid = typeof e.principal === 'string' && e.principal !== '' ? e.principal : undefined;
        if (pid === undefined) anonymous(t, address, opId);
        else {
          const bytes = typeof e.bytesOut === 'number' && e.bytesOut > 0 && Number.isFinite(e.bytesOut) ? e.bytesOut : 0;
          const records = typeof e.records === 'number' && e.records > 0 && Number.isFinite(e.records) ? e.records : 0;
          principalEvent(pid, e, t, address, status, bytes, records, e.highRisk === true, keyId, opId, reason);
        }
      }
      const r = out ?? [];
      out = undefined;
      return r;
    },

    restriction(who, now): AnomalyRestriction | undefined {
      if (restrictions.size === 0) return undefined;
      let best: ReturnType<RestrictionTable['get']>;
      const consider = (key: string): void => {
        const r = restrictions.get(key, now);
        if (r !== undefined && (best === undefined || r.level > best.level || (r.level === best.level && r.until > best.until))) best = r;
      };
      if (typeof who.principal === 'string' && who.principal !== '') consider(`p:${who.principal}`);
      if (typeof who.keyId === 'string' && who.keyId !== '') consider(`k:${who.keyId}`);
      if (typeof who.address === 'string') consider(`a:${who.address}`);
      return best === undefined ? undefined : RestrictionTable.view(best);
    },

    tick(now: number): void {
      if (typeof now === 'number' && Number.isFinite(now) && now > clock && now <= MAX_T) clock = now;
      restrictions.sweep(clock);
    },

    stats() {
      return { principals: principals.size, addresses: addresses.size, keys: keys.size, restrictions: restrictions.size, sharedBlocks: sharedBlocks.size };
    },

    inspect(principal: string): PrincipalView | undefined {
      const s = principals.get(principal);
      if (s === undefined) return undefined;
      const baseline: Record<string, { mean: number; sd: number; peak: number }> = {};
      for (let i = 0; i < FEATURE_COUNT; i++) baseline[FEATURE_NAMES[i]!] = { mean: s.base.mean(i), sd: s.base.sd(i), peak: s.base.peak(i) };
      return { activeMinutes: s.base.n, warm: s.base.n >= cfg.warmupMinutes, baseline, networks: s.nets?.length ?? 0, blocks: s.blocks?.length ?? 0, days: s.days, events: s.events };
    },
  };
  return model;
}

function usual(s: PrincipalState, f: number, warm: boolean): string {
  const b = s.base;
  if (b.n === 0) return 'no baseline yet: cold threshold';
  return `${warm ? '' : `young baseline (${b.n} active minutes), `}usual ${b.mean(f).toFixed(1)} +- ${b.sd(f).toFixed(1)} per active minute, recent high ${b.peak(f).toFixed(0)}`;
}

function kib(b: number): string {
  return b >= 1024 * 1024 ? `${(b / (1024 * 1024)).toFixed(1)} MiB` : `${Math.round(b / 1024)} KiB`;
}

