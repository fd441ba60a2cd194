/**
 * `rampart evidence export`: one package an examiner can verify offline with the checkpoint
 * public key alone (R17a4-8: human-readable and electronic, with an index; R17a4-4: each exchange
 * re-created as captured; R17a4-10). The package (a .tar.gz, ./tar.ts) holds:
 *
 *   records.jsonl        every matching record: the chained record and the exact canonical text
 *                        that was hashed, its leaf and chain hashes, an RFC 9162 inclusion proof
 *                        against the signed checkpoint, and (where the exporter's role allows)
 *                        the decrypted private part with its salt and the captured bodies
 *   records.csv          the same records as a sortable table (cells escaped against formula injection)
 *   checkpoints.jsonl    the signed checkpoint the proofs lead to, and those inside the range
 *   signing-keys.txt     every checkpoint verifier key in the store's history
 *   legal-holds.jsonl    holds that cover the range; purge-receipts.jsonl; verification.jsonl
 *   config-versions.jsonl the configuration hashes the records were decided under
 *   report.html          the human-readable report (./report-html.ts)
 *   manifest.json        every file's SHA-256 and size; manifest.sig: a signed note over it
 *
 * The caller (the gateway's admin plane, or the CLI with the gateway stopped) signs a checkpoint
 * just before, so every exported record is covered, and appends the export's own ledger record.
 */
import { hash } from 'node:crypto';
import { VERSION } from '../core/version.js';
import { openCheckpoint } from '../ledger/checkpoint-note.js';
import { TreeView, CompactRange } from '../ledger/merkle.js';
import type { CapturedBodyInput, PersonalFields, PrivatePart, StoredRecord } from '../ledger/record.js';
import type { Sealer } from '../ledger/sealer.js';
import { signNote } from '../ledger/signed-note.js';
import type { CheckpointRow, HoldCriteria, LedgerQuery, Storage } from '../storage/types.js';
import { activeHoldsAll } from './holds-view.js';
import { csvHeader, csvRow } from './csv.js';
import { buildManifest, manifestNoteBody, MANIFEST_NAME, SIGNATURE_NAME, type ManifestFile } from './manifest.js';
import { renderReport, type ReportData } from './report-html.js';
import { createTarWriter } from './tar.js';

export interface EvidenceQuery {
  fromTs: number;
  toTs: number;
  principal?: string;
  subject?: string;
  objectId?: string;
  operationId?: string;
}

export interface EvidenceContext {
  storage: Pick<Storage, 'ledger' | 'checkpoints' | 'retention'>;
  sealer: Sealer;
  ring: Parameters<typeof activeHoldsAll>[1];
  /** Signs the manifest (the checkpoint key: one public key verifies everything). */
  signerKey: string;
  /** Who exports (an admin user name), shown in the report and the manifest. */
  exporter: string;
  purpose?: string;
  /** Decrypted private parts (principals, addresses, object ids) go into the package. */
  includePersonal: boolean;
  /** Captured bodies (as stored: redacted and capped per policy) go into the package. */
  includeBodies: boolean;
  onProgress?: (done: number, total: number) => void;
  now?: () => number;
}

export interface EvidenceResult {
  records: number;
  bytes: number;
  /** hex SHA-256 of manifest.json (the export's ledger record names it). */
  manifestSha256: string;
  proofTreeSize: number;
}

/** Records per package at most: an export is for an examiner, not a backup. */
export const MAX_EXPORT_RECORDS = 2_000_000;

export interface ExportedRecord {
  seq: number;
  time: string;
  record: StoredRecord['record'];
  canonical: string;
  leafHash: string;
  chainHash: string;
  proof: { treeSize: number; leafIndex: number; hashes: string[] } | null;
  private?: { personal?: PersonalFields; personalSalt?: string; requestBodySalt?: string; responseBodySalt?: string } | { purged: true };
  bodies?: { request?: CapturedBodyInput; response?: CapturedBodyInput };
}

export async function exportEvidence(ctx: EvidenceContext, q: EvidenceQuery, outPath: string): Promise<EvidenceResult> {
  const now = (ctx.now ?? Date.now)();
  const { ledger, checkpoints, retention } = ctx.storage;
  const prune = await retention.pruneState();
  const prunedThrough = prune?.seq ?? 0;

  // The checkpoint the proofs lead to: the newest one.
  const proofCp = await checkpoints.latestCheckpoint();
  const proofSize = proofCp?.treeSize ?? 0;

  // 1. The matching records.
  const tags: Buffer[] = [];
  if (q.principal !== undefined) tags.push(ctx.sealer.tag('principal', q.principal));
  if (q.subject !== undefined) tags.push(ctx.sealer.tag('subject', q.subject));
  if (q.objectId !== undefined) tags.push(ctx.sealer.tag('object', q.objectId));
  const base: LedgerQuery = { limit: 10_000, fromTs: q.fromTs, toTs: q.toTs, ...(tags.length ? { tags } : {}), ...(q.operationId ? { operationId: q.operationId } : {}) };
  const records: StoredRecord[] = [];
  for (let afterSeq: number | undefined; ; ) {
    const page = await ledger.search({ ...base, ...(afterSeq !== undefined ? { afterSeq } : {}) });
    // The export stops at the signed checkpoint: every record in it has an inclusion proof
    // (records appended since are for the next export; the manifest names proofTreeSize).
    for (const r of page) if (r.record.seq <= proofSize) records.push(r);
    if (records.length > MAX_EXPORT_RECORDS) throw Object.assign(new Error(`evidence export: more than ${MAX_EXPORT_RECORDS} records match; narrow the range or filters`), { code: 'RAMPART_EVIDENCE_TOO_LARGE' });
    if (page.length < 10_000 || page[page.length - 1]!.record.seq >= proofSize) break;
    afterSeq = page[page.length - 1]!.record.seq;
  }
  const total = records.length;
  ctx.onProgress?.(0, total);

  // 2. The Merkle tree up to the proof checkpoint, from the prune point's compact range.
  let view: TreeView | undefined;
  if (proofCp && records.some((r) => r.record.seq <= proofSize)) {
    const leaves: Buffer[] = [];
    for (let next = prunedThrough + 1; next <= proofSize; ) {
      const page = await ledger.readLeaves(next, Math.min(50_000, proofSize - next + 1));
      if (page.length === 0) break;
      for (const l of page) leaves.push(Buffer.from(l.leafHash, 'hex'));
      next = page[page.length - 1]!.seq + 1;
    }
    const prefix = prune ? CompactRange.fromNodes(prune.seq, prune.compactRange.map((h) => Buffer.from(h, 'hex'))) : undefined;
    view = new TreeView({ ...(prefix ? { prefix } : {}), leaves });
    if (!view.root(proofSize).equals(Buffer.from(proofCp.rootHash, 'hex'))) {
      throw Object.assign(new Error(`evidence export: the stored records do not give the root of the signed checkpoint at size ${proofSize}; run rampart audit verify`), { code: 'RAMPART_LEDGER_BROKEN' });
    }
  }

  // 3. records.jsonl and records.csv, page by page.
  const jsonl: string[] = [];
  const csv: string[] = [csvHeader(CSV_COLUMNS)];
  const reportRows: string[][] = [];
  for (let i = 0; i < records.length; i += 1000) {
    const page = records.slice(i, i + 1000);
    const seqs = page.map((r) => r.record.seq);
    const privs = new Map<number, PrivatePart | 'purged'>();
    if (ctx.includePersonal) {
      for (const p of await ledger.readPrivate(seqs)) {
        try {
          privs.set(p.seq, await ctx.sealer.openPrivate(p));
        } catch (err) {
          if ((err as { code?: string }).code !== 'RAMPART_DATA_KEY_GONE') throw err;
          privs.set(p.seq, 'purged');
        }
      }
    }
    const bodies = new Map<number, NonNullable<ExportedRecord['bodies']>>();
    if (ctx.includeBodies) {
      for (const b of await ledger.readBodies(seqs)) {
        try {
          const opened = await ctx.sealer.openBody(b);
          const m = bodies.get(b.seq) ?? {};
          m[b.part] = opened;
          bodies.set(b.seq, m);
        } catch (err) {
          if ((err as { code?: string }).code !== 'RAMPART_DATA_KEY_GONE') throw err;
        }
      }
    }
    for (const r of page) {
      const seq = r.record.seq;
      const p = privs.get(seq);
      const e: ExportedRecord = {
        seq,
        time: new Date(r.record.ts).toISOString(),
        record: r.record,
        canonical: r.canonical,
        leafHash: r.leafHash,
        chainHash: r.chainHash,
        proof: view && seq <= proofSize ? { treeSize: proofSize, leafIndex: seq - 1, hashes: view.inclusionProof(seq - 1, proofSize).map((h) => h.toString('hex')) } : null,
      };
      if (p === 'purged') e.private = { purged: true };
      else if (p) e.private = { ...(p.personal ? { personal: p.personal } : {}), ...(p.personalSalt ? { personalSalt: p.personalSalt } : {}), ...(p.requestBodySalt ? { requestBodySalt: p.requestBodySalt } : {}), ...(p.responseBodySalt ? { responseBodySalt: p.responseBodySalt } : {}) };
      const b = bodies.get(seq);
      if (b) e.bodies = b;
      jsonl.push(JSON.stringify(e));
      const personal = p && p !== 'purged' ? p.personal : undefined;
      const row = csvCells(r, personal);
      csv.push(csvRow(row));
      reportRows.push(row.map((c) => (c === undefined || c === null ? '' : String(c))));
    }
    ctx.onProgress?.(Math.min(i + page.length, total), total);
  }

  // 4. Checkpoints, keys, holds, receipts, verification results, configuration versions.
  const cpRows: CheckpointRow[] = [];
  const firstSeq = records[0]?.record.seq ?? proofSize;
  const lastSeq = records[records.length - 1]?.record.seq ?? proofSize;
  for (let from = Math.max(prunedThrough, firstSeq); ; ) {
    const page = await checkpoints.listCheckpoints(from, Math.max(lastSeq, proofSize), 1000);
    cpRows.push(...page);
    if (page.length < 1000) break;
    from = page[page.length - 1]!.treeSize + 1;
  }
  if (proofCp && !cpRows.some((c) => c.treeSize === proofCp.treeSize && c.kind === proofCp.kind)) cpRows.push(proofCp);
  if (prune) {
    const pc = cpRows.find((c) => c.kind === 'prune' && c.treeSize === prune.seq);
    if (!pc) cpRows.unshift({ treeSize: prune.seq, ts: 0, kind: 'prune', rootHash: '', chainHash: prune.chainHash, note: prune.note, compactRange: prune.compactRange });
  }
  const keys = (await checkpoints.listSigningKeys()).map((k) => k.verifierKey);
  const holds = await activeHoldsAll(retention, ctx.ring);
  const systemEvents: StoredRecord[] = [];
  for (let afterSeq: number | undefined; ; ) {
    const page = await ledger.search({ type: 'system.event', fromTs: q.fromTs, toTs: q.toTs, limit: 10_000, ...(afterSeq !== undefined ? { afterSeq } : {}) });
    systemEvents.push(...page);
    if (page.length < 10_000) break;
    afterSeq = page[page.length - 1]!.record.seq;
  }
  const receipts = systemEvents.filter((r) => r.record.detail?.event === 'ledger.purged');
  const verifications = [...systemEvents, ...(await ledger.search({ type: 'security.event', fromTs: q.fromTs, toTs: q.toTs, reason: 'RAMPART_LEDGER_VERIFY_FAILED', limit: 10_000 }))].filter((r) => r.record.detail?.event === 'ledger.verified');
  const configs = [...new Set(records.map((r) => r.record.configHash))];

  const files: { name: string; data: Buffer }[] = [];
  const add = (name: string, text: string): void => {
    files.push({ name, data: Buffer.from(text, 'utf8') });
  };
  add('records.jsonl', jsonl.length ? `${jsonl.join('\n')}\n` : '');
  add('records.csv', csv.join(''));
  add('checkpoints.jsonl', cpRows.map((c) => JSON.stringify({ treeSize: c.treeSize, kind: c.kind, ts: c.ts, note: c.note })).join('\n') + (cpRows.length ? '\n' : ''));
  add('signing-keys.txt', keys.map((k) => `${k}\n`).join(''));
  add('legal-holds.jsonl', holds.map((h) => JSON.stringify(h)).join('\n') + (holds.length ? '\n' : ''));
  add('purge-receipts.jsonl', receipts.map((r) => JSON.stringify({ seq: r.record.seq, time: new Date(r.record.ts).toISOString(), detail: r.record.detail })).join('\n') + (receipts.length ? '\n' : ''));
  add('verification.jsonl', verifications.map((r) => JSON.stringify({ seq: r.record.seq, time: new Date(r.record.ts).toISOString(), outcome: r.record.outcome, detail: r.record.detail })).join('\n') + (verifications.length ? '\n' : ''));
  add('config-versions.jsonl', configs.map((h) => JSON.stringify({ configHash: h })).join('\n') + (configs.length ? '\n' : ''));

  const filters = [
    ...(q.principal !== undefined ? [{ name: 'principal', value: q.principal }] : []),
    ...(q.subject !== undefined ? [{ name: 'subject', value: q.subject }] : []),
    ...(q.objectId !== undefined ? [{ name: 'object id', value: q.objectId }] : []),
    ...(q.operationId !== undefined ? [{ name: 'operation', value: q.operationId }] : []),
  ];
  const report: ReportData = {
    scope: { from: q.fromTs, to: q.toTs, filters, exportedBy: ctx.exporter, exportedAt: now, recordCount: total, ...(ctx.purpose ? { purpose: ctx.purpose } : {}) },
    verification: {
      chainOk: view !== undefined || total === 0,
      recordsChecked: total,
      checkpointsVerified: cpRows.filter((c) => verifiesUnder(c.note, keys)).length,
      checkpointsTotal: cpRows.length,
      publishedHeadsMatched: 0,
      publishedHeadsTotal: 0,
      verifiedAt: now,
    },
    checkpoints: cpRows.map((c) => ({ treeSize: c.treeSize, rootHash: c.rootHash, time: c.ts, signer: keys[keys.length - 1]?.split('+')[0] ?? '', signatureOk: verifiesUnder(c.note, keys) })),
    records: { columns: CSV_COLUMNS, rows: reportRows.slice(0, 500), total },
    legalHolds: holds.map((h) => ({ id: h.id, scope: describeCriteria(h.criteria), reason: h.reason ?? '', placedBy: h.createdBy, placedAt: h.createdAt, releasedBy: h.liftedBy ?? null, releasedAt: h.liftedAt ?? null })),
    purgeReceipts: receipts.map((r) => ({
      seq: r.record.seq,
      period: String(r.record.detail?.expiryDays ?? ''),
      recordClass: 'all',
      records: Number(r.record.detail?.recordsPruned ?? 0),
      purgedBy: 'retention job',
      purgedAt: r.record.ts,
    })),
    configVersions: configs.map((h, i) => ({ version: i + 1, hash: h, appliedBy: '(configuration versions: issue 6)', appliedAt: '', approvers: [] })),
    generator: `Rampart ${VERSION}`,
  };
  add('report.html', renderReport(report));

  const manifestFiles: ManifestFile[] = files.map((f) => ({ name: f.name, sha256: hash('sha256', f.data, 'hex'), bytes: f.data.length }));
  const manifest = buildManifest(
    {
      exportedBy: ctx.exporter,
      exportedAt: new Date(now).toISOString(),
      query: { from: new Date(q.fromTs).toISOString(), to: new Date(q.toTs).toISOString(), ...Object.fromEntries(filters.map((f) => [f.name, f.value])) },
      records: total,
      proofTreeSize: proofSize,
      prunedThrough,
      includePersonal: ctx.includePersonal,
      includeBodies: ctx.includeBodies,
      generator: `Rampart ${VERSION}`,
    },
    manifestFiles,
  );
  const sig = signNote(manifestNoteBody(manifest), [ctx.signerKey]);
  const tar = createTarWriter(outPath);
  try {
    for (const f of files) await tar.add(f.name, f.data, now);
    await tar.add(MANIFEST_NAME, manifest, now);
    await tar.add(SIGNATURE_NAME, sig, now);
    const { bytes } = await tar.close();
    return { records: total, bytes, manifestSha256: hash('sha256', manifest, 'hex'), proofTreeSize: proofSize };
  } catch (err) {
    await tar.abort().catch(() => {});
    throw err;
  }
}

const CSV_COLUMNS = ['seq', 'time', 'type', 'operation', 'method', 'route', 'status', 'outcome', 'stage', 'reason', 'keyId', 'authMethod', 'principal', 'subject', 'clientAddress', 'objectIds', 'requestId', 'configHash'];

function csvCells(r: StoredRecord, p: PersonalFields | undefined): (string | number | undefined)[] {
  const x = r.record;
  return [
    x.seq, new Date(x.ts).toISOString(), x.type, x.operationId, x.method, x.route, x.status, x.outcome, x.stage, x.reason, x.keyId, x.authMethod,
    p?.principal, p?.subject, p?.clientAddress, p?.pathParams ? Object.values(p.pathParams).join(' ') : undefined, x.requestId, x.configHash,
  ];
}

function verifiesUnder(note: string, keys: readonly string[]): boolean {
  try {
    openCheckpoint(note, keys);
    return true;
  } catch {
    return false;
  }
}

export function describeCriteria(c: HoldCriteria): string {
  const parts: string[] = [];
  if (c.principal !== undefined) parts.push(`principal ${c.principal}`);
  if (c.subject !== undefined) parts.push(`subject ${c.subject}`);
  if (c.objectId !== undefined) parts.push(`object ${c.objectId}`);
  if (c.operationId !== undefined) parts.push(`operation ${c.operationId}`);
  if (c.fromTs !== undefined) parts.push(`from ${new Date(c.fromTs).toISOString()}`);
  if (c.toTs !== undefined) parts.push(`to ${new Date(c.toTs).toISOString()}`);
  return parts.join(', ');
}
