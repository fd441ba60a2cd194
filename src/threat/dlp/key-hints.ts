/**
 * What a JSON key name says about its value, for responses whose schema does not classify it
 * (API3, FC-3). Account numbers and dates of birth have no shape of their own (any 8-17 digits,
 * any date), so they are found by key name only: an unstructured run of digits elsewhere is left
 * alone (too noisy: ids, quantities, CUSIPs). SSNs, card numbers, routing numbers, e-mail
 * addresses and phone numbers under such names are taken whole too, valid or not: a field named
 * `ssn` holding `900-12-3456` is still somebody's identifier to the reader.
 *
 * Names are compared case-insensitively ignoring `_`, `-`, `.` and spaces (`account_number`,
 * `AccountNumber` and `account-number` are one name), exactly or by suffix
 * (`bankAccountNumber`); prefixes are not used, so `accountNumberLast4` is not an account number.
 *
 * Also here, for the same per-key cache: credentials by name (see `credentialName`), which never
 * belong in a response, and the context a key gives to bare 9-digit numbers (detectors.ts).
 */
import { isSecretName } from '../../openapi/classification.js';
import { mayHoldSensitive, type DetectKind, type TextContext } from './detectors.js';

interface HintRule {
  exact: readonly string[];
  suffix: readonly string[];
}

const HINTS: ReadonlyArray<[DetectKind, HintRule]> = [
  ['ssn', { exact: ['ssn', 'ssnumber', 'ssnno', 'ssnnumber', 'socialsecurity', 'socialsecuritynumber', 'socialsecurityno', 'socsecno', 'socsecnumber'], suffix: ['ssn', 'socialsecuritynumber'] }],
  ['tax-id', { exact: ['taxid', 'tin', 'ein', 'fein', 'itin', 'taxidnumber', 'taxidentificationnumber', 'taxpayerid', 'taxpayeridentificationnumber', 'taxnumber', 'taxno'], suffix: ['taxid', 'taxpayerid', 'taxidnumber'] }],
  ['card-number', { exact: ['pan', 'cardnumber', 'cardno', 'cardnum', 'creditcard', 'creditcardnumber', 'ccnumber', 'ccnum', 'ccn', 'debitcardnumber', 'primaryaccountnumber'], suffix: ['cardnumber', 'cardno'] }],
  ['routing-number', { exact: ['routingnumber', 'routing', 'routingno', 'aba', 'abanumber', 'abaroutingnumber', 'rtn', 'routingtransitnumber'], suffix: ['routingnumber', 'routingno'] }],
  ['account-number', { exact: ['accountnumber', 'accountno', 'accountnum', 'acctnumber', 'acctno', 'acctnum', 'acct', 'accnumber', 'accno', 'iban', 'bankaccount'], suffix: ['accountnumber', 'accountno', 'accountnum', 'acctnumber', 'acctno', 'acctnum', 'iban'] }],
  ['date-of-birth', { exact: ['dob', 'dateofbirth', 'birthdate', 'birthday', 'birthdt', 'dtofbirth', 'bdate'], suffix: ['dob', 'dateofbirth', 'birthdate'] }],
  ['email', { exact: ['email', 'emailaddress', 'emailaddr'], suffix: ['email', 'emailaddress'] }],
  ['phone', { exact: ['phone', 'phonenumber', 'phoneno', 'mobile', 'mobilenumber', 'mobilephone', 'cell', 'cellphone', 'telephone', 'tel', 'telno', 'fax', 'faxnumber'], suffix: ['phone', 'phonenumber', 'phoneno', 'telephone', 'faxnumber'] }],
];

const CREDENTIAL_EXACT: ReadonlySet<string> = new Set([
  'password', 'passwd', 'pwd', 'passphrase', 'pin', 'pincode', 'pinnumber', 'cardpin', 'atmpin',
  'cvv', 'cvc', 'cvn', 'securitycode', 'cardsecuritycode', 'cardverificationvalue', 'cardverificationcode',
  'privatekey', 'secretkey', 'clientsecret', 'apisecret', 'totpsecret', 'mfasecret', 'otpsecret',
  'recoverycode', 'recoverycodes', 'securityanswer', 'securityquestionanswer',
]);
const CREDENTIAL_SUFFIX = /(password|passwd|passphrase|privatekey|secretkey|clientsecret|cvv|cvc)$/;
const CREDENTIAL_PREFIX = /^(password|passwd|passphrase)/;

/** What one key name says; computed once per distinct name. */
export interface KeyInfo {
  /** The value under this key is of this kind (applies to string and number values). */
  readonly hint: DetectKind | undefined;
  /** Context for bare 9-digit numbers inside the value. */
  readonly ctx: TextContext | undefined;
  /** A credential name (secretNames: 'credentials'). */
  readonly credential: boolean;
  /** A secret name in the ledger's broader sense (secretNames: 'all'; isSecretName). */
  readonly secret: boolean;
  /** Any of the above: the walker must look at the value whatever it is. */
  readonly notable: boolean;
  /** The name itself may hold a detectable value (mayHoldSensitive). */
  readonly scan: boolean;
}

const NONE: KeyInfo = Object.freeze({ hint: undefined, ctx: undefined, credential: false, secret: false, notable: false, scan: false });
const cache = new Map<string, KeyInfo>();
const MAX_CACHE = 4096;

/**
 * Normalises a key name: lower case without `_`, `-`, `.`, spaces, or trailing digits.
 *
 * @example
 * normalizeKey('Account_Number2'); // 'accountnumber'
 */
export function normalizeKey(name: string): string {
  let n = name.toLowerCase();
  if (/[_\-. ]/.test(n)) n = n.replace(/[_\-. ]+/g, '');
  const last = n.charCodeAt(n.length - 1);
  if (last >= 48 && last <= 57) n = n.replace(/[0-9]+$/, '');
  return n;
}

/**
 * What the key `name` says about its value (cached; the cache is bounded so hostile bodies with
 * random keys cannot grow it without end).
 *
 * @example
 * keyInfo('bankAccountNumber').hint; // 'account-number'
 * keyInfo('dateOfBirth').hint;       // 'date-of-birth'
 * keyInfo('accountId').hint;         // undefined
 * keyInfo('password').credential;    // true
 */
export function keyInfo(name: string): KeyInfo {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const info = computeKeyInfo(name);
  if (name.length <= 64) {
    if (cache.size >= MAX_CACHE) cache.clear();
    cache.set(name, info);
  }
  return info;
}

function computeKeyInfo(name: string): KeyInfo {
  if (name.length === 0) return NONE;
  const scan = mayHoldSensitive(name);
  if (name.length > 256) return scan ? Object.freeze({ ...NONE, scan }) : NONE;
  const n = normalizeKey(name);
  let hint: DetectKind | undefined;
  for (const [kind, rule] of HINTS) {
    if (rule.exact.includes(n) || rule.suffix.some((s) => n.length > s.length && n.endsWith(s))) {
      hint = kind;
      break;
    }
  }
  const ssn = n.startsWith('ssn') || n.endsWith('ssn') || n.includes('social') || n.includes('taxpayer') || n.includes('taxid');
  const routing = n.includes('routing') || n.startsWith('aba') || n === 'rtn';
  const ctx: TextContext | undefined = ssn || routing ? { ssn, routing } : undefined;
  const credential = CREDENTIAL_EXACT.has(n) || CREDENTIAL_SUFFIX.test(n) || CREDENTIAL_PREFIX.test(n);
  const secret = credential || isSecretName(name);
  if (hint === undefined && ctx === undefined && !secret && !scan) return NONE;
  return Object.freeze({ hint, ctx, credential, secret, notable: hint !== undefined || ctx !== undefined || secret, scan });
}
