/**
 * The admin plane's ledger routes (issue 4): legal holds (compliance only, R17a4-1), the purge
 * job on demand (RSP-7), checkpoints and verification on demand (R17a4-6), and evidence export
 * (R17a4-8, R17a4-10). Every action is a ledger record naming the admin (R17a4-3); the export's
 * record names the package's manifest digest, so what an examiner received can be identified.
 *
 *   GET  /admin/api/ledger/keys          checkpoint verifier keys (the public keys examiners need)
 *   POST /admin/api/ledger/checkpoint    sign and publish a checkpoint now
 *   POST /admin/api/ledger/verify        run the self-verification now and return its result
 *   GET  /admin/api/holds                legal holds with their criteria
 *   POST /admin/api/holds                set a hold {principal?, subject?, objectId?, operationId?, from?, to?, reason}
 *   POST /admin/api/holds/:id/lift       lift it {reason}
 *   POST /admin/api/ledger/purge         run the purge {dryRun?}
 *   POST /admin/api/evidence/export      {from, to, principal?, subject?, objectId?, operationId?, purpose?}: the package (application/gzip)
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportEvidence, type EvidenceQuery } from '../evidence/export.js';
import { activeHoldsAll } from '../evidence/holds-view.js';
import { liftHold, setHold, type HoldContext } from '../ledger/holds.js';
import { runPurge, type PurgeContext } from '../ledger/purge.js';
import type { HoldCriteria } from '../storage/types.js';
import { may } from './roles.js';
import { actorOf, AdminFailure, type Handler, type Route } from './server.js';
import type { LedgerRouteDeps } from './console-deps.js';

export type { LedgerRouteDeps } from './console-deps.js';

export function ledgerRoutes(d: LedgerRouteDeps): Route[] {
  const { storage, parts } = d;
  const holdCtx = (): HoldContext => ({ ledger: storage.ledger, retention: storage.retention, ring: parts.crypto.ring, sealer: parts.crypto.sealer, writer: d.ledger, configHash: d.configHash(), now: d.now });

  const keys: Handler = async (_req, res) => {
    d.json(res, 200, { keys: (await storage.checkpoints.listSigningKeys()).map((k) => ({ verifierKey: k.verifierKey, since: new Date(k.createdAt).toISOString() })), current: parts.checkpointKey.verifier });
  };

  const checkpoint: Handler = async (_req, res, { caller, client, requestId }) => {
    await parts.drained();
    const cp = await parts.checkpointer.checkpoint('manual', true);
    await d.record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'ledger.checkpoint', treeSize: cp?.treeSize ?? 0 } });
    d.json(res, 200, cp ? { treeSize: cp.treeSize, rootHash: cp.rootHash, note: cp.note } : { treeSize: 0 });
  };

  const verify: Handler = async (_req, res, { caller, client, requestId }) => {
    if (!parts.selfVerifier) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'Self-verification is off (ledger.selfVerify.intervalSeconds: 0).');
    const r = await parts.selfVerifier.run();
    await d.record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'ledger.verify', ok: r.ok, records: r.count } });
    d.json(res, 200, r);
  };

  const listHolds: Handler = async (_req, res) => {
    const holds = await activeHoldsAll(storage.retention, parts.crypto.ring);
    d.json(res, 200, { holds: holds.map((h) => ({ ...h, createdAt: iso(h.createdAt), ...(h.liftedAt !== undefined ? { liftedAt: iso(h.liftedAt) } : {}) })) });
  };

  const createHold: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const reason = str(body.reason, 'reason', true)!;
    const criteria: HoldCriteria = {};
    for (const k of ['principal', 'subject', 'objectId', 'operationId'] as const) {
      const v = str(body[k], k, false);
      if (v !== undefined) criteria[k] = v;
    }
    if (body.from !== undefined) criteria.fromTs = time(body.from, 'from');
    if (body.to !== undefined) criteria.toTs = time(body.to, 'to');
    const r = await setHold(holdCtx(), criteria, caller!.user.username, reason, { requestId, client }).catch(badHold);
    d.json(res, 201, { id: r.hold.id, items: r.items, createdAt: iso(r.hold.createdAt) });
  };

  const lift: Handler = async (_req, res, { body, params, caller, client, requestId }) => {
    const reason = str(body.reason, 'reason', true)!;
    const r = await liftHold(holdCtx(), params[0]!, caller!.user.username, reason, { requestId, client }).catch(badHold);
    d.json(res, 200, { id: params[0], lifted: true, released: r.released });
  };

  const purge: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const dryRun = body.dryRun === true;
    const report = await runPurge(purgeContext(d, d.now), { dryRun });
    await d.record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: dryRun ? 'ledger.purge.plan' : 'ledger.purge', keys: report.removed.keys, recordsPruned: report.recordsPruned, receiptSeq: report.receiptSeq ?? 0 } });
    d.json(res, 200, report);
  };

  const exportH: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const roles = caller!.user.roles;
    const allowedByToken = (a: 'evidence.personal' | 'evidence.bodies') => may(roles, a) && (caller!.token === undefined || caller!.token.actions.includes(a));
    const q: EvidenceQuery = { fromTs: time(body.from, 'from'), toTs: time(body.to, 'to') };
    if (q.fromTs > q.toTs) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'from is after to');
    for (const k of ['principal', 'subject', 'objectId', 'operationId'] as const) {
      const v = str(body[k], k, false);
      if (v !== undefined) q[k] = v;
    }
    const purpose = str(body.purpose, 'purpose', false);
    // Every exported record is covered by a signed checkpoint made now.
    await parts.drained();
    await parts.checkpointer.checkpoint('manual');
    const dir = await mkdtemp(join(tmpdir(), 'rampart-evidence-'));
    const file = join(dir, 'evidence.tar.gz');
    try {
      const r = await exportEvidence(
        {
          storage,
          sealer: parts.crypto.sealer,
          ring: parts.crypto.ring,
          signerKey: parts.checkpointKey.signer,
          exporter: caller!.user.username,
          ...(purpose ? { purpose } : {}),
          includePersonal: allowedByToken('evidence.personal'),
          includeBodies: allowedByToken('evidence.bodies'),
          now: d.now,
        },
        q,
        file,
      );
      // Every export is itself a ledger record (who exported what), before the package leaves.
      await d.record({
        type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!),
        detail: { action: 'evidence.export', records: r.records, manifestSha256: r.manifestSha256, proofTreeSize: r.proofTreeSize, fromTs: q.fromTs, toTs: q.toTs, filtered: Boolean(q.principal ?? q.subject ?? q.objectId ?? q.operationId), personal: allowedByToken('evidence.personal'), bodies: allowedByToken('evidence.bodies') },
      });
      const size = (await stat(file)).size;
      res.writeHead(200, {
        'content-type': 'application/gzip',
        'content-length': String(size),
        'content-disposition': `attachment; filename="rampart-evidence-${new Date(d.now()).toISOString().replace(/[:.]/g, '-')}.tar.gz"`,
        'x-rampart-manifest-sha256': r.manifestSha256,
        'x-rampart-records': String(r.records),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      await new Promise<void>((resolve, reject) => {
        const s = createReadStream(file);
        s.on('error', reject);
        res.on('close', () => resolve());
        s.pipe(res);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  return [
    { method: 'GET', pattern: /^\/admin\/api\/ledger\/keys$/, action: 'audit.read', handler: keys },
    { method: 'POST', pattern: /^\/admin\/api\/ledger\/checkpoint$/, action: 'audit.read', handler: checkpoint },
    { method: 'POST', pattern: /^\/admin\/api\/ledger\/verify$/, action: 'audit.read', handler: verify },
    { method: 'GET', pattern: /^\/admin\/api\/holds$/, action: 'holds.read', handler: listHolds },
    { method: 'POST', pattern: /^\/admin\/api\/holds$/, action: 'holds.write', reauth: true, handler: createHold },
    { method: 'POST', pattern: /^\/admin\/api\/holds\/(hold_[A-Za-z0-9_-]{1,64})\/lift$/, action: 'holds.write', reauth: true, handler: lift },
    { method: 'POST', pattern: /^\/admin\/api\/ledger\/purge$/, action: 'retention.write', reauth: true, handler: purge },
    { method: 'POST', pattern: /^\/admin\/api\/evidence\/export$/, action: 'evidence.export', handler: exportH },
  ];
}

function str(v: unknown, name: string, required: boolean): string | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 512) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `${name}: a string of 1-512 characters`);
  return v;
}

function time(v: unknown, name: string): number {
  const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isSafeInteger(t) || t < 0) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `${name}: an ISO 8601 time or UTC milliseconds`);
  return t;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function badHold(err: unknown): never {
  const code = (err as { code?: string }).code;
  if (code === 'RAMPART_HOLD_INVALID') throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', (err as Error).message);
  if (code === 'RAMPART_HOLD_NOT_FOUND') throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND', (err as Error).message);
  throw err;
}

/** What the purge job needs from the admin plane's dependencies, with its clock. */
export function purgeContext(d: Pick<LedgerRouteDeps, 'storage' | 'parts' | 'ledger' | 'configHash'>, now: () => number): PurgeContext {
  const { storage, parts } = d;
  return {
    ledger: storage.ledger,
    checkpoints: storage.checkpoints,
    retention: storage.retention,
    dataKeys: storage.dataKeys,
    ring: parts.crypto.ring,
    sealer: parts.crypto.sealer,
    writer: d.ledger,
    configHash: d.configHash(),
    checkpointKey: { signer: parts.checkpointKey.signer, origin: parts.checkpointKey.origin },
    now,
  };
}
