/**
 * The injection inspector's public API (ASVS 5.3.4, 5.2.6, API7): see inspect-value.ts for how a
 * value is inspected and docs/inspection.md for the families, rules, limits and measured rates.
 */
export { inspectValue, inspectKey, MAX_INSPECT_CHARS } from './inspect-value.js';
export { INJECTION_FAMILIES, REASON_CODES, isInjectionFamily, type InjectionFamily, type Finding, type InspectOptions, type ValueLocation } from './families.js';
export { decodeVariants, DECODE_PASSES, MAX_VARIANTS, type Variant } from './decode.js';
export { isHarmless } from './prescreen.js';
export { classifyHost } from './ssrf.js';
