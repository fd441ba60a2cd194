/**
 * The threat-defence services that outlive a configuration version: the rate limiter (its
 * counters must survive a reload, and on Redis they are shared by every node), the anomaly
 * detector (its baselines are weeks of behaviour) and the way both raise alerts. Built once by
 * the composition root (../gateway/start.ts); the stages of each configuration version receive it.
 *
 * Alerts go two ways: the `rampart:security:alert` diagnostics channel (metrics, logs, a SIEM
 * subscriber) and a `security.event` ledger record, so that an examiner sees every anomaly and
 * every Redis outage with what was done about it (FC-3, RSID-1: "logs how each was handled").
 */
import { createHmac } from 'node:crypto';
import type { RampartConfig } from '../config/types.js';
import { channels } from '../core/diagnostics.js';
import type { Logger } from '../core/log.js';
import type { Ledger } from '../ledger/writer.js';
import type { PersonalFields } from '../ledger/record.js';
import { createLimiter, type Limiter } from './ratelimit/index.js';
import { createAnomalyDetector, type AnomalyDetector, type AnomalyAction, type AnomalyOptions } from './anomaly/index.js';
import { ConfigError } from '../core/errors.js';

export interface ThreatServices {
  /** Undefined when no rule is configured (nothing to count). */
  readonly limiter: Limiter | undefined;
  /** A per-node memory limiter for anomaly throttles (never shared: a throttle is this node's answer). */
  readonly local: Limiter;
  readonly anomaly: AnomalyDetector | undefined;
  /** Throttle and block as the model decides; otherwise alerts only. */
  readonly enforce: boolean;
  /**
   * The counter key for a principal, key or address: 128 bits of HMAC-SHA256 under the server
   * secret, so the counter store holds no customer ids or addresses (and an IPv4 address cannot
   * be recovered from its key by trying all 2^32).
   */
  counterKey(s: string): string;
  /** Records a security event in the ledger and publishes it as an alert. Never throws. */
  securityEvent(event: string, detail: Record<string, string | number | boolean>, configHash: string, personal?: PersonalFields): void;
  /** Carries out what the anomaly model decided for one exchange (alerts; throttles and blocks are read back by the limit stages). */
  handleAnomalies(actions: readonly AnomalyAction[], configHash: string): void;
  /** Resolves once the rate-limit store answers (or its connect timeout passed: then the outage rules apply). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Counter keys remembered (principal, key and address strings: tens of bytes each). */
const COUNTER_KEY_CACHE = 50_000;

export interface ThreatServicesOptions {
  config: RampartConfig;
  ledger: Ledger;
  logger: Logger;
  /** Keys the counter names (the server's key-hash secret). */
  secret: Buffer;
  /** Injected clock (tests). */
  now?: () => number;
}

export function createThreatServices(o: ThreatServicesOptions): ThreatServices {
  const { config, ledger, logger } = o;
  const now = o.now ?? Date.now;
  let hashForOutage = 'starting';

  const securityEvent = (event: string, detail: Record<string, string | number | boolean>, configHash: string, personal?: PersonalFields): void => {
    // The channel gets the non-personal facts only; who and where go to the record's sealed part.
    if (channels.securityAlert.hasSubscribers) channels.securityAlert.publish({ kind: event, detail });
    ledger
      .append({ type: 'security.event', outcome: 'info', configHash, reason: 'RAMPART_OK', detail: { event, ...detail }, ...(personal ? { personal } : {}) })
      .catch((err: unknown) => channels.ledgerAlert.publish({ kind: 'append-failed', error: err }));
  };

  const counterKeys = new Map<string, string>();
  const rl = config.rateLimits;
  const limiter =
    rl.rules.length === 0
      ? undefined
      : createLimiter({
          backend: rl.backend === 'redis' && rl.redis
            ? { kind: 'redis', url: rl.redis.url, prefix: rl.redis.prefix, commandTimeoutMs: rl.redis.commandTimeoutMs, onOutage: rl.redis.onOutage }
            : { kind: 'memory' },
          // Redis decides with its own clock (TIME), so nodes with skewed clocks agree; an injected
          // clock is for the memory backend and tests only.
          ...(rl.backend === 'memory' || o.now ? { now } : {}),
          onEvent: (e) => {
            // AU-5 in spirit: the operator must know limits are per node (or refused) meanwhile.
            if (e.kind === 'redis-down') logger.error({ err: errText(e.error) }, `rate-limit store unreachable: ${rl.redis?.onOutage === 'refuse' ? 'refusing traffic' : 'per-node limits until it is back'}`);
            else if (e.kind === 'redis-up') logger.warn('rate-limit store reachable again');
            else logger.warn({ kind: e.kind }, 'rate-limit counters evicted under memory pressure: idle keys may be forgotten early');
            securityEvent(`ratelimit.${e.kind}`, { backend: rl.backend, onOutage: rl.redis?.onOutage ?? 'local' }, hashForOutage);
          },
        });
  const local = createLimiter({ backend: { kind: 'memory' }, now });
  let anomaly: AnomalyDetector | undefined;
  if (config.anomaly.enabled) {
    try {
      anomaly = createAnomalyDetector(config.anomaly.model as AnomalyOptions);
    } catch (err) {
      // The model checks its own settings and names the path of a bad one.
      throw new ConfigError([{ file: 'rampart.yaml', pointer: '/anomaly/model', message: (err as Error).message }]);
    }
  }
  const enforce = config.anomaly.enabled && config.anomaly.enforce;
  // Restrictions expire and windows roll with events; a quiet gateway still lets them lapse.
  const ticker = anomaly ? setInterval(() => anomaly!.tick(now()), 5000) : undefined;
  ticker?.unref();

  return {
    counterKey(s) {
      // Cached: the same principals and addresses come back request after request, and an HMAC
      // per rule per request was a measurable share of the limit stages' cost.
      let k = counterKeys.get(s);
      if (k === undefined) {
        if (counterKeys.size >= COUNTER_KEY_CACHE) counterKeys.clear();
        k = createHmac('sha256', o.secret).update(s).digest('base64url').slice(0, 22);
        counterKeys.set(s, k);
      }
      return k;
    },
    limiter,
    local,
    anomaly,
    enforce,
    securityEvent(event, detail, configHash, personal) {
      hashForOutage = configHash;
      securityEvent(event, detail, configHash, personal);
    },
    handleAnomalies(actions, configHash) {
      hashForOutage = configHash;
      for (const a of actions) {
        const f = a.finding;
        const applied = a.action === 'alert' || !enforce ? 'alert' : a.action;
        const detail: Record<string, string | number | boolean> = { kind: f.kind, action: applied, score: Math.round(f.score * 100) / 100 };
        if (f.subject.keyId !== undefined) detail.keyId = f.subject.keyId;
        if (a.until !== undefined && applied !== 'alert') detail.until = new Date(a.until).toISOString();
        logger.warn({ kind: f.kind, action: applied, keyId: f.subject.keyId }, 'anomaly detected');
        // The model's explanation may name the principal or the address: personal, so sealed.
        const personal: PersonalFields = { extra: { explanation: f.reason.slice(0, 500) } };
        if (f.subject.principal !== undefined) personal.principal = f.subject.principal;
        if (f.subject.address !== undefined) personal.clientAddress = f.subject.address;
        securityEvent('anomaly', detail, configHash, personal);
      }
    },
    async ready() {
      if (limiter && !(await limiter.ready())) logger.warn('rate-limit store not reachable at start: the outage rules apply until it is');
    },
    async close() {
      if (ticker) clearInterval(ticker);
      await Promise.all([limiter?.close(), local.close()]);
    },
  };
}

function errText(err: unknown): string | undefined {
  return err instanceof Error ? err.message : err === undefined ? undefined : String(err);
}
