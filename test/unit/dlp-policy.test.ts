/**
 * DLP policy: the defaults for a brokerage, overrides, the detectors following their class, scope
 * qualification, and configuration errors that name the bad entry (caller misuse: TypeError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDlpPolicy, ruleFor, type DlpPolicyConfig } from '../../src/threat/dlp/index.js';
import { CLASSIFICATIONS } from '../../src/openapi/classification.js';

test('defaults: every known class has a rule; secret redacted and unrevealable; PII lifted by pii:read, cards by pci:read', () => {
  const p = compileDlpPolicy(undefined);
  for (const cls of Object.keys(CLASSIFICATIONS)) assert.ok(p.classes.has(cls), cls);
  const table = Object.fromEntries([...p.classes].map(([c, r]) => [c, `${r.action} ${r.reveal.join(',')}`.trim()]));
  assert.deepEqual(table, {
    secret: 'redact',
    ssn: 'partial pii:read',
    'tax-id': 'partial pii:read',
    'account-number': 'partial pii:read',
    'card-number': 'partial pci:read',
    'routing-number': 'partial pii:read',
    'date-of-birth': 'mask pii:read',
    email: 'partial pii:read',
    phone: 'partial pii:read',
    name: 'partial pii:read',
    address: 'mask pii:read',
    'ip-address': 'partial pii:read',
    'subject-id': 'none',
    financial: 'none',
    'free-text': 'none',
  });
  assert.deepEqual(ruleFor(p, 'passport'), { action: 'mask', reveal: ['pii:read'] }, 'classes nobody listed are personal data');
  assert.deepEqual(ruleFor(p, 'unknown'), { action: 'mask', reveal: ['pii:read'] });
  // Detectors follow their class.
  assert.deepEqual(p.detect.get('ssn'), { action: 'partial', reveal: ['pii:read'] });
  assert.deepEqual(p.detect.get('card-number'), { action: 'partial', reveal: ['pci:read'] });
  assert.deepEqual(p.detect.get('date-of-birth'), { action: 'mask', reveal: ['pii:read'] });
  assert.equal(p.keyNames, true);
  assert.equal(p.secretNames, 'credentials');
  assert.deepEqual(p.warnings, []);
  assert.ok(Object.isFrozen(p));
});

test('overrides: class actions and reveals, detect actions and toggles, custom classes and *', () => {
  const p = compileDlpPolicy({
    classes: {
      ssn: { action: 'redact' },
      email: { reveal: ['support:read', 'pii:read'] },
      name: { action: 'none' },
      passport: { action: 'block', reveal: 'kyc:read' },
      '*': { action: 'redact', reveal: [] },
      secret: { action: 'block' },
    },
    detect: { phone: false, 'card-number': 'block' },
    keyNames: false,
    secretNames: 'all',
  });
  assert.deepEqual(ruleFor(p, 'ssn'), { action: 'redact', reveal: ['pii:read'] }, 'reveal kept when only the action is given');
  assert.deepEqual(ruleFor(p, 'email'), { action: 'partial', reveal: ['support:read', 'pii:read'] });
  assert.deepEqual(ruleFor(p, 'name'), { action: 'none', reveal: ['pii:read'] });
  assert.deepEqual(ruleFor(p, 'passport'), { action: 'block', reveal: ['kyc:read'] });
  assert.deepEqual(ruleFor(p, 'biometric'), { action: 'redact', reveal: [] });
  assert.deepEqual(ruleFor(p, 'secret'), { action: 'block', reveal: [] });
  assert.deepEqual(p.detect.get('ssn'), { action: 'redact', reveal: ['pii:read'] }, 'the detector follows the configured class');
  assert.equal(p.detect.get('phone'), false);
  assert.deepEqual(p.detect.get('card-number'), { action: 'block', reveal: ['pci:read'] });
  assert.equal(p.keyNames, false);
  assert.equal(p.secretNames, 'all');
  assert.equal(p.warnings.length, 1);
  assert.match(p.warnings[0]!, /classes\.passport/);
});

test('qualifyScope qualifies default and configured reveal scopes', () => {
  const p = compileDlpPolicy({ classes: { email: { reveal: 'support:read' } } }, { qualifyScope: (s) => `brokerage:${s}` });
  assert.deepEqual(ruleFor(p, 'ssn').reveal, ['brokerage:pii:read']);
  assert.deepEqual(ruleFor(p, 'email').reveal, ['brokerage:support:read']);
  assert.deepEqual(ruleFor(p, 'card-number').reveal, ['brokerage:pci:read']);
});

test('bad entries: TypeError with a stable code, naming the entry', () => {
  const cases: [unknown, RegExp][] = [
    ['strict', /must be an object/],
    [{ clases: {} }, /dlp\.clases: unknown setting/],
    [{ classes: [] }, /classes: must be an object/],
    [{ classes: { ssn: { action: 'hide' } } }, /classes\.ssn\.action: "hide" is not one of none, partial, mask, redact, block/],
    [{ classes: { ssn: 'partial' } }, /classes\.ssn: must be an object/],
    [{ classes: { ssn: { action: 'partial', show: 'x' } } }, /classes\.ssn\.show: unknown setting/],
    [{ classes: { SSN: { action: 'partial' } } }, /classes\.SSN: not a class name/],
    [{ classes: { ssn: { reveal: 'pii read' } } }, /classes\.ssn\.reveal: "pii read" is not a scope/],
    [{ classes: { ssn: { reveal: ['pii:read', 7] } } }, /classes\.ssn\.reveal\[1\]: 7 is not a scope/],
    [{ classes: { ssn: { reveal: { a: 1 } } } }, /classes\.ssn\.reveal: must be a scope or a list/],
    [{ classes: { secret: { action: 'mask' } } }, /classes\.secret\.action: secrets are always redacted/],
    [{ classes: { secret: { reveal: 'admin' } } }, /classes\.secret\.reveal: no scope reveals secrets/],
    [{ detect: { iban: 'mask' } }, /detect\.iban: unknown setting/],
    [{ detect: { ssn: 'hide' } }, /detect\.ssn: "hide" is not one of/],
    [{ detect: 'all' }, /detect: must be an object/],
    [{ keyNames: 'yes' }, /keyNames: must be true or false/],
    [{ secretNames: 'some' }, /secretNames: "some" is not one of credentials, all, off/],
  ];
  for (const [cfg, re] of cases) {
    assert.throws(
      () => compileDlpPolicy(cfg as DlpPolicyConfig),
      (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'RAMPART_DLP_POLICY_INVALID' && re.test(e.message),
      `${JSON.stringify(cfg)} should fail with ${re}`,
    );
  }
  // Empty reveal lists are allowed: nobody sees the class in full.
  assert.deepEqual(ruleFor(compileDlpPolicy({ classes: { ssn: { reveal: [] } } }), 'ssn').reveal, []);
  assert.deepEqual(ruleFor(compileDlpPolicy({ classes: { secret: { action: 'redact', reveal: [] } } }), 'secret'), { action: 'redact', reveal: [] });
});
