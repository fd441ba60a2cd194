/**
 * Anomaly detection (FC-3, RSID-1, ASVS 8.1.4, API1, API6): the public surface. The model is
 * documented in docs/anomaly.md.
 */
export type { ExchangeEvent, AnomalyKind, AnomalyFinding, AnomalyAction, AnomalyDetector, AnomalyRestriction, AnomalyStats, AnomalyTarget, ActionLevel } from './types.js';
export { ANOMALY_KINDS } from './types.js';
export type { AnomalyConfig, AnomalyOptions, KindPolicy } from './config.js';
export { DEFAULT_ANOMALY_CONFIG, resolveAnomalyConfig } from './config.js';
export type { AnomalyModel, PrincipalView } from './model.js';
export { createAnomalyDetector } from './model.js';
export { networkOf, type NetworkOf } from './network.js';
