/**
 * Peer approval of configuration changes (issue 6; R17a4-3, AU-10): the bar is the larger of the
 * running and the new version's `changes.approvals`, approvers count once each, never the author,
 * and only while their account is enabled (FC-2).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { approvalStatus, mayApprove, requiredApprovals } from '../../src/config/approval-policy.js';
import { parseConfig } from '../../src/config/load.js';

const YAML = 'version: 1\nlisten: { host: 127.0.0.1, plainHttp: true }\napis:\n  - { name: a, openapi: a.yaml, upstream: { url: "http://127.0.0.1:9" } }\n';
const load = (extra = '') => parseConfig(YAML + extra, '/srv/rampart.yaml', { env: {} });

describe('approval policy (issue 6)', () => {
  test('changes.approvals defaults to 0, and to 1 under the finra profile; the file can set it', () => {
    assert.deepEqual(load().changes, { approvals: 0, maxBundleBytes: 8 * 1024 * 1024 });
    assert.equal(load('profile: finra\n').changes.approvals, 1);
    assert.equal(load('profile: finra\nchanges: { approvals: 2 }\n').changes.approvals, 2);
    assert.equal(load('changes: { approvals: 3, maxBundleBytes: 1048576 }\n').changes.maxBundleBytes, 1048576);
    assert.throws(() => load('changes: { approvals: -1 }\n'), /\/changes\/approvals: must be >= 0/);
    assert.throws(() => load('changes: { approval: 1 }\n'), /unknown property "approval" \(did you mean "approvals"\?\)/);
  });

  test('a version cannot lower the bar to pass itself: the larger of live and new', () => {
    assert.equal(requiredApprovals(load('changes: { approvals: 2 }\n'), load('changes: { approvals: 0 }\n')), 2);
    assert.equal(requiredApprovals(load(), load('changes: { approvals: 1 }\n')), 1);
    assert.equal(requiredApprovals(undefined, load()), 0);
  });

  test('the author can never approve, whatever the case of the name', () => {
    assert.equal(mayApprove('alice', 'alice').ok, false);
    assert.equal(mayApprove('alice', 'ALICE').ok, false);
    assert.equal(mayApprove('alice', 'bob').ok, true);
  });

  test('approvers count once each, never the author, only while enabled', () => {
    const approvals = [{ approver: 'bob' }, { approver: 'alice' }, { approver: 'bob' }, { approver: 'carol' }, { approver: 'dave' }];
    const s = approvalStatus({ author: 'alice', approvals, required: 3, active: (a) => a !== 'dave' });
    assert.deepEqual(s, { required: 3, approvers: ['bob', 'carol'], missing: 1, satisfied: false });
    assert.equal(approvalStatus({ author: 'alice', approvals, required: 2 }).satisfied, true);
    assert.equal(approvalStatus({ author: 'alice', approvals: [{ approver: 'alice' }], required: 1 }).satisfied, false, 'self-approval never counts');
    assert.deepEqual(approvalStatus({ author: 'alice', approvals: [], required: 0 }), { required: 0, approvers: [], missing: 0, satisfied: true });
    assert.throws(() => approvalStatus({ author: 'a', approvals: [], required: -1 }), TypeError);
  });
});
