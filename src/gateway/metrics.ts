/**
 * Prometheus metrics, fed from diagnostics channels (STYLE point 6): stages never call metrics.
 */
import { Counter, Histogram, Registry, Gauge, collectDefaultMetrics } from 'prom-client';
import { channels, type ExchangeEndMessage, type LedgerAlertMessage } from '../core/diagnostics.js';

export interface Metrics {
  registry: Registry;
  close(): void;
}

export function createMetrics(opts: { ledgerHealthy: () => boolean; keysCount: () => number }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rampart_process_' });
  const requests = new Counter({
    name: 'rampart_requests_total',
    help: 'Exchanges by API, operation, status and outcome',
    labelNames: ['api', 'operation', 'status', 'outcome'] as const,
    registers: [registry],
  });
  const denials = new Counter({
    name: 'rampart_denials_total',
    help: 'Denied requests by stage and reason code',
    labelNames: ['stage', 'reason'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'rampart_request_duration_seconds',
    help: 'Time from arrival to the end of the exchange',
    labelNames: ['api', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const ledgerAlerts = new Counter({
    name: 'rampart_ledger_alerts_total',
    help: 'Ledger append failures (AU-5); each one is an alert',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'rampart_ledger_healthy',
    help: '1 while the last ledger append succeeded',
    registers: [registry],
    collect() {
      this.set(opts.ledgerHealthy() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'rampart_api_keys',
    help: 'API keys known to this node',
    registers: [registry],
    collect() {
      this.set(opts.keysCount());
    },
  });
  const onEnd = (m: unknown) => {
    const e = m as ExchangeEndMessage;
    requests.inc({ api: e.api ?? '-', operation: e.operationId ?? '-', status: String(e.status), outcome: e.outcome });
    duration.observe({ api: e.api ?? '-', outcome: e.outcome }, e.durationSeconds);
    if (e.outcome === 'deny') denials.inc({ stage: e.stage ?? '-', reason: e.reason ?? '-' });
  };
  const onAlert = (m: unknown) => ledgerAlerts.inc({ kind: (m as LedgerAlertMessage).kind });
  channels.exchangeEnd.subscribe(onEnd);
  channels.ledgerAlert.subscribe(onAlert);
  return {
    registry,
    close() {
      channels.exchangeEnd.unsubscribe(onEnd);
      channels.ledgerAlert.unsubscribe(onAlert);
    },
  };
}
