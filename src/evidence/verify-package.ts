/**
 * `rampart evidence verify FILE --public-key KEY`: checks an evidence package offline, with the
 * checkpoint public key alone, and says precisely what, if anything, fails (R17a4-8, AU-9(3)).
 *
 * 1. The package is a well-formed .tar.gz within size bounds (a hostile file cannot exhaust memory).
 * 2. manifest.sig is a signed note by the given key over manifest.json's digest; every file's
 *    size and SHA-256 match the manifest; nothing is missing or added.
 * 3. Every checkpoint in checkpoints.jsonl verifies under the key; the proof checkpoint is there.
 * 4. Every record: its leaf hash is SHA-256(0x00 || canonical); the canonical text is the record
 *    shown; its inclusion proof leads from the leaf to the signed root (RFC 9162 §2.1.3.2); where
 *    the private part is included, it matches the record's salted commitment; where a captured
 *    body is complete and unredacted, it matches the body commitment.
 *
 * Nothing here trusts the package's own key list: only the key the examiner brings.
 */
import { hash } from 'node:crypto';
import { openCheckpoint, type Checkpoint } from '../ledger/checkpoint-note.js';
import { verifyBodyCommit, verifyPersonalCommit } from '../ledger/commit.js';
import { verifyInclusion } from '../ledger/merkle.js';
import { verifyNote } from '../ledger/signed-note.js';
import type { ExportedRecord } from './export.js';
import { checkManifest, checkManifestNoteBody, MANIFEST_NAME, parseManifest, SIGNATURE_NAME } from './manifest.js';
import { readTarGzAll } from './tar.js';

export interface PackageFinding {
  /** Which part failed: a file, `manifest`, `checkpoint <size>`, or `record <seq>`. */
  where: string;
  problem: string;
}

export interface PackageVerifyResult {
  ok: boolean;
  records: number;
  recordsProved: number;
  privateChecked: number;
  bodiesChecked: number;
  checkpoints: number;
  proofTreeSize: number;
  findings: PackageFinding[];
}

export interface PackageVerifyOptions {
  /** Largest package accepted, decompressed (default 4 GiB). */
  maxBytes?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function verifyEvidencePackage(file: string, verifierKeys: readonly string[], opts: PackageVerifyOptions = {}): Promise<PackageVerifyResult> {
  const maxTotal = opts.maxBytes ?? 4 * 1024 ** 3;
  const findings: PackageFinding[] = [];
  const result = (extra: Partial<PackageVerifyResult> = {}): PackageVerifyResult => ({
    ok: findings.length === 0,
    records: 0,
    recordsProved: 0,
    privateChecked: 0,
    bodiesChecked: 0,
    checkpoints: 0,
    proofTreeSize: 0,
    findings,
    ...extra,
  });

  const files = await readTarGzAll(file, { maxEntryBytes: Math.min(maxTotal, 2 ** 31 - 1), maxTotalBytes: maxTotal });
  const manifestBytes = files.get(MANIFEST_NAME);
  const sig = files.get(SIGNATURE_NAME);
  if (!manifestBytes || !sig) {
    findings.push({ where: 'manifest', problem: `the package has no ${!manifestBytes ? MANIFEST_NAME : SIGNATURE_NAME}` });
    return result();
  }
  try {
    checkManifestNoteBody(verifyNote(sig.toString('utf8'), verifierKeys), manifestBytes);
  } catch (err) {
    findings.push({ where: 'manifest', problem: `${SIGNATURE_NAME} does not verify under the given key: ${(err as Error).message}` });
    return result();
  }
  const manifest = parseManifest(manifestBytes);
  for (const p of checkManifest(manifestBytes, files).problems) findings.push({ where: p.file, problem: `${p.problem}: ${p.detail}` });
  const proofTreeSize = Number(manifest.meta.proofTreeSize ?? 0);

  // Checkpoints: each must verify under the examiner's key.
  const cps = new Map<number, Checkpoint>();
  const cpLines = lines(files.get('checkpoints.jsonl'));
  for (const [i, line] of cpLines.entries()) {
    let note: string;
    try {
      note = (JSON.parse(line) as { note: string }).note;
      const { checkpoint } = openCheckpoint(note, verifierKeys);
      cps.set(checkpoint.size, checkpoint);
    } catch (err) {
      findings.push({ where: `checkpoints.jsonl:${i + 1}`, problem: `does not verify under the given key: ${(err as Error).message}` });
    }
  }
  const root = cps.get(proofTreeSize)?.rootHash;
  if (proofTreeSize > 0 && !root) findings.push({ where: `checkpoint ${proofTreeSize}`, problem: 'the checkpoint the proofs lead to is missing or does not verify' });

  // Records.
  const recLines = lines(files.get('records.jsonl'));
  let proved = 0;
  let privateChecked = 0;
  let bodiesChecked = 0;
  for (const [i, line] of recLines.entries()) {
    let e: ExportedRecord;
    try {
      e = JSON.parse(line) as ExportedRecord;
    } catch {
      findings.push({ where: `records.jsonl:${i + 1}`, problem: 'not JSON' });
      continue;
    }
    const where = `record ${e.seq}`;
    const leaf = hash('sha256', `\u0000${e.canonical}`, 'hex');
    if (leaf !== e.leafHash) {
      findings.push({ where, problem: 'its canonical text does not hash to its leaf hash (the record was altered)' });
      continue;
    }
    let shown: Record<string, unknown>;
    try {
      shown = JSON.parse(e.canonical) as Record<string, unknown>;
    } catch {
      findings.push({ where, problem: 'its canonical text is not JSON' });
      continue;
    }
    if (shown.seq !== e.seq || JSON.stringify(sortKeys(shown)) !== JSON.stringify(sortKeys(e.record as unknown as Record<string, unknown>))) {
      findings.push({ where, problem: 'the record shown differs from the canonical text that was hashed' });
    }
    if (e.proof === null) {
      findings.push({ where, problem: 'no inclusion proof (written after the last signed checkpoint)' });
    } else if (!root || e.proof.treeSize !== proofTreeSize) {
      findings.push({ where, problem: `its proof is for tree size ${e.proof.treeSize}, which has no verified checkpoint here` });
    } else if (!verifyInclusion(Buffer.from(e.leafHash, 'hex'), e.seq - 1, e.proof.treeSize, e.proof.hashes.map((h) => Buffer.from(h, 'hex')), root)) {
      findings.push({ where, problem: `its inclusion proof does not lead to the signed root at size ${proofTreeSize}` });
    } else {
      proved++;
    }
    const p = e.private;
    const commit = (shown as { personalCommit?: string }).personalCommit;
    if (p && !('purged' in p) && p.personal && p.personalSalt && commit) {
      if (verifyPersonalCommit(p.personal, p.personalSalt, commit)) privateChecked++;
      else findings.push({ where, problem: 'its private part does not match the salted commitment in the record' });
    }
    for (const part of ['request', 'response'] as const) {
      const b = e.bodies?.[part];
      const salt = p && !('purged' in p) ? (part === 'request' ? p.requestBodySalt : p.responseBodySalt) : undefined;
      const mac = (shown as Record<string, unknown>)[`${part}BodyCommit`] as string | undefined;
      // Only a body kept whole can be checked against the commitment to the body that passed. A
      // JSON body was re-serialised when it was captured: it matches only when the original was
      // already compact, so a mismatch there is not a finding.
      if (!b || !salt || !mac || b.truncated || b.redacted.length > 0 || b.stored === undefined) continue;
      const bytes = b.encoding === 'base64' ? Buffer.from(b.stored, 'base64') : b.stored;
      if (verifyBodyCommit(bytes, { mac, salt })) bodiesChecked++;
      else if (b.encoding !== 'json' && b.encoding !== 'form') findings.push({ where, problem: `its captured ${part} body does not match the body commitment` });
    }
    opts.onProgress?.(i + 1, recLines.length);
  }
  if (Number(manifest.meta.records ?? recLines.length) !== recLines.length) {
    findings.push({ where: 'records.jsonl', problem: `the manifest says ${String(manifest.meta.records)} records, the file holds ${recLines.length}` });
  }
  return result({ records: recLines.length, recordsProved: proved, privateChecked, bodiesChecked, checkpoints: cps.size, proofTreeSize });
}

function lines(b: Buffer | undefined): string[] {
  if (!b) return [];
  return b.toString('utf8').split('\n').filter((l) => l.length > 0);
}

function sortKeys(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
}
