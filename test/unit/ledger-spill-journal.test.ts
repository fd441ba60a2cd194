/**
 * The spill journal of the "buffered" ledger mode (src/ledger/spill-journal.ts), on real files:
 * round trip across segments, group commit, the bound, release, reopen, torn tails, corruption
 * and the lock. The kill test with a real child process is test/integration/ledger-spill-kill.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { openSpillJournal, SPILL_MAX_ENTRY_BYTES, type SpillEntry, type SpillJournal, type SpillPosition } from '../../src/ledger/spill-journal.js';

const SEGMENT = /^spill-([0-9a-f]{16})\.log$/;

function segments(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => SEGMENT.test(n))
    .sort();
}

function firstSeqOf(name: string): number {
  return parseInt(SEGMENT.exec(name)![1]!, 16);
}

function diskBytes(dir: string): number {
  return segments(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/** Payloads of varied length, each naming its number. */
function payload(i: number): Buffer {
  return Buffer.from(`entry-${i}-`.padEnd(30 + (i % 7) * 11, String.fromCharCode(97 + (i % 26))));
}

async function collect(j: SpillJournal, from?: SpillPosition): Promise<SpillEntry[]> {
  const out: SpillEntry[] = [];
  for await (const e of j.entries(from)) out.push(e);
  return out;
}

async function fill(j: SpillJournal, from: number, to: number): Promise<SpillPosition> {
  let pos: SpillPosition = { seq: 0 };
  for (let i = from; i <= to; i++) pos = await j.append([payload(i)]);
  return pos;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<Error & { code: string; file?: string; offset?: number }> {
  try {
    await p;
  } catch (err) {
    assert.equal((err as { code?: string }).code, code, `expected ${code}, got ${String(err)}`);
    return err as Error & { code: string };
  }
  assert.fail(`expected a rejection with ${code}`);
}

test('append and entries round-trip in order across segment rollovers, with positions, modes and names', async () => {
  const tmp = tempDir();
  try {
    const dir = join(tmp.path, 'spill');
    const j = await openSpillJournal(dir, { maxBytes: 1 << 20, segmentBytes: 600 });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    let expected = 0;
    const want: Buffer[] = [];
    for (let i = 1; i <= 60; i++) {
      const pos = await j.append([payload(i)]);
      want.push(payload(i));
      assert.equal(pos.seq, ++expected);
    }
    // Multi-entry groups: the position is that of the last entry.
    for (let g = 0; g < 8; g++) {
      const group = [0, 1, 2, 3, 4].map((k) => payload(100 + g * 5 + k));
      const pos = await j.append(group);
      expected += group.length;
      want.push(...group);
      assert.equal(pos.seq, expected);
    }
    const files = segments(dir);
    assert.ok(files.length >= 5, `expected several segments, got ${files.length}`);
    assert.equal(files[0], 'spill-0000000000000001.log');
    for (const f of files) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
    assert.equal(j.bytes, diskBytes(dir));
    assert.equal(j.bytes, want.reduce((n, b) => n + 8 + b.length, 0));

    const all = await collect(j);
    assert.deepEqual(
      all.map((e) => e.pos.seq),
      want.map((_, i) => i + 1),
    );
    assert.deepEqual(
      all.map((e) => e.payload.toString()),
      want.map((b) => b.toString()),
    );
    // Each file is named after the first entry it holds: the entry there starts at offset 0.
    for (const f of files) {
      const first = firstSeqOf(f);
      const head = readFileSync(join(dir, f)).subarray(8, 8 + want[first - 1]!.length);
      assert.equal(head.toString(), want[first - 1]!.toString());
    }
    // entries(from) is exclusive of `from`, and seeks into the middle of a segment.
    const after = await collect(j, { seq: 37 });
    assert.equal(after[0]!.pos.seq, 38);
    assert.equal(after.length, want.length - 37);
    assert.equal((await collect(j, { seq: want.length })).length, 0);
    await j.close();
    assert.equal(existsSync(join(dir, 'LOCK')), false);
  } finally {
    tmp.remove();
  }
});

test('group commit: concurrent appends share writes and fsyncs, and keep their call order', async () => {
  const tmp = tempDir();
  try {
    const j = await openSpillJournal(tmp.path, { maxBytes: 64 << 20 });
    const entry = Buffer.alloc(512, 7);
    const positions = await Promise.all(Array.from({ length: 1000 }, () => j.append([entry])));
    assert.deepEqual(
      positions.map((p) => p.seq),
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    let s = j.stats;
    assert.equal(s.appends, 1000);
    assert.ok(s.syncs <= 10, `1000 appends in one turn took ${s.syncs} fsyncs`);

    // 8 appenders, each waiting for its own append before the next: they still share fsyncs.
    const before = s.syncs;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 50; i++) await j.append([entry]);
      }),
    );
    s = j.stats;
    assert.equal(s.appends, 1400);
    assert.ok(s.syncs - before <= 100, `400 appends from 8 appenders took ${s.syncs - before} fsyncs`);
    assert.equal((await collect(j)).length, 1400);
    await j.close();
  } finally {
    tmp.remove();
  }
});

test('a full journal refuses appends whole, keeps what it holds, and takes appends again after release', async () => {
  const tmp = tempDir();
  try {
    const entry = (i: number) => Buffer.alloc(100, i);
    const j = await openSpillJournal(tmp.path, { maxBytes: 10 * 108 });
    let pos: SpillPosition = { seq: 0 };
    for (let i = 1; i <= 9; i++) pos = await j.append([entry(i)]);
    assert.equal(j.bytes, 9 * 108);
    // Two entries do not fit: neither is written.
    const err = await rejectsWith(j.append([entry(10), entry(11)]), 'RAMPART_LEDGER_SPILL_FULL');
    assert.match(err.message, /1080-byte bound/);
    assert.equal(j.bytes, 9 * 108);
    assert.equal(diskBytes(tmp.path), 9 * 108);
    pos = await j.append([entry(10)]);
    assert.equal(pos.seq, 10);
    await rejectsWith(j.append([entry(11)]), 'RAMPART_LEDGER_SPILL_FULL');
    const held = await collect(j);
    assert.deepEqual(
      held.map((e) => e.payload[0]),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    // Everything reached the store: the space comes back and numbering continues.
    await j.release(pos);
    assert.equal(j.bytes, 0);
    assert.equal(diskBytes(tmp.path), 0);
    assert.equal((await j.append([entry(11)])).seq, 11);
    assert.deepEqual(
      (await collect(j)).map((e) => [e.pos.seq, e.payload[0]]),
      [[11, 11]],
    );
    await j.close();
  } finally {
    tmp.remove();
  }
});

test('release records the release point, deletes whole released segments, and refuses positions not yet acknowledged', async () => {
  const tmp = tempDir();
  try {
    const j = await openSpillJournal(tmp.path, { maxBytes: 1 << 20, segmentBytes: 500 });
    await fill(j, 1, 60);
    const before = segments(tmp.path);
    await j.release({ seq: 30 });
    const after = segments(tmp.path);
    assert.ok(after.length < before.length, 'released segments are deleted');
    // The first remaining segment still holds entry 31; every deleted one ended at or before 30.
    assert.ok(firstSeqOf(after[0]!) <= 31 && (after[1] === undefined || firstSeqOf(after[1]) > 31));
    for (const f of before.filter((f) => !after.includes(f))) assert.ok(firstSeqOf(f) < firstSeqOf(after[0]!));
    assert.equal(readFileSync(join(tmp.path, 'RELEASED'), 'utf8'), '30\n');
    assert.equal(j.bytes, diskBytes(tmp.path));
    const rest = await collect(j);
    assert.equal(rest[0]!.pos.seq, 31);
    assert.equal(rest.length, 30);
    assert.equal(rest[0]!.payload.toString(), payload(31).toString());

    await assert.rejects(j.release({ seq: 61 }), RangeError);
    await j.release({ seq: 10 }); // behind the release point: nothing happens
    assert.equal(readFileSync(join(tmp.path, 'RELEASED'), 'utf8'), '30\n');

    await j.release({ seq: 60 });
    assert.deepEqual(segments(tmp.path), []);
    assert.equal(j.bytes, 0);
    assert.equal((await collect(j)).length, 0);
    assert.equal((await j.append([payload(61)])).seq, 61);
    assert.deepEqual(segments(tmp.path), ['spill-000000000000003d.log']);
    await j.close();
  } finally {
    tmp.remove();
  }
});

test('reopening after close replays exactly the unreleased entries and continues the numbering', async () => {
  const tmp = tempDir();
  try {
    let j = await openSpillJournal(tmp.path, { maxBytes: 1 << 20, segmentBytes: 400 });
    await fill(j, 1, 40);
    await j.release({ seq: 17 });
    await j.close();
    await rejectsWith(j.append([payload(99)]), 'RAMPART_LEDGER_SPILL_CLOSED');

    j = await openSpillJournal(tmp.path, { maxBytes: 1 << 20, segmentBytes: 400 });
    assert.equal(j.truncatedTail, null);
    const replay = await collect(j);
    assert.deepEqual(
      replay.map((e) => e.pos.seq),
      Array.from({ length: 23 }, (_, i) => i + 18),
    );
    assert.deepEqual(
      replay.map((e) => e.payload.toString()),
      Array.from({ length: 23 }, (_, i) => payload(i + 18).toString()),
    );
    assert.equal(j.bytes, diskBytes(tmp.path));
    assert.equal((await j.append([payload(41)])).seq, 41);
    await j.close();

    // Everything released, then reopened: empty, and the numbering still continues.
    j = await openSpillJournal(tmp.path, { maxBytes: 1 << 20, segmentBytes: 400 });
    await j.release({ seq: 41 });
    await j.close();
    j = await openSpillJournal(tmp.path, { maxBytes: 1 << 20, segmentBytes: 400 });
    assert.equal((await collect(j)).length, 0);
    assert.equal((await j.append([payload(42)])).seq, 42);
    await j.close();
  } finally {
    tmp.remove();
  }
});

test('entries() follows appends made while it runs and skips what is released meanwhile (the mover pattern)', async () => {
  const tmp = tempDir();
  try {
    const j = await openSpillJournal(tmp.path, { maxBytes: 1 << 20, segmentBytes: 300 });
    await fill(j, 1, 10);
    const seen: number[] = [];
    for await (const e of j.entries()) {
      seen.push(e.pos.seq);
      assert.equal(e.payload.toString(), payload(e.pos.seq).toString());
      if (e.pos.seq === 5) await fill(j, 11, 20);
      // Deletes the segments up to entry 15, including the one being read.
      if (e.pos.seq === 12) await j.release({ seq: 15 });
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 17, 18, 19, 20]);
    await j.close();
  } finally {
    tmp.remove();
  }
});

/** A closed journal of 20 entries over several segments; returns the last segment's path. */
async function journalOf20(dir: string): Promise<string> {
  const j = await openSpillJournal(dir, { maxBytes: 1 << 20, segmentBytes: 300 });
  await fill(j, 1, 20);
  await j.close();
  const files = segments(dir);
  assert.ok(files.length >= 3);
  return join(dir, files[files.length - 1]!);
}

test('a torn tail of the last segment is cut away at open and everything before it survives', async () => {
  const cases: { name: string; damage(last: string): void; survivors: number }[] = [
    { name: 'cut short by 3 bytes', damage: (f) => truncateSync(f, statSync(f).size - 3), survivors: 19 },
    { name: 'a partial header', damage: (f) => appendFileSync(f, Buffer.from([0, 0, 0])), survivors: 20 },
    { name: 'garbage appended', damage: (f) => appendFileSync(f, 'garbage! not an entry'), survivors: 20 },
    { name: 'zeroed blocks appended', damage: (f) => appendFileSync(f, Buffer.alloc(4096)), survivors: 20 },
    {
      name: 'a CRC mismatch in the last entry',
      damage: (f) => {
        const b = readFileSync(f);
        b[b.length - 1] = b[b.length - 1]! ^ 0x01;
        writeFileSync(f, b);
      },
      survivors: 19,
    },
  ];
  for (const c of cases) {
    const tmp = tempDir();
    try {
      const last = await journalOf20(tmp.path);
      const sizeBefore = statSync(last).size;
      c.damage(last);
      const damagedSize = statSync(last).size;
      const j = await openSpillJournal(tmp.path, { maxBytes: 1 << 20, segmentBytes: 300 });
      const held = await collect(j);
      assert.equal(held.length, c.survivors, c.name);
      assert.deepEqual(
        held.map((e) => e.payload.toString()),
        Array.from({ length: c.survivors }, (_, i) => payload(i + 1).toString()),
        c.name,
      );
      assert.ok(j.truncatedTail, c.name);
      assert.equal(j.truncatedTail.file, last, c.name);
      assert.equal(j.truncatedTail.offset + j.truncatedTail.bytes, damagedSize, c.name);
      assert.equal(statSync(last).size, c.survivors === 20 ? sizeBefore : j.truncatedTail.offset, c.name);
      // Appends continue right after the last good entry, and survive another reopen.
      assert.equal((await j.append([payload(99)])).seq, c.survivors + 1, c.name);
      await j.close();
      const again = await openSpillJournal(tmp.path, { maxBytes: 1 << 20, segmentBytes: 300 });
      assert.equal(again.truncatedTail, null, c.name);
      assert.equal((await collect(again)).length, c.survivors + 1, c.name);
      await again.close();
    } finally {
      tmp.remove();
    }
  }
});

test('damage that is not a torn tail refuses to open with RAMPART_LEDGER_SPILL_CORRUPT naming file and offset', async () => {
  // A flipped byte in an earlier segment.
  let tmp = tempDir();
  try {
    await journalOf20(tmp.path);
    const first = join(tmp.path, segments(tmp.path)[0]!);
    const b = readFileSync(first);
    const secondEntry = 8 + b.readUInt32BE(0);
    b[secondEntry + 8 + 2] = b[secondEntry + 8 + 2]! ^ 0x20;
    writeFileSync(first, b);
    const err = await rejectsWith(openSpillJournal(tmp.path, { maxBytes: 1 << 20 }), 'RAMPART_LEDGER_SPILL_CORRUPT');
    assert.equal(err.file, first);
    assert.equal(err.offset, secondEntry);
    assert.match(err.message, new RegExp(`${segments(tmp.path)[0]!}.*offset ${secondEntry}.*CRC-32`));
    // The failed open left no lock behind.
    assert.equal(existsSync(join(tmp.path, 'LOCK')), false);
  } finally {
    tmp.remove();
  }

  // Damage in the middle of the last segment, valid entries after it: a flipped payload byte, and
  // a flipped bit in a length field (the entries after it can no longer be framed from there).
  for (const where of ['payload', 'length'] as const) {
    tmp = tempDir();
    try {
      const j = await openSpillJournal(tmp.path, { maxBytes: 1 << 20 });
      await fill(j, 1, 20);
      await j.close();
      const only = join(tmp.path, segments(tmp.path)[0]!);
      const b = readFileSync(only);
      let off = 0;
      for (let i = 0; i < 5; i++) off += 8 + b.readUInt32BE(off);
      if (where === 'payload') b[off + 8] = b[off + 8]! ^ 0x01;
      else b[off] = b[off]! ^ 0x40;
      writeFileSync(only, b);
      const err = await rejectsWith(openSpillJournal(tmp.path, { maxBytes: 1 << 20 }), 'RAMPART_LEDGER_SPILL_CORRUPT');
      assert.equal(err.file, only, where);
      assert.equal(err.offset, off, where);
      assert.match(err.message, /valid entries follow/, where);
      assert.equal(statSync(only).size, b.length, `${where}: nothing was cut`);
    } finally {
      tmp.remove();
    }
  }

  // A segment missing between two others.
  tmp = tempDir();
  try {
    await journalOf20(tmp.path);
    unlinkSync(join(tmp.path, segments(tmp.path)[1]!));
    const err = await rejectsWith(openSpillJournal(tmp.path, { maxBytes: 1 << 20 }), 'RAMPART_LEDGER_SPILL_CORRUPT');
    assert.match(err.message, /entries are missing or duplicated/);
  } finally {
    tmp.remove();
  }
});

test('one writer per folder: a live holder is RAMPART_LEDGER_SPILL_LOCKED, a dead one is taken over', async () => {
  const tmp = tempDir();
  try {
    const j = await openSpillJournal(tmp.path, { maxBytes: 1 << 20 });
    await j.append([payload(1)]);
    const err = await rejectsWith(openSpillJournal(tmp.path, { maxBytes: 1 << 20 }), 'RAMPART_LEDGER_SPILL_LOCKED');
    assert.match(err.message, new RegExp(`process ${process.pid}`));
    await j.close();

    // A lock left by a process that has exited.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(tmp.path, 'LOCK'), `${dead} 12345\n`);
    let k = await openSpillJournal(tmp.path, { maxBytes: 1 << 20 });
    assert.match(readFileSync(join(tmp.path, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} `));
    assert.equal((await collect(k)).length, 1);
    await k.close();

    // A lock naming this pid but another start time: an earlier process that had the same pid.
    writeFileSync(join(tmp.path, 'LOCK'), `${process.pid} 1\n`);
    k = await openSpillJournal(tmp.path, { maxBytes: 1 << 20 });
    await k.close();
    assert.equal(existsSync(join(tmp.path, 'LOCK')), false);
  } finally {
    tmp.remove();
  }
});

test('entry limits: empty and over-64-MiB entries are RangeErrors, an empty group a TypeError', async () => {
  const tmp = tempDir();
  try {
    const j = await openSpillJournal(tmp.path, { maxBytes: 256 << 20 });
    await assert.rejects(j.append([Buffer.alloc(0)]), RangeError);
    await assert.rejects(j.append([Buffer.alloc(SPILL_MAX_ENTRY_BYTES + 1)]), RangeError);
    await assert.rejects(j.append([]), TypeError);
    assert.equal(j.bytes, 0);
    const big = Buffer.alloc(SPILL_MAX_ENTRY_BYTES, 1);
    assert.equal((await j.append([big])).seq, 1);
    const [e] = await collect(j);
    assert.equal(e!.payload.length, SPILL_MAX_ENTRY_BYTES);
    await j.close();
  } finally {
    tmp.remove();
  }
});
