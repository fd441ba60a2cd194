/**
 * Seeded traffic for the anomaly model's tests and benchmark (FC-3, RSID-1, ASVS 8.1.4, API1):
 * a population of principals with a daily rhythm and noise, attack injections, every event
 * labelled ('normal' or the attack instance's id) so that precision, recall and detection time
 * can be computed (evaluate()).
 *
 * Population (operations as in demo/brokerage.openapi.yaml):
 * - retail customers: 0.5-4 sessions a day at local 07-09, 12-13 or 18-23 h (2% at night), 3-12
 *   requests per session, 2-30 s apart; a home /24, and for 60% three /24s (or /48s) of one of
 *   nine mobile carrier blocks that customers share, used on 40% of sessions; 5% of sessions
 *   place a transfer;
 *   noise: 1% object typos (404), 1.5% validation errors, 1% of sessions start with 1-3 failed
 *   authentications (an expired key), a small share of sessions from a hotel network (travel).
 * - advisors: weekdays 08:30-17:30 local, 0.5-2 requests a minute with bursts, over a book of
 *   40-120 customers; an office /24, 30% also a home VPN; 0.5% out-of-book lookups (403).
 * - service accounts: all day, 2-6 requests a minute (3x between 01:00 and 03:00 UTC), cycling
 *   through 1000 accounts with 20-100 records per response; one data-centre network; 0.2%
 *   upstream errors (502) and 0.2% closed accounts (404).
 *
 * Attacks (one victim each, at random times in the evaluation window):
 * - enumeration: 0.5-4 getAccount a second over sequential or random ids, 97% denied (403 or
 *   404), for 30-180 s, by an existing principal or a brand-new one;
 * - bulk-pull: 10-50x the victim's usual records per minute, as bigger pages and more requests,
 *   for 3-8 minutes, from the victim's usual network;
 * - auth-failures: brute force on one key from one address, credential stuffing (random key ids)
 *   from one address, or a distributed attack on one key from 30-60 addresses;
 * - new-network: the victim's key used from a block it never used, a few reads and a transfer
 *   (reads only, half the time, for a service account or an advisor that uses one block);
 * - dormant-reactivation: a principal active for 5 days and then idle for 50 comes back and
 *   places a transfer.
 */
import type { AnomalyAction, AnomalyDetector, AnomalyKind, ExchangeEvent } from '../../src/threat/anomaly/index.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/**
 * Friday 2025-01-10 00:00 UTC: the evaluation window starts here; history lies before it (five
 * days of history are Sunday to Thursday, so advisors have four working days).
 */
export const T0 = Date.UTC(2025, 0, 10);

// ---------------------------------------------------------------------------------------------
// PRNG

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  uniform(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(a: readonly T[]): T;
  /** Exponential with the given mean. */
  exp(mean: number): number;
  poisson(mean: number): number;
}

/**
 * sfc32 seeded through splitmix32: fast, 128-bit state, good enough for simulation.
 *
 * @example
 * const r = createRng(42); r.int(1, 6);
 */
export function createRng(...seed: number[]): Rng {
  let h = 0x9e3779b9;
  for (const s of seed) h = mix(h ^ (s >>> 0) ^ Math.floor(s / 4294967296));
  let a = mix(h + 1);
  let b = mix(h + 2);
  let c = mix(h + 3);
  let d = 1;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const rng: Rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    uniform: (lo, hi) => lo + next() * (hi - lo),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)]!,
    exp: (mean) => -Math.log(1 - next()) * mean,
    poisson: (mean) => {
      const L = Math.exp(-mean);
      let k = 0;
      let p = 1;
      do {
        k++;
        p *= next();
      } while (p > L && k < 1000);
      return k - 1;
    },
  };
  return rng;
}

function mix(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Population

export type ProfileKind = 'retail' | 'advisor' | 'service';

/** A network as the simulator knows it: a /24 or /48 prefix and the block it belongs to. */
export interface SimNet {
  prefix: string;
  block: string;
  v6: boolean;
}

export interface Profile {
  index: number;
  id: string;
  keyId: string;
  kind: ProfileKind;
  /** Hours from UTC (US time zones: -8..-5; services 0). */
  tz: number;
  /** Networks used in normal traffic, with weights; the first is home / office / data centre. */
  nets: SimNet[];
  weights: number[];
  /** Blocks used in normal traffic (for attack network choice). */
  blocks: Set<string>;
  accounts: string[];
  book: string[];
  sessionsPerDay: number;
  ratePerMinute: number;
  /** Records the principal moves in a busy minute (what bulk-pull multiplies). */
  typicalMinuteRecords: number;
  /** Active only in [activeFrom, activeUntil). */
  activeFrom: number;
  activeUntil: number;
  dormant: boolean;
}

export interface PopulationSize {
  retail: number;
  advisor: number;
  service: number;
}

const CARRIERS_V4 = ['172.56', '172.58', '174.205', '107.77', '166.170', '97.33'];
const CARRIERS_V6 = ['2600:380', '2607:fb90', '2600:1000'];

function v4Net(rng: Rng, block?: string): SimNet {
  const b = block ?? `${rng.pick([23, 24, 50, 63, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 98, 99, 104, 107, 108, 173, 174, 184, 199, 207, 208])}.${rng.int(0, 255)}`;
  return { prefix: `${b}.${rng.int(0, 255)}`, block: b, v6: false };
}

function v6Net(rng: Rng, block?: string): SimNet {
  const b = block ?? `2600:${rng.int(0x100, 0xfff).toString(16)}`;
  return { prefix: `${b}:${rng.int(0, 0xffff).toString(16)}`, block: b, v6: true };
}

/** A fresh network whose block is none of `avoid`, from ranges the population does not use. */
export function attackerNet(rng: Rng, avoid: ReadonlySet<string>): SimNet {
  for (;;) {
    const n = rng.chance(0.8) ? v4Net(rng, `${rng.pick([5, 31, 37, 41, 45, 77, 85, 91, 102, 141, 176, 185, 193, 195])}.${rng.int(0, 255)}`) : v6Net(rng, `2a0${rng.int(1, 9)}:${rng.int(0x100, 0xfff).toString(16)}`);
    if (!avoid.has(n.block)) return n;
  }
}

export function addressIn(rng: Rng, n: SimNet): string {
  return n.v6 ? `${n.prefix}:${rng.int(0, 0xffff).toString(16)}::${rng.int(1, 0xffff).toString(16)}` : `${n.prefix}.${rng.int(1, 254)}`;
}

function pad(n: number, w = 4): string {
  return String(n).padStart(w, '0');
}

export function makeProfile(seed: number, index: number, kind: ProfileKind, activeFrom: number, opts: { dormant?: boolean; activeUntil?: number } = {}): Profile {
  const rng = createRng(seed, 1, index);
  const tag = kind === 'retail' ? 'cus' : kind === 'advisor' ? 'adv' : 'svc';
  const id = `s:${tag}_${pad(index)}`;
  const nets: SimNet[] = [];
  const weights: number[] = [];
  let accounts: string[] = [];
  let book: string[] = [];
  let sessionsPerDay = 0;
  let ratePerMinute = 0;
  let typical = 0;
  let tz = 0;
  if (kind === 'retail') {
    tz = -rng.int(5, 8);
    nets.push(v4Net(rng));
    weights.push(1);
    if (rng.chance(0.6)) {
      const v6 = rng.chance(0.25);
      // Mobile carriers: a few blocks that many customers share (carrier-grade NAT).
      const first = v6 ? v6Net(rng, rng.pick(CARRIERS_V6)) : v4Net(rng, rng.pick(CARRIERS_V4));
      nets.push(first);
      for (let i = 0; i < 2; i++) nets.push(v6 ? v6Net(rng, first.block) : v4Net(rng, first.block));
      weights[0] = 0.6;
      weights.push(0.4 / 3, 0.4 / 3, 0.4 / 3);
    }
    accounts = Array.from({ length: rng.int(1, 3) }, (_, i) => `acc_${tag}${pad(index)}_${i + 1}`);
    sessionsPerDay = rng.uniform(0.5, 4);
    typical = 60;
  } else if (kind === 'advisor') {
    tz = rng.chance(0.6) ? -5 : -6;
    nets.push(v4Net(rng));
    weights.push(1);
    if (rng.chance(0.3)) {
      nets.push(v4Net(rng));
      weights[0] = 0.85;
      weights.push(0.15);
    }
    book = Array.from({ length: rng.int(40, 120) }, () => `cus_${pad(rng.int(0, 99999), 5)}`);
    ratePerMinute = rng.uniform(0.5, 2);
    typical = 120;
  } else {
    nets.push(rng.chance(0.8) ? v4Net(rng) : v6Net(rng));
    weights.push(1);
    accounts = Array.from({ length: 1000 }, (_, i) => `acc_svc${pad(index)}_${pad(i)}`);
    ratePerMinute = rng.uniform(2, 6);
    typical = Math.round(ratePerMinute * 60);
  }
  return {
    index,
    id,
    keyId: `key_${tag}_${pad(index)}`,
    kind,
    tz,
    nets,
    weights,
    blocks: new Set(nets.map((n) => n.block)),
    accounts,
    book,
    sessionsPerDay,
    ratePerMinute,
    typicalMinuteRecords: typical,
    activeFrom,
    activeUntil: opts.activeUntil ?? Infinity,
    dormant: opts.dormant === true,
  };
}

function pickNet(rng: Rng, p: Profile): SimNet {
  let x = rng.next();
  for (let i = 0; i < p.nets.length; i++) {
    x -= p.weights[i]!;
    if (x < 0) return p.nets[i]!;
  }
  return p.nets[0]!;
}

// ---------------------------------------------------------------------------------------------
// Events

export interface SimEvent extends ExchangeEvent {
  /** 'normal' or the id of the attack instance that produced it. */
  label: string;
}

type Op = { operationId: string; method: string; highRisk?: boolean };
type Who = { id?: string | undefined; keyId?: string | undefined };
const OPS = {
  listAccounts: { operationId: 'listAccounts', method: 'GET' },
  getAccount: { operationId: 'getAccount', method: 'GET' },
  listPositions: { operationId: 'listPositions', method: 'GET' },
  listOrders: { operationId: 'listOrders', method: 'GET' },
  getOrder: { operationId: 'getOrder', method: 'GET' },
  placeOrder: { operationId: 'placeOrder', method: 'POST' },
  getQuote: { operationId: 'getQuote', method: 'GET' },
  getCustomer: { operationId: 'getCustomer', method: 'GET' },
  listTransfers: { operationId: 'listTransfers', method: 'GET' },
  createTransfer: { operationId: 'createTransfer', method: 'POST', highRisk: true },
} satisfies Record<string, Op>;

function ev(t: number, p: Who, address: string, op: Op, label: string, x: { status?: number; reason?: string; objectIds?: string[]; records?: number; bytes?: number } = {}): SimEvent {
  const status = x.status ?? (op.method === 'POST' ? 201 : 200);
  // One shape for every event (absent fields are undefined), as a gateway should build them.
  return {
    t: Math.round(t),
    principal: p.id,
    keyId: p.keyId,
    address,
    operationId: op.operationId,
    method: op.method,
    status,
    outcome: status < 400 ? 'allow' : status >= 500 ? 'error' : 'deny',
    reason: x.reason,
    objectIds: x.objectIds,
    bytesOut: x.bytes ?? 400,
    records: x.records,
    highRisk: op.highRisk === true ? true : undefined,
    label,
  };
}

/** One ordinary request of a retail customer or advisor on `objects`. */
function normalRequest(rng: Rng, t: number, p: Profile, address: string, objects: string[], out: SimEvent[]): void {
  const r = rng.next();
  const own = rng.pick(objects);
  // Noise: a mistyped id (404), a validation error.
  if (rng.chance(p.kind === 'advisor' ? 0.005 : 0.01)) {
    out.push(ev(t, p, address, OPS.getAccount, 'normal', { status: p.kind === 'advisor' ? 403 : 404, reason: p.kind === 'advisor' ? 'RAMPART_OBJECT_FORBIDDEN' : 'RAMPART_OBJECT_NOT_FOUND', objectIds: [`acc_${pad(rng.int(0, 999999), 6)}`], bytes: 290 }));
    return;
  }
  if (rng.chance(0.015)) {
    out.push(ev(t, p, address, OPS.placeOrder, 'normal', { status: 400, reason: 'RAMPART_VALIDATION_FAILED', objectIds: [own], bytes: 350 }));
    return;
  }
  if (r < 0.2) out.push(ev(t, p, address, OPS.getAccount, 'normal', { objectIds: [own], bytes: rng.int(500, 900) }));
  else if (r < 0.45) {
    const n = rng.int(3, 40);
    out.push(ev(t, p, address, OPS.listPositions, 'normal', { objectIds: [own], records: n, bytes: 120 + n * 180 }));
  } else if (r < 0.65) {
    const n = rng.int(0, p.kind === 'advisor' ? 100 : 50);
    out.push(ev(t, p, address, OPS.listOrders, 'normal', { objectIds: [own], records: n, bytes: 120 + n * 250 }));
  } else if (r < 0.75) out.push(ev(t, p, address, OPS.getOrder, 'normal', { objectIds: [`ord_${own}_${rng.int(1, 50)}`], bytes: rng.int(300, 600) }));
  else if (r < 0.85) out.push(ev(t, p, address, OPS.getQuote, 'normal', { bytes: 200 }));
  else if (r < 0.93 && p.kind === 'advisor') out.push(ev(t, p, address, OPS.getCustomer, 'normal', { objectIds: [own], bytes: 900 }));
  else if (r < 0.97) out.push(ev(t, p, address, OPS.placeOrder, 'normal', { objectIds: [own], bytes: 400 }));
  else {
    const n = rng.int(0, 20);
    out.push(ev(t, p, address, OPS.listTransfers, 'normal', { objectIds: [own], records: n, bytes: 120 + n * 200 }));
  }
}

/** Local hour of a retail session (a daily rhythm). */
function retailHour(rng: Rng): number {
  const x = rng.next();
  if (x < 0.02) return rng.uniform(0, 6);
  if (x < 0.27) return rng.uniform(7, 9);
  if (x < 0.47) return rng.uniform(12, 13);
  return rng.uniform(18, 23);
}

export interface DayOptions {
  /** Probability that a retail session comes from a hotel network (travel). */
  travelRate: number;
}

/** One (UTC) day of a principal's normal traffic, starting at `day`; spill-over past the day is fine. */
export function normalDay(seed: number, p: Profile, day: number, o: DayOptions, out: SimEvent[]): void {
  if (day + DAY <= p.activeFrom || day >= p.activeUntil) return;
  const rng = createRng(seed, 2, p.index, Math.floor(day / DAY));
  const from = Math.max(day, p.activeFrom);
  const until = Math.min(day + DAY, p.activeUntil);
  if (p.kind === 'retail') {
    const sessions = rng.poisson(p.sessionsPerDay);
    for (let s = 0; s < sessions; s++) {
      const start = day + (retailHour(rng) - p.tz) * HOUR;
      if (start < from || start >= until) continue;
      const net = rng.chance(o.travelRate) ? attackerNet(rng, p.blocks) : pickNet(rng, p);
      const address = addressIn(rng, net);
      let t = start;
      if (rng.chance(0.01)) {
        // An expired key first: 1-3 failed authentications, then the new one.
        for (let i = rng.int(1, 3); i > 0; i--) {
          out.push(ev(t, { keyId: `${p.keyId}_old` }, address, OPS.listAccounts, 'normal', { status: 401, reason: 'RAMPART_AUTH_INVALID', bytes: 200 }));
          t += rng.exp(4000) + 500;
        }
      }
      const n = rng.int(1, 3);
      out.push(ev(t, p, address, OPS.listAccounts, 'normal', { records: n, bytes: 150 + n * 450 }));
      const requests = rng.int(2, 11);
      for (let i = 0; i < requests; i++) {
        t += Math.min(30_000, 1500 + rng.exp(9000));
        normalRequest(rng, t, p, address, p.accounts, out);
      }
      if (rng.chance(0.05)) {
        t += 5000 + rng.exp(20_000);
        out.push(ev(t, p, address, OPS.createTransfer, 'normal', { objectIds: [rng.pick(p.accounts)], bytes: 450 }));
      }
    }
  } else if (p.kind === 'advisor') {
    const weekday = new Date(day).getUTCDay();
    if ((weekday === 0 || weekday === 6) && !rng.chance(0.1)) return;
    const net = pickNet(rng, p);
    const address = addressIn(rng, net);
    const startH = 8.5 + rng.uniform(-0.5, 0.5);
    const endH = 17.5 + rng.uniform(-0.5, 1);
    let t = day + (startH - p.tz) * HOUR;
    const end = day + (endH - p.tz) * HOUR;
    const lunch = day + (12 - p.tz) * HOUR;
    while (t < end) {
      if (t >= lunch && t < lunch + 0.75 * HOUR) {
        t = lunch + 0.75 * HOUR;
        continue;
      }
      if (t >= from && t < until) {
        if (rng.chance(0.15)) {
          // Reviewing one customer: a burst.
          const c = rng.pick(p.book);
          for (let i = rng.int(3, 8); i > 0; i--) {
            normalRequest(rng, t, p, address, [c], out);
            t += 1000 + rng.exp(4000);
          }
        } else normalRequest(rng, t, p, address, p.book, out);
        if (rng.chance(0.01)) out.push(ev(t + 2000, p, address, OPS.createTransfer, 'normal', { objectIds: [rng.pick(p.book)], bytes: 450 }));
      }
      t += rng.exp(60_000 / p.ratePerMinute);
    }
  } else {
    const address = addressIn(rng, p.nets[0]!);
    let t = from + rng.exp(60_000 / p.ratePerMinute);
    let cursor = rng.int(0, 999);
    while (t < until) {
      const h = Math.floor((t - day) / HOUR);
      const rate = h >= 1 && h < 3 ? p.ratePerMinute * 3 : p.ratePerMinute;
      const acc = p.accounts[cursor++ % p.accounts.length]!;
      const upstreamError = rng.chance(0.002);
      const closedAccount = !upstreamError && rng.chance(0.002);
      if (upstreamError) out.push(ev(t, p, address, OPS.listPositions, 'normal', { status: 502, objectIds: [acc], bytes: 250 }));
      else if (closedAccount) out.push(ev(t, p, address, OPS.listPositions, 'normal', { status: 404, reason: 'RAMPART_OBJECT_NOT_FOUND', objectIds: [acc], bytes: 290 }));
      else {
        const n = rng.int(20, 100);
        const op = rng.chance(0.5) ? OPS.listPositions : OPS.listOrders;
        out.push(ev(t, p, address, op, 'normal', { objectIds: [acc], records: n, bytes: 120 + n * 200 }));
      }
      t += rng.exp(60_000 / rate);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Attacks

export type AttackFamily = 'enumeration' | 'bulk-pull' | 'auth-failures' | 'new-network' | 'dormant-reactivation';
export const ATTACK_FAMILIES: readonly AttackFamily[] = ['enumeration', 'bulk-pull', 'auth-failures', 'new-network', 'dormant-reactivation'];

export interface AttackInstance {
  id: string;
  family: AttackFamily;
  variant: string;
  /** Whom the findings may name (any one of these, as the finding's target): the principal, the attacking address, the key attacked. */
  subject: { principal?: string; address?: string; keyId?: string };
  /** The kind that counts as detecting it. */
  expect: AnomalyKind;
  start: number;
  end: number;
  /** For bulk-pull: the multiple of the victim's usual volume. */
  factor?: number;
}

/** Fixes what injectAttack otherwise draws at random. */
export interface AttackParams {
  /** enumeration: sequential | random; auth-failures: brute-force | stuffing | distributed. */
  variant?: string;
  /** bulk-pull: multiple of the victim's usual records per minute. */
  factor?: number;
  /** enumeration and auth-failures: requests per second. */
  rate?: number;
  /** Attack length in ms (enumeration, bulk-pull, auth-failures). */
  durationMs?: number;
}

/** Generates one attack's events into `out` and describes it. */
export function injectAttack(seed: number, n: number, family: AttackFamily, start: number, victim: Profile | undefined, out: SimEvent[], params: AttackParams = {}): AttackInstance {
  const rng = createRng(seed, 3, n);
  const variant = params.variant;
  const id = `atk-${family}-${n}`;
  const evs: SimEvent[] = [];
  let inst: AttackInstance;
  if (family === 'enumeration') {
    const fresh = victim === undefined;
    const p = victim ?? makeProfile(seed, 50_000 + n, 'retail', start);
    const address = addressIn(rng, p.nets[0]!);
    const v = variant ?? rng.pick(['sequential', 'random']);
    const rate = params.rate ?? rng.uniform(0.5, 4);
    const duration = params.durationMs ?? rng.uniform(30, 180) * 1000;
    const base = rng.int(100_000, 900_000);
    const notFound = rng.chance(0.5);
    for (let i = 0, t = start; t < start + duration; i++, t += 1000 / rate + rng.uniform(-0.2, 0.2) * (1000 / rate)) {
      const oid = v === 'sequential' ? `acc_${base + i}` : `acc_${rng.int(100_000, 999_999)}`;
      if (rng.chance(0.03)) evs.push(ev(t, p, address, OPS.getAccount, id, { objectIds: [rng.pick(p.accounts)], bytes: 700 }));
      else evs.push(ev(t, p, address, OPS.getAccount, id, { status: notFound ? 404 : 403, reason: notFound ? 'RAMPART_OBJECT_NOT_FOUND' : 'RAMPART_OBJECT_FORBIDDEN', objectIds: [oid], bytes: 290 }));
    }
    inst = { id, family, variant: `${v}${fresh ? ', new principal' : ''}`, subject: { principal: p.id }, expect: 'enumeration', start, end: start, };
  } else if (family === 'bulk-pull') {
    const p = victim!;
    const address = addressIn(rng, p.nets[0]!);
    const factor = params.factor ?? rng.uniform(10, 50);
    const perMinute = factor * p.typicalMinuteRecords;
    const page = Math.min(500, Math.max(50, Math.round(perMinute / 30)));
    const reqPerMinute = perMinute / page;
    const duration = params.durationMs ?? rng.uniform(3, 8) * MINUTE;
    const objects = p.kind === 'advisor' ? p.book : p.accounts;
    for (let t = start; t < start + duration; t += rng.exp(60_000 / reqPerMinute)) {
      const nrec = Math.max(1, Math.round(page * rng.uniform(0.8, 1.2)));
      evs.push(ev(t, p, address, rng.chance(0.5) ? OPS.listOrders : OPS.listPositions, id, { objectIds: [rng.pick(objects)], records: nrec, bytes: 120 + nrec * 220 }));
    }
    inst = { id, family, variant: p.kind, subject: { principal: p.id }, expect: 'bulk-pull', start, end: start, factor };
  } else if (family === 'auth-failures') {
    const v = variant ?? rng.pick(['brute-force', 'stuffing', 'distributed']);
    const target = victim?.keyId ?? `key_cus_${pad(rng.int(0, 9999))}`;
    const fail = (t: number, address: string, keyId: string): SimEvent => ev(t, { keyId }, address, OPS.listAccounts, id, { status: 401, reason: 'RAMPART_AUTH_INVALID', bytes: 200 });
    if (v === 'distributed') {
      const addrs = Array.from({ length: rng.int(30, 60) }, () => addressIn(rng, attackerNet(rng, new Set())));
      const rate = params.rate ?? rng.uniform(0.3, 1);
      const duration = params.durationMs ?? rng.uniform(2, 5) * MINUTE;
      for (let t = start; t < start + duration; t += rng.exp(1000 / rate)) evs.push(fail(t, rng.pick(addrs), target));
      inst = { id, family, variant: v, subject: { keyId: target }, expect: 'auth-failures', start, end: start };
    } else {
      const address = addressIn(rng, attackerNet(rng, new Set()));
      const rate = params.rate ?? (v === 'brute-force' ? rng.uniform(1, 10) : rng.uniform(1, 5));
      const duration = params.durationMs ?? rng.uniform(20, 120) * 1000;
      for (let t = start; t < start + duration; t += rng.exp(1000 / rate)) evs.push(fail(t, address, v === 'brute-force' ? target : `key_${rng.int(0, 0xffffff).toString(16)}`));
      inst = { id, family, variant: v, subject: v === 'brute-force' ? { address, keyId: target } : { address }, expect: 'auth-failures', start, end: start };
    }
  } else if (family === 'new-network') {
    const p = victim!;
    const net = attackerNet(rng, p.blocks);
    const address = addressIn(rng, net);
    const pinned = p.blocks.size === 1;
    const objects = p.kind === 'advisor' ? p.book : p.accounts;
    let t = start;
    const reads = rng.int(3, 10);
    // A stolen customer credential is used to act (RSID-1: a new device, then a transfer); a
    // machine's or an advisor's key may just read.
    const transferAfter = p.kind !== 'retail' && pinned && rng.chance(0.5) ? -1 : rng.int(0, reads - 1);
    for (let i = 0; i < reads; i++) {
      normalRequestAs(rng, t, p, address, objects, id, evs);
      if (i === transferAfter) {
        t += rng.uniform(5, 60) * 1000;
        evs.push(ev(t, p, address, OPS.createTransfer, id, { objectIds: [rng.pick(objects)], bytes: 450 }));
      }
      t += rng.uniform(5, 120) * 1000;
    }
    inst = { id, family, variant: pinned ? `pinned ${p.kind}` : `multi-block ${p.kind}`, subject: { principal: p.id }, expect: 'new-network', start, end: start };
  } else {
    const p = victim!;
    const address = addressIn(rng, pickNet(rng, p));
    let t = start;
    evs.push(ev(t, p, address, OPS.listAccounts, id, { records: p.accounts.length, bytes: 600 }));
    for (let i = rng.int(1, 4); i > 0; i--) {
      t += rng.uniform(3, 40) * 1000;
      normalRequestAs(rng, t, p, address, p.accounts, id, evs);
    }
    t += rng.uniform(10, 600) * 1000;
    evs.push(ev(t, p, address, OPS.createTransfer, id, { objectIds: [rng.pick(p.accounts)], bytes: 450 }));
    inst = { id, family, variant: p.kind, subject: { principal: p.id }, expect: 'dormant-reactivation', start, end: start };
  }
  // Events carry whole milliseconds: the instance spans exactly its events.
  inst.start = evs.reduce((m, e) => Math.min(m, e.t), Infinity);
  inst.end = evs.reduce((m, e) => Math.max(m, e.t), -Infinity);
  for (const e of evs) out.push(e);
  return inst;
}

function normalRequestAs(rng: Rng, t: number, p: Profile, address: string, objects: string[], label: string, out: SimEvent[]): void {
  const n = rng.int(3, 40);
  const op = rng.pick([OPS.getAccount, OPS.listPositions, OPS.listOrders]);
  out.push(ev(t, p, address, op, label, { objectIds: [rng.pick(objects)], ...(op === OPS.getAccount ? { bytes: 700 } : { records: n, bytes: 120 + n * 200 }) }));
}

// ---------------------------------------------------------------------------------------------
// Scenario and evaluation

export interface ScenarioOptions {
  seed: number;
  population: PopulationSize;
  /** Days of normal history before T0 (the baselines' warm-up). */
  historyDays: number;
  /** Days evaluated from T0. */
  days: number;
  /** Attacks per family, at random times in the evaluation window. */
  attacks?: Partial<Record<AttackFamily, number>>;
  /**
   * Explicit attacks: family, offset from T0 (ms), the victim wanted ('new': a brand-new principal
   * for enumeration; 'pinned' / 'multi-block': a principal whose normal traffic uses one block /
   * several) and parameters.
   */
  explicit?: ({ family: AttackFamily; at: number; victim?: VictimWanted } & AttackParams)[];
  /** Principals created during the evaluation window (no history). */
  newPrincipals?: number;
  /** Probability that a retail session comes from a hotel network (default 0.001). */
  travelRate?: number;
}

export type VictimWanted = ProfileKind | 'new' | 'pinned' | `pinned ${ProfileKind}` | `multi-block ${ProfileKind}`;

export interface Scenario {
  options: ScenarioOptions;
  population: Profile[];
  attacks: AttackInstance[];
  /** Event batches in time order, one per simulated day (history first). Generated lazily. */
  batches(): Generator<SimEvent[]>;
  /** Total principal-days of the evaluation window (for false alarms per principal-day). */
  principalDays: number;
  /** Principal-days of the history (before T0), dormant principals' early days included. */
  historyPrincipalDays: number;
}

/** Builds a scenario: population, dormant principals, attacks; events are generated lazily per day. */
export function buildScenario(o: ScenarioOptions): Scenario {
  const rng = createRng(o.seed, 4);
  const historyStart = T0 - o.historyDays * DAY;
  const population: Profile[] = [];
  let idx = 0;
  for (const kind of ['retail', 'advisor', 'service'] as const) for (let i = 0; i < o.population[kind]; i++) population.push(makeProfile(o.seed, idx++, kind, historyStart));
  for (let i = 0; i < (o.newPrincipals ?? 0); i++) {
    const kind = rng.chance(0.8) ? 'retail' : rng.chance(0.5) ? 'advisor' : 'service';
    population.push(makeProfile(o.seed, idx++, kind, T0 + rng.uniform(0, o.days * DAY - 2 * HOUR)));
  }
  const dormant: Profile[] = [];
  const plan: { family: AttackFamily; at: number; victim: Profile | undefined; params: AttackParams }[] = [];
  // Victims: distinct, established, matching what each attack needs.
  const used = new Set<Profile>();
  // A victim has a history to deviate from: retail customers with 2.5+ sessions a day (about 15
  // active minutes and 50 requests over 3 days); every advisor and service account.
  const established = (p: Profile): boolean => p.activeFrom <= historyStart && (p.kind !== 'retail' || p.sessionsPerDay >= 2.5);
  const choose = (pred: (p: Profile) => boolean): Profile | undefined => {
    const c = population.filter((p) => !used.has(p) && pred(p));
    if (c.length === 0) return undefined;
    const p = rng.pick(c);
    used.add(p);
    return p;
  };
  const victimFor = (family: AttackFamily, want?: VictimWanted): Profile | undefined => {
    if (want === 'new') return undefined;
    if (family === 'dormant-reactivation') {
      const p = makeProfile(o.seed, 90_000 + dormant.length, 'retail', T0 - 55 * DAY, { dormant: true, activeUntil: T0 - 50 * DAY });
      p.sessionsPerDay = Math.max(p.sessionsPerDay, 3);
      dormant.push(p);
      return p;
    }
    const kindOk = (p: Profile): boolean => {
      if (want === undefined) return true;
      const [shape, kind] = want.includes(' ') ? want.split(' ') : want === 'pinned' ? ['pinned', undefined] : [undefined, want];
      if (kind !== undefined && p.kind !== kind) return false;
      if (shape === 'pinned') return p.blocks.size === 1;
      if (shape === 'multi-block') return p.blocks.size > 1;
      return true;
    };
    if (family === 'new-network') return choose((p) => established(p) && kindOk(p));
    if (family === 'bulk-pull') return choose((p) => established(p) && kindOk(p));
    if (family === 'auth-failures') return choose((p) => kindOk(p));
    return choose((p) => established(p) && p.kind === 'retail' && kindOk(p));
  };
  const span = o.days * DAY - 3 * HOUR;
  for (const family of ATTACK_FAMILIES) {
    for (let i = 0; i < (o.attacks?.[family] ?? 0); i++) {
      const victim = family === 'enumeration' && rng.chance(0.3) ? undefined : victimFor(family);
      plan.push({ family, at: T0 + HOUR + rng.uniform(0, span), victim, params: {} });
    }
  }
  for (const x of o.explicit ?? []) {
    const { family, at, victim, ...params } = x;
    const p = victimFor(family, victim);
    if (p === undefined && victim !== 'new' && family !== 'auth-failures' && !(family === 'enumeration' && victim === undefined)) throw new Error(`no victim left for ${family} (${victim ?? 'any'})`);
    plan.push({ family, at: T0 + at, victim: p, params });
  }
  const attacks: AttackInstance[] = [];
  const attackEvents: SimEvent[] = [];
  plan.forEach((a, n) => attacks.push(injectAttack(o.seed, n, a.family, a.at, a.victim, attackEvents, a.params)));
  attackEvents.sort((a, b) => a.t - b.t);
  const all = [...population, ...dormant];
  const dayOpts: DayOptions = { travelRate: o.travelRate ?? 0.001 };

  function* batches(): Generator<SimEvent[]> {
    const days: number[] = [];
    if (dormant.length > 0) for (let d = T0 - 55 * DAY; d < T0 - 50 * DAY; d += DAY) days.push(d);
    for (let d = historyStart; d < T0 + o.days * DAY; d += DAY) days.push(d);
    let carry: SimEvent[] = [];
    let ai = 0;
    for (let k = 0; k < days.length; k++) {
      const day = days[k]!;
      const end = k + 1 < days.length && days[k + 1] === day + DAY ? day + DAY : day + DAY + 2 * HOUR;
      const evs: SimEvent[] = carry;
      for (const p of all) normalDay(o.seed, p, day, dayOpts, evs);
      while (ai < attackEvents.length && attackEvents[ai]!.t < end) evs.push(attackEvents[ai++]!);
      evs.sort((a, b) => a.t - b.t);
      let cut = evs.length;
      while (cut > 0 && evs[cut - 1]!.t >= end) cut--;
      carry = evs.slice(cut);
      evs.length = cut;
      yield evs;
    }
    if (ai < attackEvents.length) carry.push(...attackEvents.slice(ai));
    if (carry.length > 0) yield carry.sort((a, b) => a.t - b.t);
  }

  const principalDays = population.reduce((sum, p) => sum + Math.max(0, Math.min(T0 + o.days * DAY, p.activeUntil) - Math.max(T0, p.activeFrom)) / DAY, 0) + dormant.length * o.days;
  const historyPrincipalDays = population.reduce((sum, p) => sum + Math.max(0, T0 - Math.max(historyStart, p.activeFrom)) / DAY, 0) + dormant.length * 5;
  return { options: o, population, attacks, batches, principalDays, historyPrincipalDays };
}

/**
 * The FC-3 hourly record limits an operator declares for service accounts (volume.
 * recordsPerHourOverrides): every service account of the scenario, new ones included, at
 * 100,000 records an hour. Without them, the default 10,000 an hour alerts on each service
 * account once an hour until it has 240 active minutes of history.
 */
export function declaredServiceAccounts(s: Scenario): Record<string, number> {
  return Object.fromEntries(s.population.filter((p) => p.kind === 'service').map((p) => [p.id, 100_000]));
}

export interface ObservedAction {
  action: AnomalyAction;
  /** Label of the event that triggered it. */
  label: string;
}

export interface RunResult {
  actions: ObservedAction[];
  events: number;
  /** Events in the evaluation window (t >= T0). */
  evalEvents: number;
  /**
   * CPU time (user + system) of the observe loops per event, microseconds. It includes garbage
   * collection of the generated events that happens to fall in the loop: an upper bound (the
   * benchmark measures steady state apart).
   */
  usPerEvent: number;
  /** The evaluation window's events, when asked for (the benchmark replays them). */
  evaluationEvents?: SimEvent[];
}

/** Feeds a scenario to a detector (tick every simulated 10 s, as a gateway's timer would). */
export function runScenario(s: Scenario, d: AnomalyDetector, o: { keepEvaluationEvents?: boolean } = {}): RunResult {
  const actions: ObservedAction[] = [];
  const kept: SimEvent[] = [];
  let events = 0;
  let evalEvents = 0;
  let cpu = 0;
  let nextTick = 0;
  for (const batch of s.batches()) {
    const c0 = process.cpuUsage();
    for (const e of batch) {
      if (e.t >= nextTick) {
        d.tick(e.t);
        nextTick = e.t + 10_000;
      }
      const acts = d.observe(e);
      if (acts.length > 0) for (const a of acts) actions.push({ action: a, label: e.label });
    }
    const c = process.cpuUsage(c0);
    cpu += c.user + c.system;
    events += batch.length;
    for (const e of batch) {
      if (e.t >= T0) {
        evalEvents++;
        if (o.keepEvaluationEvents) kept.push(e);
      }
    }
  }
  return { actions, events, evalEvents, usPerEvent: events === 0 ? 0 : cpu / events, ...(o.keepEvaluationEvents ? { evaluationEvents: kept } : {}) };
}

/** Time after an attack's last event during which findings still count as its detection. */
export const GRACE_MS = 10 * MINUTE;

export function matches(a: AnomalyAction, inst: AttackInstance): boolean {
  const f = a.finding;
  if (f.at < inst.start || f.at > inst.end + GRACE_MS) return false;
  const s = inst.subject;
  if (f.target === 'principal') return s.principal !== undefined && f.subject.principal === s.principal;
  if (f.target === 'address') return s.address !== undefined && f.subject.address === s.address;
  return s.keyId !== undefined && f.subject.keyId === s.keyId;
}

export interface FamilyMetrics {
  family: AttackFamily;
  instances: number;
  detected: number;
  recall: number;
  /** Findings of the family's kind, and how many were about an attack. */
  findings: number;
  truePositives: number;
  precision: number;
  /** Seconds from the attack's first event to its first finding of the expected kind. */
  delays: number[];
  medianDetectSeconds: number;
  maxDetectSeconds: number;
  missed: AttackInstance[];
}

export interface Evaluation {
  families: FamilyMetrics[];
  /** Actions in the evaluation window matched to no attack. */
  falseAlarms: ObservedAction[];
  /** Actions before T0 (history, including every principal's cold start). */
  historyAlarms: ObservedAction[];
  falseAlarmsPerPrincipalDay: number;
  principalDays: number;
  historyPrincipalDays: number;
  run: RunResult;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs a scenario and scores the detector per attack family. */
export function evaluate(s: Scenario, d: AnomalyDetector, o: { keepEvaluationEvents?: boolean } = {}): Evaluation {
  const run = runScenario(s, d, o);
  const evalActions = run.actions.filter((a) => a.action.finding.at >= T0);
  const historyAlarms = run.actions.filter((a) => a.action.finding.at < T0);
  const matched = new Set<ObservedAction>();
  for (const a of evalActions) if (s.attacks.some((i) => matches(a.action, i))) matched.add(a);
  const families: FamilyMetrics[] = [];
  for (const family of ATTACK_FAMILIES) {
    const insts = s.attacks.filter((i) => i.family === family);
    const kind = insts[0]?.expect ?? (family as AnomalyKind);
    const delays: number[] = [];
    const missed: AttackInstance[] = [];
    for (const i of insts) {
      const first = evalActions.find((a) => a.action.finding.kind === i.expect && matches(a.action, i));
      if (first) delays.push((first.action.finding.at - i.start) / 1000);
      else missed.push(i);
    }
    const ofKind = evalActions.filter((a) => a.action.finding.kind === kind);
    const tp = ofKind.filter((a) => matched.has(a)).length;
    families.push({
      family,
      instances: insts.length,
      detected: delays.length,
      recall: insts.length === 0 ? NaN : delays.length / insts.length,
      findings: ofKind.length,
      truePositives: tp,
      precision: ofKind.length === 0 ? NaN : tp / ofKind.length,
      delays,
      medianDetectSeconds: median(delays),
      maxDetectSeconds: delays.length ? Math.max(...delays) : NaN,
      missed,
    });
  }
  const falseAlarms = evalActions.filter((a) => !matched.has(a));
  return { families, falseAlarms, historyAlarms, falseAlarmsPerPrincipalDay: falseAlarms.length / s.principalDays, principalDays: s.principalDays, historyPrincipalDays: s.historyPrincipalDays, run };
}

/** One line per action, for failure messages and exploration. */
export function describe(a: ObservedAction): string {
  const f = a.action.finding;
  const who = f.subject.principal ?? f.subject.keyId ?? f.subject.address;
  return `${new Date(f.at).toISOString()} ${a.action.action} ${f.kind} ${f.target}=${who} score=${f.score} [${a.label}] ${f.reason}`;
}
