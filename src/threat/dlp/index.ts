/**
 * DLP for responses (API3, FC-3, ASVS 8.3.x, 7.1.1): detectors, masking actions, the policy.
 * See docs/dlp.md.
 */
export { compileDlpPolicy, ruleFor, actionRank, PII_READ_SCOPE, PCI_READ_SCOPE } from './policy.js';
export type { DlpAction, DlpClassConfig, DlpPolicy, DlpPolicyConfig, DlpRule, CompileDlpOptions, SecretNames } from './policy.js';
export { maskJson, maskJsonText } from './mask-json.js';
export type { MaskResult } from './mask-json.js';
export { maskText } from './mask-text.js';
export {
  DETECT_KINDS,
  findSensitive,
  mayHoldSensitive,
  isValidSsn,
  isValidItin,
  isValidCardNumber,
  isValidRoutingNumber,
  isValidPhone,
  luhnValid,
  cardBrand,
  SHAPE_KINDS,
} from './detectors.js';
export type { DetectKind, Finding, TextContext } from './detectors.js';
export { keyInfo } from './key-hints.js';
export { maskAll, partialValue, transform } from './mask.js';
