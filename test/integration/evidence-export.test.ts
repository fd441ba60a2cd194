/**
 * Evidence packages for examiners (R17a4-8: human-readable and electronic copies with an index;
 * R17a4-10: true and complete copies; R17a4-4: an exchange re-created as captured; AU-9(3)), on a
 * real gateway with a real SQLite ledger and real traffic (allowed and denied, two keys over two
 * data subjects, hostile principal names and path parameters).
 *
 * What is guaranteed here:
 * - a package verifies offline with the checkpoint public key alone: every record proved against
 *   the signed checkpoint, every private part checked against its salted commitment;
 * - filtered exports (subject, principal, operation) hold exactly the matching records;
 * - tampering is caught with a finding that names what was changed: a file (manifest digest), the
 *   manifest (signature), a record (leaf hash, inclusion proof, shown vs hashed text, private part,
 *   count); a package forged end to end under another key fails under the real one;
 * - CSV cells are neutralised against formula injection and report.html carries no raw markup;
 * - an empty range exports and verifies.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { join } from 'node:path';
import { exportEvidence, type EvidenceContext, type EvidenceQuery, type ExportedRecord } from '../../src/evidence/export.js';
import { buildManifest, manifestNoteBody, MANIFEST_NAME, parseManifest, SIGNATURE_NAME } from '../../src/evidence/manifest.js';
import { createTarWriter, readTarGzAll } from '../../src/evidence/tar.js';
import { verifyEvidencePackage } from '../../src/evidence/verify-package.js';
import { openCheckpoint, signCheckpoint } from '../../src/ledger/checkpoint-note.js';
import { TreeView } from '../../src/ledger/merkle.js';
import { generateNoteKey, signNote } from '../../src/ledger/signed-note.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const LIMITS = { maxEntryBytes: 1 << 30, maxTotalBytes: 1 << 30 };
const CSV_EVIL = '=HYPERLINK("http://evil")';
const PATH_EVIL = '=HYPERLINK("http:evil")';
const HTML_EVIL_PRINCIPAL = '<script>alert(1)</script>';
const HTML_EVIL_PARAM = '<script>alert(2)';
const ORDER = { symbol: 'ACME', side: 'buy', quantity: 10 };

const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const sha256 = (b: Buffer | string): string => hash('sha256', b, 'hex');

type Files = Map<string, Buffer>;

function recordsOf(files: Files): ExportedRecord[] {
  const text = files.get('records.jsonl')?.toString('utf8') ?? assert.fail('the package has no records.jsonl');
  return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as ExportedRecord);
}

function withRecords(files: Files, records: readonly ExportedRecord[]): Files {
  const out = new Map(files);
  out.set('records.jsonl', Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8'));
  return out;
}

/** Writes `files` as a package in the given order (the tar writer is the exporter's own). */
async function writePackage(path: string, files: Files): Promise<string> {
  const tar = createTarWriter(path);
  for (const [name, data] of files) await tar.add(name, data);
  await tar.close();
  return path;
}

/** manifest.json recomputed over the (changed) files, keeping the exporter's metadata. */
function remanifest(files: Files): Files {
  const old = parseManifest(files.get(MANIFEST_NAME)!);
  const listed = [...files].filter(([n]) => n !== MANIFEST_NAME && n !== SIGNATURE_NAME).map(([name, data]) => ({ name, sha256: sha256(data), bytes: data.length }));
  const out = new Map(files);
  out.set(MANIFEST_NAME, Buffer.from(buildManifest(old.meta, listed), 'utf8'));
  return out;
}

function resign(files: Files, signerKey: string): Files {
  const out = new Map(files);
  out.set(SIGNATURE_NAME, Buffer.from(signNote(manifestNoteBody(files.get(MANIFEST_NAME)!), [signerKey]), 'utf8'));
  return out;
}

/** `name+hash` of a verifier key (how a signature line names its key). */
const keyId = (verifierKey: string): string => verifierKey.split('+').slice(0, 2).join('+');

let t: TestGateway;
let out: { path: string; remove(): void };
let ctx: EvidenceContext;
let verifier: string;
let signer: string;
let range: EvidenceQuery;
let full: { file: string; files: Files; records: ExportedRecord[]; result: Awaited<ReturnType<typeof exportEvidence>> };
let orderRequestId: string;
let n = 0;

async function exportTo(q: EvidenceQuery, over: Partial<EvidenceContext> = {}): Promise<{ file: string; files: Files; records: ExportedRecord[]; result: Awaited<ReturnType<typeof exportEvidence>> }> {
  const file = join(out.path, `pkg-${n++}.tar.gz`);
  const result = await exportEvidence({ ...ctx, ...over }, q, file);
  const files = await readTarGzAll(file, LIMITS);
  return { file, files, records: recordsOf(files), result };
}

before(async () => {
  out = tempDir('rampart-evidence-');
  const fromTs = Date.now();
  // No timer checkpoints or self-verification records: the test signs the checkpoint it proves against.
  t = await startTestGateway({ yaml: { ledger: { checkpoints: { intervalSeconds: 3600 }, selfVerify: { intervalSeconds: 0 } }, authThrottle: { maxFailures: 100, windowSeconds: 60 } } });
  const alice = (await t.key(['accounts:read'], { subject: 'cus_1', name: 'alice' })).key;
  const bob = (await t.key(['accounts:read', 'orders:write'], { subject: 'cus_2', name: 'bob' })).key;
  const csvEvil = (await t.key(['accounts:read'], { subject: 'cus_3', name: CSV_EVIL })).key;
  const htmlEvil = (await t.key(['accounts:read'], { subject: 'cus_4', name: HTML_EVIL_PRINCIPAL })).key;
  const expect = async (status: number, method: string, path: string, o: { headers?: Record<string, string>; body?: string } = {}) => {
    const r = await t.request(method, path, o);
    assert.equal(r.status, status, `${method} ${path}: ${r.body.toString()}`);
    return r;
  };
  await expect(200, 'GET', '/accounts', { headers: bearer(alice) });
  await expect(200, 'GET', '/accounts/acc_1', { headers: bearer(alice) });
  await expect(403, 'POST', '/accounts/acc_1/orders', { headers: { ...bearer(alice), 'content-type': 'application/json' }, body: JSON.stringify(ORDER) });
  await expect(400, 'GET', '/accounts?limit=1000', { headers: bearer(bob) });
  const order = await expect(201, 'POST', '/accounts/acc_2/orders', { headers: { ...bearer(bob), 'content-type': 'application/json' }, body: JSON.stringify(ORDER) });
  orderRequestId = String(order.headers['x-request-id']);
  await expect(401, 'GET', '/accounts');
  await expect(200, 'GET', '/accounts', { headers: bearer(csvEvil) });
  // The route stage names the path parameter before validation refuses it: the denial carries it.
  await expect(400, 'GET', '/accounts/=HYPERLINK(%22http:evil%22)', { headers: bearer(csvEvil) });
  await expect(200, 'GET', '/accounts', { headers: bearer(htmlEvil) });
  await expect(400, 'GET', '/accounts/%3Cscript%3Ealert(2)', { headers: bearer(htmlEvil) });
  const parts = t.gw.ledgerParts ?? assert.fail('the gateway runs without a ledger');
  await parts.drained();
  range = { fromTs, toTs: Date.now() };
  await parts.checkpointer.checkpoint('manual');
  verifier = parts.checkpointKey.verifier;
  signer = parts.checkpointKey.signer;
  ctx = { storage: t.gw.storage, sealer: parts.crypto.sealer, ring: parts.crypto.ring, signerKey: signer, exporter: 'examiner-1', purpose: 'exam 2024-17', includePersonal: true, includeBodies: true };
  full = await exportTo(range);
});

after(async () => {
  await t?.close();
  out?.remove();
});

describe('a full export', () => {
  it('verifies offline with the checkpoint key alone: every record proved, every private part checked (R17a4-8, AU-9(3))', async () => {
    const inStore = await t.gw.storage.ledger.search({ fromTs: range.fromTs, toTs: range.toTs, limit: 10_000 });
    // gateway.started, 5 allowed exchanges (decision + completion), 5 denials (decision only).
    assert.equal(inStore.length, 1 + 5 * 2 + 5, 'all the traffic was recorded');
    assert.equal(full.result.records, inStore.length, 'every record of the range is exported');
    assert.deepEqual(full.records.map((r) => r.seq), inStore.map((r) => r.record.seq));
    const cp = await t.gw.storage.checkpoints.latestCheckpoint();
    assert.equal(full.result.proofTreeSize, cp?.treeSize);

    const v = await verifyEvidencePackage(full.file, [verifier]);
    assert.deepEqual(v.findings, []);
    assert.equal(v.ok, true);
    assert.equal(v.records, full.result.records);
    assert.equal(v.recordsProved, v.records, 'every record is proved against the signed checkpoint');
    const withCommit = full.records.filter((r) => r.private && 'personal' in r.private && r.private.personal && (r.record as { personalCommit?: string }).personalCommit);
    assert.ok(v.privateChecked > 0);
    assert.equal(v.privateChecked, withCommit.length, 'every included private part is checked against its commitment');
    assert.equal(v.proofTreeSize, cp?.treeSize);

    const names = [...full.files.keys()].sort();
    assert.deepEqual(names, ['checkpoints.jsonl', 'config-versions.jsonl', 'legal-holds.jsonl', MANIFEST_NAME, SIGNATURE_NAME, 'purge-receipts.jsonl', 'records.csv', 'records.jsonl', 'report.html', 'signing-keys.txt', 'verification.jsonl'].sort());
    const manifest = parseManifest(full.files.get(MANIFEST_NAME)!);
    assert.equal(manifest.meta.exportedBy, 'examiner-1');
    assert.equal(manifest.meta.records, full.result.records);
    assert.equal(sha256(full.files.get(MANIFEST_NAME)!), full.result.manifestSha256);
    assert.deepEqual(full.files.get('signing-keys.txt')!.toString('utf8').trim().split('\n'), [verifier]);
  });

  it('without personal fields it still verifies, and holds no private part', async () => {
    const p = await exportTo(range, { includePersonal: false, includeBodies: false });
    assert.ok(p.records.every((r) => r.private === undefined && r.bodies === undefined));
    assert.ok(!p.files.get('records.csv')!.toString('utf8').includes('alice'), 'no principal in the CSV');
    const v = await verifyEvidencePackage(p.file, [verifier]);
    assert.deepEqual(v.findings, []);
    assert.equal(v.recordsProved, p.records.length);
    assert.equal(v.privateChecked, 0);
  });
});

describe('filtered exports hold exactly the matching records', () => {
  const personalOf = (r: ExportedRecord) => (r.private && 'personal' in r.private ? r.private.personal : undefined);
  const cases: { name: string; q: Partial<EvidenceQuery>; match: (r: ExportedRecord) => boolean }[] = [
    { name: 'subject cus_1', q: { subject: 'cus_1' }, match: (r) => personalOf(r)?.subject === 'cus_1' || personalOf(r)?.extra?.owner === 'cus_1' },
    { name: 'principal bob', q: { principal: 'bob' }, match: (r) => personalOf(r)?.principal === 'bob' },
    { name: 'operation getAccount', q: { operationId: 'getAccount' }, match: (r) => r.record.operationId === 'getAccount' },
    { name: 'subject cus_2 and operation placeOrder', q: { subject: 'cus_2', operationId: 'placeOrder' }, match: (r) => personalOf(r)?.subject === 'cus_2' && r.record.operationId === 'placeOrder' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const expected = full.records.filter(c.match).map((r) => r.seq);
      assert.ok(expected.length > 0 && expected.length < full.records.length, `the filter is selective: ${expected.length} of ${full.records.length}`);
      const p = await exportTo({ ...range, ...c.q });
      assert.deepEqual(p.records.map((r) => r.seq), expected);
      assert.equal(p.result.records, expected.length);
      const v = await verifyEvidencePackage(p.file, [verifier]);
      assert.deepEqual(v.findings, []);
      assert.equal(v.recordsProved, expected.length);
      const meta = parseManifest(p.files.get(MANIFEST_NAME)!).meta;
      const query = meta.query as Record<string, string>;
      if (c.q.subject) assert.equal(query.subject, c.q.subject, 'the manifest names the filter');
      if (c.q.principal) assert.equal(query.principal, c.q.principal);
      if (c.q.operationId) assert.equal(query.operation, c.q.operationId);
    });
  }
});

it('an exported exchange re-creates what was captured: decision and completion, bodies, private part checked (R17a4-4)', async () => {
  const both = full.records.filter((r) => r.record.requestId === orderRequestId);
  assert.deepEqual(both.map((r) => r.record.type), ['exchange.decision', 'exchange.completion']);
  const [decision, completion] = both as [ExportedRecord, ExportedRecord];
  assert.equal(completion.record.decisionSeq, decision.seq);
  assert.equal(decision.record.outcome, 'allow');
  assert.equal(completion.record.status, 201);
  assert.equal(decision.record.operationId, 'placeOrder');
  for (const r of both) {
    assert.ok(r.private && 'personal' in r.private, `record ${r.seq} carries its private part`);
    assert.equal(r.private.personal?.principal, 'bob');
    assert.deepEqual(r.private.personal?.pathParams, { accountId: 'acc_2' });
    assert.ok(r.private.personalSalt);
  }
  // Body capture (issue 4): the request as it passed, the response as the client got it.
  const req = decision.bodies?.request ?? assert.fail('the decision carries the captured request body');
  assert.deepEqual(JSON.parse(req.stored!), ORDER);
  const res = completion.bodies?.response ?? assert.fail('the completion carries the captured response body');
  const upstreamSaw = JSON.parse(res.stored!) as { url: string; body: string };
  assert.equal(upstreamSaw.url, '/accounts/acc_2/orders');
  assert.deepEqual(JSON.parse(upstreamSaw.body), ORDER);

  // The two records alone, in a package of their own, verify with their commitments checked.
  const p = await exportTo({ ...range, principal: 'bob', operationId: 'placeOrder' });
  assert.deepEqual(p.records.map((r) => r.seq), [decision.seq, completion.seq]);
  const v = await verifyEvidencePackage(p.file, [verifier]);
  assert.deepEqual(v.findings, []);
  assert.equal(v.recordsProved, 2);
  assert.equal(v.privateChecked, 2, 'both private parts match their salted commitments');
});

it('records.csv neutralises formula injection from principals and path parameters', () => {
  const csv = full.files.get('records.csv')!.toString('utf8');
  const rows = csv.split('\r\n');
  assert.equal(rows[0], 'seq,time,type,operation,method,route,status,outcome,stage,reason,keyId,authMethod,principal,subject,clientAddress,objectIds,requestId,configHash');
  assert.equal(rows.length, full.records.length + 2, 'a header, one row per record, and the final CRLF');
  // The hostile principal: quoted, prefixed with ', inner quotes doubled.
  assert.ok(csv.includes(`,"'=HYPERLINK(""http://evil"")",cus_3,`), 'the principal cell is neutralised');
  // The hostile path parameter (the object id of the 400 denial).
  assert.ok(csv.includes(`,"'=HYPERLINK(""http:evil"")",`), 'the object id cell is neutralised');
  // No cell anywhere starts with a formula trigger.
  for (const row of rows) assert.doesNotMatch(row, /(^|,)[=+\-@]/, `a raw formula cell in: ${row}`);
  const evilRecords = full.records.filter((r) => r.private && 'personal' in r.private && r.private.personal?.principal === CSV_EVIL);
  assert.equal(evilRecords.length, 3, 'the hostile principal made two records for its 200 and one for its 400');
  assert.ok(evilRecords.some((r) => r.private && 'personal' in r.private && r.private.personal?.pathParams?.accountId === PATH_EVIL));
});

it('report.html names the record count and the verify command, and shows hostile values as text only', () => {
  const html = full.files.get('report.html')!.toString('utf8');
  assert.match(html, new RegExp(`<dt>Records in scope</dt><dd>${full.records.length}</dd>`));
  assert.match(html, /rampart evidence verify \S+ --public-key \S+/);
  assert.ok(html.includes('examiner-1') && html.includes('exam 2024-17'), 'who exported and why');
  assert.doesNotMatch(html, /<script/i, 'no script element, whatever the records hold');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the hostile principal is shown escaped');
  assert.ok(full.records.some((r) => r.private && 'personal' in r.private && r.private.personal?.pathParams?.accountId === HTML_EVIL_PARAM), 'a record names the hostile path parameter');
  assert.ok(html.includes(HTML_EVIL_PARAM.replace('<', '&lt;').replace('>', '&gt;')), 'the hostile path parameter is shown escaped');
});

it('an empty range exports and verifies: 0 records, the checkpoint still there', async () => {
  const p = await exportTo({ fromTs: range.fromTs - 3_600_000, toTs: range.fromTs - 1 });
  assert.equal(p.result.records, 0);
  assert.equal(p.records.length, 0);
  assert.equal(p.files.get('records.jsonl')!.length, 0);
  const v = await verifyEvidencePackage(p.file, [verifier]);
  assert.deepEqual(v.findings, []);
  assert.equal(v.ok, true);
  assert.equal(v.records, 0);
  assert.equal(v.recordsProved, 0);
  assert.ok(v.checkpoints >= 1, 'the proof checkpoint is in the package and verifies');
  assert.match(p.files.get('report.html')!.toString('utf8'), /<dt>Records in scope<\/dt><dd>0<\/dd>/);
});

describe('tampering is caught, with a finding that names it', () => {
  const pkg = (name: string) => join(out.path, `tampered-${name}.tar.gz`);

  it('(a) a byte flipped in records.jsonl: the manifest digest of records.jsonl', async () => {
    const text = full.files.get('records.jsonl')!.toString('utf8');
    const at = text.indexOf('"time":"2') + '"time":"'.length;
    const flipped = Buffer.from(`${text.slice(0, at)}3${text.slice(at + 1)}`, 'utf8');
    assert.equal(flipped.length, full.files.get('records.jsonl')!.length, 'same size: only the digest can tell');
    const files = new Map(full.files).set('records.jsonl', flipped);
    const v = await verifyEvidencePackage(await writePackage(pkg('a'), files), [verifier]);
    assert.equal(v.ok, false);
    assert.deepEqual(v.findings, [{ where: 'records.jsonl', problem: `digest-mismatch: the manifest says sha256 ${sha256(full.files.get('records.jsonl')!)}, the contents hash to ${sha256(flipped)}` }]);
  });

  it('(b) a status changed and manifest.json recomputed, the old manifest.sig kept: the signature', async () => {
    const records = full.records.map((r) => structuredClone(r));
    const victim = records.find((r) => r.record.status === 200) ?? assert.fail('a completion with status 200');
    victim.record.status = 299;
    victim.canonical = victim.canonical.replace('"status":200', '"status":299');
    const files = remanifest(withRecords(full.files, records));
    const v = await verifyEvidencePackage(await writePackage(pkg('b'), files), [verifier]);
    assert.equal(v.ok, false);
    assert.deepEqual(v.findings, [
      { where: 'manifest', problem: `manifest.sig does not verify under the given key: the signed note covers a manifest with sha256 ${full.result.manifestSha256}, but manifest.json hashes to ${sha256(files.get(MANIFEST_NAME)!)}` },
    ]);
  });

  it('(c) the untouched package, verified with another key: the signature', async () => {
    const other = generateNoteKey('examiner-other');
    const v = await verifyEvidencePackage(full.file, [other.verifierKey]);
    assert.equal(v.ok, false);
    assert.deepEqual(v.findings, [{ where: 'manifest', problem: `manifest.sig does not verify under the given key: the note is signed by no known key (signatures from: ${keyId(verifier)})` }]);
  });

  it('(d) a package forged end to end under an attacker key (record, proofs, checkpoint, manifest): fails under the real key', async () => {
    // The attacker rewrites a record, rebuilds the tree over every exported leaf, signs a new
    // checkpoint and manifest with a key of the same name. The package is then consistent in
    // itself: only the examiner's key tells it apart.
    const records = full.records.map((r) => structuredClone(r));
    assert.deepEqual(records.map((r) => r.seq), Array.from({ length: full.result.proofTreeSize }, (_, i) => i + 1), 'the full export holds every leaf of the proof tree');
    const victim = records.find((r) => r.record.status === 200) ?? assert.fail('a completion with status 200');
    victim.record.status = 299;
    victim.canonical = victim.canonical.replace('"status":200', '"status":299');
    victim.leafHash = sha256(`\u0000${victim.canonical}`);
    const size = full.result.proofTreeSize;
    const view = new TreeView({ leaves: records.map((r) => Buffer.from(r.leafHash, 'hex')) });
    for (const r of records) r.proof = { treeSize: size, leafIndex: r.seq - 1, hashes: view.inclusionProof(r.seq - 1, size).map((h) => h.toString('hex')) };
    const name = verifier.split('+')[0]!;
    const attacker = generateNoteKey(name);
    const cpLine = full.files.get('checkpoints.jsonl')!.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { treeSize: number; note: string }).find((c) => c.treeSize === size)!;
    const real = openCheckpoint(cpLine.note, [verifier]).checkpoint;
    const forgedNote = signCheckpoint({ ...real, rootHash: view.root(size) }, attacker.signerKey);
    const files = withRecords(full.files, records).set('checkpoints.jsonl', Buffer.from(`${JSON.stringify({ treeSize: size, kind: 'manual', ts: real.ts, note: forgedNote })}\n`, 'utf8'));
    const forged = await writePackage(pkg('d'), resign(remanifest(files), attacker.signerKey));

    const underAttackerKey = await verifyEvidencePackage(forged, [attacker.verifierKey]);
    assert.deepEqual(underAttackerKey.findings, [], 'consistent in itself: the package proves nothing without the examiner key');
    const v = await verifyEvidencePackage(forged, [verifier]);
    assert.equal(v.ok, false);
    assert.deepEqual(v.findings, [{ where: 'manifest', problem: `manifest.sig does not verify under the given key: the note is signed by no known key (signatures from: ${keyId(attacker.verifierKey)})` }]);
  });

  it('(e) altered records under a manifest re-signed with the real key (an insider): each record finding names the record', async () => {
    // Even whoever holds the signing key cannot move records off the signed checkpoint.
    const records = full.records.map((r) => structuredClone(r));
    const completions = records.filter((r) => r.record.status === 200);
    assert.ok(completions.length >= 3);
    const [leafOnly, reproved, shownOnly] = completions as [ExportedRecord, ExportedRecord, ExportedRecord];
    leafOnly.canonical = leafOnly.canonical.replace('"status":200', '"status":299');
    leafOnly.record.status = 299;
    reproved.canonical = reproved.canonical.replace('"status":200', '"status":299');
    reproved.record.status = 299;
    reproved.leafHash = sha256(`\u0000${reproved.canonical}`);
    shownOnly.record.status = 299;
    const withPrivate = records.find((r) => r.private && 'personal' in r.private && r.private.personal?.principal === 'alice' && r !== leafOnly && r !== reproved && r !== shownOnly);
    assert.ok(withPrivate?.private && 'personal' in withPrivate.private && withPrivate.private.personal);
    withPrivate.private.personal.principal = 'mallory';
    const dropped = records.pop()!;
    const files = resign(remanifest(withRecords(full.files, records)), signer);
    const v = await verifyEvidencePackage(await writePackage(pkg('e'), files), [verifier]);
    assert.equal(v.ok, false);
    const size = full.result.proofTreeSize;
    const expected = [
      { where: `record ${leafOnly.seq}`, problem: 'its canonical text does not hash to its leaf hash (the record was altered)' },
      { where: `record ${reproved.seq}`, problem: `its inclusion proof does not lead to the signed root at size ${size}` },
      { where: `record ${shownOnly.seq}`, problem: 'the record shown differs from the canonical text that was hashed' },
      { where: `record ${withPrivate.seq}`, problem: 'its private part does not match the salted commitment in the record' },
      { where: 'records.jsonl', problem: `the manifest says ${full.records.length} records, the file holds ${full.records.length - 1}` },
    ];
    const key = (f: { where: string; problem: string }) => `${f.where}: ${f.problem}`;
    assert.deepEqual(v.findings.map(key).sort(), expected.map(key).sort());
    assert.ok(dropped.seq > 0);
  });
});

// The admin route drains, signs a checkpoint, then exports: records the running gateway appends
// after that checkpoint (or up to a `to` in the future) are left for the next export.
it('an export on a running gateway, with traffic after its checkpoint, still verifies (R17a4-10)', async () => {
  const parts = t.gw.ledgerParts!;
  // As the admin route does: drain, sign a checkpoint, export up to now.
  await parts.drained();
  await parts.checkpointer.checkpoint('manual');
  const r = await t.request('GET', '/public/ping');
  assert.equal(r.status, 200, 'another client keeps the gateway busy meanwhile');
  const p = await exportTo({ fromTs: range.fromTs, toTs: Date.now() });
  const v = await verifyEvidencePackage(p.file, [verifier]);
  assert.deepEqual(v.findings, []);
  assert.equal(v.recordsProved, p.records.length);
});
