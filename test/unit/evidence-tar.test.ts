/**
 * The evidence container: archives written here open with the system's GNU tar, archives made
 * by GNU tar read here, and hostile archives (bad names, links, devices, bad checksums,
 * truncation, gzip bombs) are refused with the documented codes, naming the entry.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { EvidenceError, checkEntryName, createTarWriter, readTarGz, readTarGzAll, type TarEntry } from '../../src/evidence/tar.js';
import { tempDir } from '../helpers/tmp.js';

const LIMITS = { maxEntryBytes: 64 * 1024 * 1024, maxTotalBytes: 256 * 1024 * 1024 };

async function readAll(path: string, limits = LIMITS): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of readTarGz(path, limits)) out.push(e);
  return out;
}

/** Asserts that `p` rejects with an EvidenceError of `code` whose message matches `re`. */
async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp, entry?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof EvidenceError, `expected an EvidenceError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (re) assert.match(err.message, re);
    if (entry !== undefined) assert.equal(err.entry, entry);
    return true;
  });
}

/**
 * A raw ustar header built independently of the module under test, for crafting archives the
 * writer would never produce.
 */
function rawHeader(o: { name: string; size?: number; type?: string; prefix?: string; magic?: string; linkname?: string }): Buffer {
  const h = Buffer.alloc(512);
  Buffer.from(o.name, 'utf8').copy(h, 0, 0, 100);
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${(o.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('14715451000\0', 136, 'latin1');
  h.write(o.type ?? '0', 156, 'latin1');
  if (o.linkname) h.write(o.linkname, 157, 'utf8');
  h.write(o.magic ?? 'ustar\u000000', 257, 'latin1');
  if (o.prefix) h.write(o.prefix, 345, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function rawEntry(o: Parameters<typeof rawHeader>[0], data: Buffer = Buffer.alloc(0)): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([rawHeader({ ...o, size: o.size ?? data.length }), data, Buffer.alloc(pad)]);
}

const END = Buffer.alloc(1024);

/** GNU tar's listing, names printed as they are whatever the locale. */
const listTar = (path: string): string => execFileSync('tar', ['--quoting-style=literal', '-tzf', path], { encoding: 'utf8' });

describe('evidence tar: writer', () => {
  let dir: { path: string; remove(): void };
  before(() => {
    dir = tempDir('rampart-evidence-tar-');
  });
  after(() => dir.remove());

  const random = randomBytes(70_001);
  const long = `${'p'.repeat(150)}/${'n'.repeat(100)}`; // 251 bytes: needs the ustar prefix field
  const entries: [string, Buffer | string][] = [
    ['manifest.json', '{"format":"rampart-evidence/1"}'],
    ['records/records.csv', 'seq,time\r\n1,2026-01-01T00:00:00.000Z\r\n'],
    ['empty.txt', ''],
    ['bin/random.bin', random],
    ['bin/exact.bin', Buffer.alloc(1024, 7)],
    ['x'.repeat(100), 'exactly 100 bytes of name'],
    [long, 'in a long path'],
    ['rapport-é/数据.txt', 'unicode name'],
  ];
  const mtimeMs = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

  it('writes an archive that GNU tar lists in order and extracts byte for byte', async () => {
    const out = join(dir.path, 'evidence.tar.gz');
    const tar = createTarWriter(out);
    for (const [name, data] of entries) await tar.add(name, data, mtimeMs);
    const { bytes, entries: n } = await tar.close();
    assert.equal(n, entries.length);
    assert.equal(bytes, statSync(out).size);
    assert.equal(statSync(out).mode & 0o777, 0o600, 'owner-only: the package may hold personal fields');
    assert.deepEqual(readdirSync(dir.path), ['evidence.tar.gz'], 'no temporary file is left behind');

    const listed = listTar(out).split('\n').filter(Boolean);
    assert.deepEqual(listed, entries.map(([name]) => name));

    const x = join(dir.path, 'x');
    mkdirSync(x);
    execFileSync('tar', ['-xzf', out, '-C', x]);
    for (const [name, data] of entries) {
      assert.deepEqual(readFileSync(join(x, name)), Buffer.from(data), name);
      const st = statSync(join(x, name));
      assert.equal(st.mtimeMs, Math.floor(mtimeMs / 1000) * 1000, `${name} mtime`);
      assert.equal(st.mode & 0o777, 0o644, `${name} mode`);
    }
  });

  it('reads its own archive back identically', async () => {
    const got = await readAll(join(dir.path, 'evidence.tar.gz'));
    assert.deepEqual(
      got.map((e) => [e.name, e.data.toString('base64'), e.mtimeMs]),
      entries.map(([name, data]) => [name, Buffer.from(data).toString('base64'), Math.floor(mtimeMs / 1000) * 1000]),
    );
    const map = await readTarGzAll(join(dir.path, 'evidence.tar.gz'), LIMITS);
    assert.deepEqual([...map.keys()], entries.map(([n]) => n));
  });

  it('keeps call order when adds are not awaited one by one', async () => {
    const out = join(dir.path, 'order.tar.gz');
    const tar = createTarWriter(out);
    const names = Array.from({ length: 50 }, (_, i) => `f${String(i).padStart(2, '0')}-${'z'.repeat(i * 37)}.bin`.slice(0, 100));
    await Promise.all(names.map((n, i) => tar.add(n, randomBytes(i * 1000))));
    await tar.close();
    assert.deepEqual(listTar(out).split('\n').filter(Boolean), names);
  });

  it('refuses unsafe names with RAMPART_EVIDENCE_BAD_NAME and stays usable', async () => {
    const out = join(dir.path, 'names.tar.gz');
    const tar = createTarWriter(out);
    const bad = [
      '',
      '..',
      '../etc/passwd',
      'a/../../b',
      'a/..',
      '/etc/passwd',
      'a\\b',
      '..\\windows',
      'a\u0000b',
      'esc\u001b[31m',
      'csi\u009b2J',
      'a//b',
      'dir/',
      './a',
      'a/./b',
      'lone\ud800',
      'q'.repeat(101), // one segment longer than ustar's name field
      `${'p'.repeat(156)}/n`, // prefix longer than 155 bytes
      `${'p'.repeat(150)}/${'n'.repeat(105)}`, // 256 bytes
    ];
    for (const name of bad) await rejectsWith(tar.add(name, 'x'), 'RAMPART_EVIDENCE_BAD_NAME', undefined, name);
    for (const name of bad) assert.throws(() => checkEntryName(name), { code: 'RAMPART_EVIDENCE_BAD_NAME' });
    await tar.add('ok.txt', 'fine');
    await rejectsWith(tar.add('ok.txt', 'again'), 'RAMPART_EVIDENCE_BAD_NAME', /added twice/);
    await tar.close();
    assert.deepEqual(listTar(out), 'ok.txt\n');
  });

  it('quotes a hostile name in the message without its control characters', async () => {
    const err = (() => {
      try {
        checkEntryName('x\u009b\u202e\u001b');
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    assert.ok(err);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(err.message, /[\u0000-\u001f\u007f-\u009f\u202e]/);
    assert.match(err.message, /\\u009b\\u202e\\u001b/);
  });

  it('never replaces an existing file unless asked', async () => {
    const out = join(dir.path, 'exists.tar.gz');
    writeFileSync(out, 'previous package');
    assert.throws(() => createTarWriter(out), { code: 'RAMPART_EVIDENCE_EXISTS' });
    assert.equal(readFileSync(out, 'utf8'), 'previous package');

    // Appearing while the package is being written is caught at close, and the temp file goes.
    const late = join(dir.path, 'late.tar.gz');
    const tar = createTarWriter(late);
    await tar.add('a.txt', 'a');
    writeFileSync(late, 'someone else');
    await rejectsWith(tar.close(), 'RAMPART_EVIDENCE_EXISTS');
    assert.equal(readFileSync(late, 'utf8'), 'someone else');
    assert.ok(!readdirSync(dir.path).some((f) => f.endsWith('.partial')));

    const tar2 = createTarWriter(out, { overwrite: true });
    await tar2.add('a.txt', 'a');
    await tar2.close();
    assert.equal(listTar(out), 'a.txt\n');
  });

  it('abort() leaves nothing behind, and a closed writer refuses more', async () => {
    const out = join(dir.path, 'aborted.tar.gz');
    const tar = createTarWriter(out);
    await tar.add('a.txt', 'a');
    await tar.abort();
    assert.ok(!readdirSync(dir.path).some((f) => f.startsWith('.aborted') || f === 'aborted.tar.gz'));
    await assert.rejects(tar.add('b.txt', 'b'), TypeError);
    await assert.rejects(tar.close(), TypeError);
  });
});

describe('evidence tar: reader', () => {
  let dir: { path: string; remove(): void };
  before(() => {
    dir = tempDir('rampart-evidence-tar-read-');
  });
  after(() => dir.remove());

  const file = (name: string, tarBytes: Buffer): string => {
    const p = join(dir.path, name);
    writeFileSync(p, gzipSync(tarBytes));
    return p;
  };

  it('reads archives made by GNU tar -czf (gnu, ustar with prefix, and pax formats); directories are skipped', async () => {
    const src = join(dir.path, 'src');
    // 60 + 1 + 60 + 1 + 84 = 206 bytes: GNU tar stores it in the ustar prefix field.
    const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
    mkdirSync(join(src, 'sub'), { recursive: true });
    mkdirSync(join(src, deep), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'alpha\n');
    writeFileSync(join(src, 'sub', 'b.bin'), randomBytes(3000));
    writeFileSync(join(src, deep, `${'c'.repeat(80)}.txt`), 'deep');
    const expected = new Map([
      ['a.txt', readFileSync(join(src, 'a.txt'))],
      ['sub/b.bin', readFileSync(join(src, 'sub', 'b.bin'))],
      [`${deep}/${'c'.repeat(80)}.txt`, readFileSync(join(src, deep, `${'c'.repeat(80)}.txt`))],
    ]);
    for (const format of ['gnu', 'ustar', 'posix']) {
      const out = join(dir.path, `system-${format}.tar.gz`);
      // GNU format stores the 206-byte path with a ././@LongLink entry, which is refused; it gets
      // the short files only.
      const members = format === 'gnu' ? ['a.txt', 'sub'] : ['a.txt', 'sub', deep];
      execFileSync('tar', [`--format=${format}`, '-czf', out, '-C', src, ...members]);
      const got = await readTarGzAll(out, LIMITS);
      const want = new Map([...expected].filter(([n]) => format !== 'gnu' || !n.startsWith('d')));
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), format);
      for (const [n, data] of want) assert.deepEqual(got.get(n), data, `${format}: ${n}`);
    }
    const gnuLong = join(dir.path, 'system-gnu-long.tar.gz');
    execFileSync('tar', ['--format=gnu', '-czf', gnuLong, '-C', src, deep]);
    await rejectsWith(readAll(gnuLong), 'RAMPART_EVIDENCE_UNSUPPORTED_ENTRY', /GNU long name/);
  });

  it('refuses symbolic links, hard links, devices and FIFOs', async () => {
    const src = join(dir.path, 'links');
    mkdirSync(src);
    writeFileSync(join(src, 'target.txt'), 'secret');
    symlinkSync('/etc/passwd', join(src, 'sym'));
    linkSync(join(src, 'target.txt'), join(src, 'hard.txt'));
    const sym = join(dir.path, 'sym.tar.gz');
    execFileSync('tar', ['-czf', sym, '-C', src, 'sym']);
    await rejectsWith(readAll(sym), 'RAMPART_EVIDENCE_UNSUPPORTED_ENTRY', /symbolic link/);
    const hard = join(dir.path, 'hard.tar.gz');
    execFileSync('tar', ['-czf', hard, '-C', src, 'target.txt', 'hard.txt']);
    await rejectsWith(readAll(hard), 'RAMPART_EVIDENCE_UNSUPPORTED_ENTRY', /hard link/);
    for (const [type, what] of [
      ['3', 'character device'],
      ['4', 'block device'],
      ['6', 'FIFO'],
      ['g', 'pax global header'],
      ['Z', 'type "Z"'],
    ] as const) {
      const p = file(`type-${type}.tar.gz`, Buffer.concat([rawEntry({ name: 'ok.txt' }, Buffer.from('ok')), rawEntry({ name: 'dev', type }), END]));
      await rejectsWith(readAll(p), 'RAMPART_EVIDENCE_UNSUPPORTED_ENTRY', new RegExp(`${what}.*after entry "ok.txt"|after entry "ok.txt".*${what}`));
    }
  });

  it('refuses unsafe and duplicate names in a hostile archive', async () => {
    for (const name of ['../evil.txt', '/etc/passwd', 'a\\b', 'x/../../y', 'ansi\u001b[2J']) {
      const p = file('bad-name.tar.gz', Buffer.concat([rawEntry({ name }, Buffer.from('x')), END]));
      await rejectsWith(readAll(p), 'RAMPART_EVIDENCE_BAD_NAME');
    }
    // The ustar prefix is part of the name and checked with it.
    const viaPrefix = file('bad-prefix.tar.gz', Buffer.concat([rawEntry({ name: 'passwd', prefix: '../../etc' }, Buffer.from('x')), END]));
    await rejectsWith(readAll(viaPrefix), 'RAMPART_EVIDENCE_BAD_NAME', /'\.\.' segment/);
    const invalidUtf8 = Buffer.concat([rawEntry({ name: 'x' }, Buffer.from('x')), END]);
    invalidUtf8[1] = 0xff;
    const h = invalidUtf8.subarray(0, 512);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await rejectsWith(readAll(file('bad-utf8.tar.gz', invalidUtf8)), 'RAMPART_EVIDENCE_BAD_NAME', /UTF-8/);
    const dup = file('dup.tar.gz', Buffer.concat([rawEntry({ name: 'records.csv' }, Buffer.from('real')), rawEntry({ name: 'records.csv' }, Buffer.from('forged')), END]));
    await rejectsWith(readAll(dup), 'RAMPART_EVIDENCE_BAD_NAME', /appears twice/, 'records.csv');
  });

  it('checks every header checksum and names where it failed', async () => {
    const tarBytes = Buffer.concat([rawEntry({ name: 'one.txt' }, Buffer.from('1')), rawEntry({ name: 'two.txt' }, Buffer.from('2')), END]);
    tarBytes[1029] = tarBytes[1029]! ^ 0x01; // flip a bit in the second header's name field
    await rejectsWith(readAll(file('checksum.tar.gz', tarBytes)), 'RAMPART_EVIDENCE_CORRUPT', /header after entry "one\.txt".*checksum/);
    const notUstar = file('magic.tar.gz', Buffer.concat([rawEntry({ name: 'v7.txt', magic: '\0\0\0\0\0\0\0\0' }, Buffer.from('x')), END]));
    await rejectsWith(readAll(notUstar), 'RAMPART_EVIDENCE_CORRUPT', /not a ustar header/);
  });

  it('reports truncation and corruption with RAMPART_EVIDENCE_CORRUPT naming the entry', async () => {
    const big = randomBytes(40_000);
    const whole = Buffer.concat([rawEntry({ name: 'first.txt' }, Buffer.from('first')), rawEntry({ name: 'records.jsonl' }, big), END]);

    // The tar stream stops inside an entry's data (the gzip stream itself is complete).
    const cut = file('cut-data.tar.gz', whole.subarray(0, 1024 + 512 + 10_000));
    await rejectsWith(readAll(cut), 'RAMPART_EVIDENCE_CORRUPT', /"records\.jsonl" is truncated: 10000 of 40000 bytes/, 'records.jsonl');

    // ... at an entry boundary, without the end-of-archive marker.
    const noEnd = file('no-end.tar.gz', whole.subarray(0, whole.length - 1024));
    await rejectsWith(readAll(noEnd), 'RAMPART_EVIDENCE_CORRUPT', /after entry "records\.jsonl" without the end-of-archive marker/);

    // ... inside a header.
    const midHeader = file('mid-header.tar.gz', whole.subarray(0, 1024 + 100));
    await rejectsWith(readAll(midHeader), 'RAMPART_EVIDENCE_CORRUPT', /truncated in the header after entry "first\.txt"/);

    // ... a lone zero block.
    const lone = file('lone.tar.gz', whole.subarray(0, whole.length - 512));
    await rejectsWith(readAll(lone), 'RAMPART_EVIDENCE_CORRUPT', /lone zero block/);

    // The compressed file itself is cut short.
    const gz = join(dir.path, 'cut.tar.gz');
    writeFileSync(gz, gzipSync(whole, { level: 0 }));
    truncateSync(gz, Math.floor(statSync(gz).size * 0.8));
    await rejectsWith(readAll(gz), 'RAMPART_EVIDENCE_CORRUPT', /gzip stream is corrupt or truncated.*entry "records\.jsonl"/);

    // Not gzip at all, and data smuggled after the end marker.
    const plain = join(dir.path, 'plain.tar');
    writeFileSync(plain, whole);
    await rejectsWith(readAll(plain), 'RAMPART_EVIDENCE_CORRUPT', /gzip/);
    const trailing = file('trailing.tar.gz', Buffer.concat([whole, rawEntry({ name: 'hidden.txt' }, Buffer.from('hidden'))]));
    await rejectsWith(readAll(trailing), 'RAMPART_EVIDENCE_CORRUPT', /after the end-of-archive marker/);

    // An empty gzip stream is not an archive.
    await rejectsWith(readAll(file('empty.tar.gz', Buffer.alloc(0))), 'RAMPART_EVIDENCE_CORRUPT', /end-of-archive marker/);
  });

  it('bounds each entry and the total so a hostile package cannot exhaust memory', async () => {
    const tarBytes = Buffer.concat([rawEntry({ name: 'small.txt' }, Buffer.alloc(100)), rawEntry({ name: 'big.bin' }, Buffer.alloc(10_000)), END]);
    const p = file('bounds.tar.gz', tarBytes);
    await rejectsWith(readAll(p, { maxEntryBytes: 9_999, maxTotalBytes: 1 << 20 }), 'RAMPART_EVIDENCE_TOO_LARGE', /"big\.bin" is 10000 bytes; the limit is 9999/, 'big.bin');
    assert.equal((await readAll(p, { maxEntryBytes: 10_000, maxTotalBytes: 1 << 20 })).length, 2);

    // A header may claim a huge size: it is refused before anything is read.
    const claim = file('claim.tar.gz', Buffer.concat([rawHeader({ name: 'huge.bin', size: 8 ** 11 - 1 }), END]));
    await rejectsWith(readAll(claim), 'RAMPART_EVIDENCE_TOO_LARGE', /huge\.bin/);

    // A gzip bomb: 64 MiB of zeros in a ~64 KiB file; reading stops soon after 1 MiB.
    const bomb = join(dir.path, 'bomb.tar.gz');
    const w = createTarWriter(bomb);
    await w.add('zeros.bin', Buffer.alloc(64 * 1024 * 1024));
    const { bytes } = await w.close();
    assert.ok(bytes < 200_000, `bomb compresses to ${bytes} bytes`);
    await rejectsWith(readAll(bomb, { maxEntryBytes: 128 * 1024 * 1024, maxTotalBytes: 1024 * 1024 }), 'RAMPART_EVIDENCE_TOO_LARGE', /maxTotalBytes \(1048576\) while reading entry "zeros\.bin"/);

    for (const bad of [{ maxEntryBytes: 0, maxTotalBytes: 1 }, { maxEntryBytes: 1, maxTotalBytes: -1 }, { maxEntryBytes: 1.5, maxTotalBytes: 10 }]) {
      await assert.rejects(readAll(p, bad), TypeError);
    }
  });

  it('stops cleanly when the caller stops early', async () => {
    const p = file('early.tar.gz', Buffer.concat([rawEntry({ name: 'a' }, Buffer.from('a')), rawEntry({ name: 'b' }, Buffer.from('b')), END]));
    const seen: string[] = [];
    for await (const e of readTarGz(p, LIMITS)) {
      seen.push(e.name);
      break;
    }
    assert.deepEqual(seen, ['a']);
    assert.equal((await readAll(p)).length, 2);
  });
});
