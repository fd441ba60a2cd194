/**
 * The evidence manifest: canonical bytes, the exact text that gets signed, strict parsing, and
 * precise per-file findings when a package does not match its manifest — also end to end
 * through a real .tar.gz.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  EVIDENCE_FORMAT,
  MANIFEST_NAME,
  SIGNATURE_NAME,
  buildManifest,
  checkManifest,
  checkManifestNoteBody,
  manifestNoteBody,
  parseManifest,
  type ManifestFile,
} from '../../src/evidence/manifest.js';
import { createTarWriter, readTarGzAll } from '../../src/evidence/tar.js';
import { canonicalize } from '../../src/ledger/canonical.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const entry = (name: string, data: Buffer | string): ManifestFile => ({ name, sha256: sha(data), bytes: Buffer.byteLength(data) });

const contents = new Map<string, Buffer>([
  ['records.jsonl', Buffer.from('{"seq":1}\n{"seq":2}\n')],
  ['records.csv', Buffer.from('seq\r\n1\r\n2\r\n')],
  ['report.html', Buffer.from('<!DOCTYPE html><title>r</title>')],
  ['checkpoints/0001.note', Buffer.from('rampart.example/ledger\n2\nAAAA\n\n— rampart sig\n')],
]);
const listing = () => [...contents].map(([n, d]) => entry(n, d));
const META = { exportedBy: 'alice@example.com', scope: { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', filters: [] }, exportedAt: '2026-02-02T10:00:00.000Z' };

const isBad = (re?: RegExp) => (err: unknown) => {
  assert.equal((err as { code?: string }).code, 'RAMPART_EVIDENCE_BAD_MANIFEST', (err as Error).message);
  if (re) assert.match((err as Error).message, re);
  return true;
};

describe('evidence manifest: building', () => {
  it('is canonical JSON: sorted keys, no whitespace, files sorted by name, the format named', () => {
    const json = buildManifest({ b: 1, a: { z: true, y: null } }, [
      { name: 'z.txt', sha256: 'aa'.repeat(32), bytes: 3 },
      { name: 'B.txt', sha256: 'bb'.repeat(32), bytes: 0 },
      { name: 'a/b.txt', sha256: 'cc'.repeat(32), bytes: 12 },
    ]);
    assert.equal(
      json,
      `{"a":{"y":null,"z":true},"b":1,"files":[{"bytes":0,"name":"B.txt","sha256":"${'bb'.repeat(32)}"},{"bytes":12,"name":"a/b.txt","sha256":"${'cc'.repeat(32)}"},{"bytes":3,"name":"z.txt","sha256":"${'aa'.repeat(32)}"}],"format":"rampart-evidence/1"}`,
    );
  });

  it('gives the same bytes whatever the input order, and keeps only name, sha256 and bytes', () => {
    const files = listing();
    const a = buildManifest(META, files);
    const b = buildManifest({ exportedAt: META.exportedAt, scope: META.scope, exportedBy: META.exportedBy }, [...files].reverse().map((f) => ({ ...f, extra: 'dropped' })));
    assert.equal(a, b);
    assert.ok(!a.includes('dropped'));
    const parsed = parseManifest(a);
    assert.equal(parsed.format, EVIDENCE_FORMAT);
    assert.deepEqual(parsed.meta, META);
    assert.deepEqual(parsed.files.map((f) => f.name), ['checkpoints/0001.note', 'records.csv', 'records.jsonl', 'report.html']);
  });

  it('refuses malformed input', () => {
    const ok = entry('a.txt', 'a');
    assert.throws(() => buildManifest({ format: 'other' }, []), TypeError);
    assert.throws(() => buildManifest({ files: [] }, []), TypeError);
    assert.throws(() => buildManifest({ when: new Date() }, []), TypeError);
    assert.throws(() => buildManifest({}, [ok, ok]), /listed twice/);
    assert.throws(() => buildManifest({}, [{ ...ok, sha256: ok.sha256.toUpperCase() }]), /64 lowercase hex/);
    assert.throws(() => buildManifest({}, [{ ...ok, sha256: 'abc' }]), /64 lowercase hex/);
    assert.throws(() => buildManifest({}, [{ ...ok, bytes: -1 }]), /non-negative integer/);
    assert.throws(() => buildManifest({}, [{ ...ok, bytes: 1.5 }]), /non-negative integer/);
    assert.throws(() => buildManifest({}, [{ ...ok, name: MANIFEST_NAME }]), TypeError);
    assert.throws(() => buildManifest({}, [{ ...ok, name: SIGNATURE_NAME }]), TypeError);
    assert.throws(() => buildManifest({}, [{ ...ok, name: '../a.txt' }]), { code: 'RAMPART_EVIDENCE_BAD_NAME' });
  });
});

describe('evidence manifest: the signed body', () => {
  const json = buildManifest(META, listing());

  it('is the format line and the SHA-256 of the manifest bytes', () => {
    const body = manifestNoteBody(json);
    assert.equal(body, `rampart-evidence/1\nsha256 ${sha(json)}\n`);
    assert.equal(manifestNoteBody(Buffer.from(json)), body);
    // Non-ASCII metadata is hashed as UTF-8.
    const intl = buildManifest({ exportedBy: 'Zoë 日本' }, []);
    assert.equal(manifestNoteBody(intl), `rampart-evidence/1\nsha256 ${sha(Buffer.from(intl, 'utf8'))}\n`);
  });

  it('checkManifestNoteBody accepts the matching body and refuses others precisely', () => {
    const body = manifestNoteBody(json);
    checkManifestNoteBody(body, Buffer.from(json));
    assert.throws(() => checkManifestNoteBody(body, `${json} `), isBad(/covers a manifest with sha256 [0-9a-f]{64}, but manifest\.json hashes to [0-9a-f]{64}/));
    for (const wrong of [body.replace('\n', '\r\n'), body.toUpperCase(), `${body}extra\n`, body.trimEnd(), `rampart-evidence/2\nsha256 ${sha(json)}\n`]) {
      assert.throws(() => checkManifestNoteBody(wrong, json), isBad(/not a rampart-evidence\/1 manifest digest/));
    }
  });
});

describe('evidence manifest: parsing', () => {
  const json = buildManifest(META, listing());

  it('refuses anything but the canonical form', () => {
    assert.throws(() => parseManifest(JSON.stringify(JSON.parse(json), null, 2)), isBad(/canonical/));
    assert.throws(() => parseManifest(`${json}\n`), isBad(/canonical/));
    // A repeated key: JSON.parse would silently keep the last one.
    assert.throws(() => parseManifest(json.replace('{"exportedAt"', '{"exportedAt":"2000-01-01","exportedAt"')), isBad(/canonical/));
    // Reordered files.
    const parsed = JSON.parse(json) as { files: unknown[] };
    parsed.files.reverse();
    assert.throws(() => parseManifest(JSON.stringify(parsed)), isBad());
  });

  it('names what is wrong', () => {
    // Canonical, so each case reaches the check it is about.
    const files = (f: unknown[]) => canonicalize({ files: f, format: 'rampart-evidence/1' });
    const good = { bytes: 1, name: 'a.txt', sha256: 'ab'.repeat(32) };
    assert.throws(() => parseManifest('not json'), isBad(/not valid JSON/));
    assert.throws(() => parseManifest(Buffer.from([0x7b, 0xff, 0x7d])), isBad(/not valid UTF-8/));
    assert.throws(() => parseManifest('[]'), isBad(/not a JSON object/));
    assert.throws(() => parseManifest('{"files":[],"format":"rampart-evidence/2"}'), isBad(/format is "rampart-evidence\/2"/));
    assert.throws(() => parseManifest('{"format":"rampart-evidence/1"}'), isBad(/no files list/));
    assert.throws(() => parseManifest(files([{ ...good, mode: 420 }])), isBad(/files\[0\] must have exactly bytes, name and sha256/));
    assert.throws(() => parseManifest(files([{ ...good, name: '../../etc/passwd' }])), isBad(/files\[0\]\.name: .*'\.\.' segment/));
    assert.throws(() => parseManifest(files([{ ...good, name: 'a\u001bb' }])), isBad(/control character/));
    assert.throws(() => parseManifest(files([{ ...good, name: MANIFEST_NAME }])), isBad(/lists manifest\.json itself/));
    assert.throws(() => parseManifest(files([good, good])), isBad(/files\[1\].*listed twice/));
    assert.throws(() => parseManifest(files([{ ...good, sha256: 'AB'.repeat(32) }])), isBad(/sha256/));
    assert.throws(() => parseManifest(files([{ ...good, bytes: -1 }])), isBad(/bytes/));
    assert.throws(() => parseManifest(files([{ ...good, bytes: '1' }])), isBad(/bytes/));
  });
});

describe('evidence manifest: checking a package', () => {
  const json = buildManifest(META, listing());
  const withOwn = (m: Map<string, Buffer>) => new Map([[MANIFEST_NAME, Buffer.from(json)], [SIGNATURE_NAME, Buffer.from('note')], ...m]);

  it('is ok when every listed file is present and matches; the manifest and its signature need no listing', () => {
    assert.deepEqual(checkManifest(json, withOwn(contents)), { ok: true, problems: [] });
  });

  it('reports each problem per file, sorted by name, with expected and actual values', () => {
    const files = withOwn(contents);
    files.delete('records.jsonl');
    files.set('records.csv', Buffer.from('seq\r\n1\r\n3\r\n')); // same size, other bytes
    files.set('report.html', Buffer.from('<!DOCTYPE html><title>forged</title>'));
    files.set('zz-smuggled.exe', Buffer.from('MZ'));
    const { ok, problems } = checkManifest(json, files);
    assert.equal(ok, false);
    assert.deepEqual(
      problems.map((p) => [p.file, p.problem]),
      [
        ['records.csv', 'digest-mismatch'],
        ['records.jsonl', 'missing'],
        ['report.html', 'size-mismatch'],
        ['zz-smuggled.exe', 'extra'],
      ],
    );
    const by = Object.fromEntries(problems.map((p) => [p.file, p.detail]));
    const listed = (n: string) => listing().find((f) => f.name === n)!;
    assert.equal(by['records.csv'], `the manifest says sha256 ${listed('records.csv').sha256}, the contents hash to ${sha('seq\r\n1\r\n3\r\n')}`);
    assert.equal(by['records.jsonl'], `listed in the manifest (${listed('records.jsonl').bytes} bytes, sha256 ${listed('records.jsonl').sha256}) but not in the package`);
    assert.equal(by['report.html'], `the manifest says ${listed('report.html').bytes} bytes, the package holds 36 bytes`);
    assert.equal(by['zz-smuggled.exe'], 'in the package (2 bytes) but not listed in the manifest');
  });

  it('takes the unlisted names from the caller when given', () => {
    const { problems } = checkManifest(json, withOwn(contents), { unlisted: [MANIFEST_NAME] });
    assert.deepEqual(problems.map((p) => [p.file, p.problem]), [[SIGNATURE_NAME, 'extra']]);
  });

  it('throws for a malformed manifest instead of reporting files', () => {
    assert.throws(() => checkManifest('{}', contents), isBad());
  });

  it('works end to end through a .tar.gz: written, read back, verified, then tampered with', async () => {
    const dir = tempDir('rampart-evidence-manifest-');
    try {
      const write = async (path: string, files: Map<string, Buffer>) => {
        const tar = createTarWriter(path);
        await tar.add(MANIFEST_NAME, json);
        await tar.add(SIGNATURE_NAME, manifestNoteBody(json)); // unsigned here: signing is the integrator's
        for (const [n, d] of files) await tar.add(n, d);
        await tar.close();
      };
      const limits = { maxEntryBytes: 1 << 20, maxTotalBytes: 1 << 22 };
      const good = join(dir.path, 'good.tar.gz');
      await write(good, contents);
      const read = await readTarGzAll(good, limits);
      checkManifestNoteBody(read.get(SIGNATURE_NAME)!.toString('utf8'), read.get(MANIFEST_NAME)!);
      assert.deepEqual(checkManifest(read.get(MANIFEST_NAME)!, read), { ok: true, problems: [] });

      const tampered = new Map(contents);
      tampered.set('records.jsonl', Buffer.from('{"seq":1}\n{"seq":9}\n'));
      const bad = join(dir.path, 'bad.tar.gz');
      await write(bad, tampered);
      const read2 = await readTarGzAll(bad, limits);
      const { ok, problems } = checkManifest(read2.get(MANIFEST_NAME)!, read2);
      assert.equal(ok, false);
      assert.deepEqual(problems.map((p) => [p.file, p.problem]), [['records.jsonl', 'digest-mismatch']]);
    } finally {
      dir.remove();
    }
  });
});
