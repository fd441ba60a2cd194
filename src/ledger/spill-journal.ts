/**
 * The spill journal behind the ledger's "buffered" durability mode (DESIGN.md, the ledger: "a
 * bounded queue and an fsynced spill file, and a full spill means 503, never a silent drop"; the
 * non-negotiable "a crash or kill loses no acknowledged audit record"). A failure is an error the
 * writer turns into an alert (AU-5); damage is detected and refused, never papered over (AU-9).
 *
 *   append() ──▶ pending ──▶ one group (≤ segmentBytes) ──▶ write + fdatasync ──▶ every append
 *                   ▲          into the active segment         (new segment: its     of the group
 *                   └── appends gather here while a group      folder entry is       resolves
 *                       is being written (group commit)        fsynced as well)
 *
 *   entries(from) ◀── segments on disk, acknowledged entries only, in append order
 *   release(upTo) ──▶ RELEASED file (atomic, fsynced) ──▶ whole released segments deleted
 *
 * What it guarantees:
 * - append() resolves only once its entries are on disk (fdatasync), so an acknowledged entry
 *   survives a kill or a power cut; a group that failed to write or sync rejects with
 *   RAMPART_LEDGER_SPILL_FAILED and the journal refuses every later append until it is reopened,
 *   because after a failed fsync the page cache no longer says what is on disk ("fsyncgate").
 * - The journal never holds more than maxBytes: an append that would go beyond it is refused
 *   whole with RAMPART_LEDGER_SPILL_FULL (the gateway answers 503), never dropped silently.
 * - Each entry carries its CRC-32, and each entry gets a journal sequence number (1, 2, 3, ... in
 *   append order, never reused) that is implied by the segment file names
 *   (`spill-<16 hex digits of the segment's first seq>.log`) and the entries' order (R17a4-7).
 * - At open, a torn tail of the LAST segment (never acknowledged: acks wait for the sync) is cut
 *   away; damage anywhere else, a gap between segments, or a bad entry followed by valid ones is
 *   RAMPART_LEDGER_SPILL_CORRUPT naming the file and offset: acknowledged data is never skipped.
 * - Entries whose append was not acknowledged (it failed, or a crash came first) may or may not be
 *   there after reopening: what is replayed is every acknowledged entry plus possibly some of
 *   those, never fewer (the same as a store commit whose reply was lost).
 * - One writer per folder: a LOCK file holding the owner's pid (and its start time, so that a
 *   reused pid is not mistaken for the owner); a lock left by a dead process is taken over.
 *
 * Entry format: u32 BE payload length || u32 BE CRC-32 (zlib.crc32) of the payload || payload.
 * Payloads are 1 byte to 64 MiB: a zero length is never valid, so zeroed blocks that a crash left
 * at the end of a file (whose CRC-32 of nothing would be 0) never read as entries.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { createPrivateFileOnce, replacePrivateFile } from '../core/private-file.js';

/** Where an entry sits in the journal: its sequence number (1, 2, 3, ... in append order). */
export interface SpillPosition {
  readonly seq: number;
}

export interface SpillEntry {
  readonly pos: SpillPosition;
  readonly payload: Buffer;
}

export interface SpillJournalOptions {
  /** Most bytes the journal may hold on disk (entries and their 8-byte headers). */
  maxBytes: number;
  /** A segment file is closed and a new one started when a group would take it past this (default 16 MiB). */
  segmentBytes?: number;
}

export interface SpillStats {
  /** append() calls that resolved. */
  appends: number;
  /** Entries those calls held. */
  entries: number;
  /** fdatasync calls on segment files (one per group commit). */
  syncs: number;
}

/** What open() cut from the end of the last segment (a write that was never acknowledged). */
export interface SpillTruncation {
  file: string;
  offset: number;
  bytes: number;
  reason: string;
}

export interface SpillJournal {
  /**
   * Appends entries (opaque payloads, 1 byte to 64 MiB each) as one group; resolves once they are
   * written and fdatasync'd, with the position of the last one. Concurrent calls coalesce into one
   * write and one sync. Rejects with RAMPART_LEDGER_SPILL_FULL (nothing written) when the journal
   * would exceed maxBytes, RAMPART_LEDGER_SPILL_FAILED when the write or sync failed (the journal
   * then refuses appends until reopened), RAMPART_LEDGER_SPILL_CLOSED after close().
   */
  append(entries: readonly Buffer[]): Promise<SpillPosition>;
  /**
   * Every acknowledged entry after `from` (exclusive) that has not been released, in append order.
   * Entries appended while iterating are included once they are acknowledged; the iteration ends
   * when it has caught up. Throws RAMPART_LEDGER_SPILL_CORRUPT if an entry on disk went bad.
   */
  entries(from?: SpillPosition): AsyncIterable<SpillEntry>;
  /**
   * Everything up to and including `upTo` has reached the store. The release point is written
   * durably first (so a replay after a crash starts after it), then whole segments at or before it
   * are deleted and the folder fsynced. A RangeError if `upTo` is beyond the last acknowledged
   * entry; RAMPART_LEDGER_SPILL_FAILED if the release point cannot be written.
   */
  release(upTo: SpillPosition): Promise<void>;
  /** Bytes of segment files on disk (acknowledged entries, released ones of a partly released segment included). */
  readonly bytes: number;
  readonly maxBytes: number;
  readonly stats: SpillStats;
  /** The torn tail open() removed, or null. */
  readonly truncatedTail: SpillTruncation | null;
  /** Lets queued appends settle, closes the files and removes the LOCK. */
  close(): Promise<void>;
}

export type SpillErrorCode =
  | 'RAMPART_LEDGER_SPILL_FULL'
  | 'RAMPART_LEDGER_SPILL_FAILED'
  | 'RAMPART_LEDGER_SPILL_CORRUPT'
  | 'RAMPART_LEDGER_SPILL_LOCKED'
  | 'RAMPART_LEDGER_SPILL_CLOSED';

/** A spill journal failure with a stable code; `file` and `offset` say where, when known. */
export class SpillJournalError extends Error {
  readonly code: SpillErrorCode;
  readonly file: string | undefined;
  readonly offset: number | undefined;
  constructor(code: SpillErrorCode, message: string, options?: { cause?: unknown; file?: string; offset?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SpillJournalError';
    this.code = code;
    this.file = options?.file;
    this.offset = options?.offset;
  }
}

/** Largest payload of one entry. */
export const SPILL_MAX_ENTRY_BYTES = 64 * 1024 * 1024;
/** Bytes each entry takes on disk besides its payload (length and CRC-32). */
export const SPILL_ENTRY_OVERHEAD = 8;

const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
/** Every STRIDE-th entry's offset is remembered, so entries(from) seeks instead of scanning a segment. */
const STRIDE = 64;
const READ_CHUNK = 1024 * 1024;
const SEGMENT_NAME = /^spill-([0-9a-f]{16})\.log$/;
const LOCK = 'LOCK';
const RELEASED = 'RELEASED';

interface Segment {
  readonly firstSeq: number;
  readonly path: string;
  /** Acknowledged (synced) entries in the file. */
  count: number;
  /** Bytes of those entries: where the next group is written. */
  size: number;
  /** marks[k] = offset of entry firstSeq + k * STRIDE. */
  marks: number[];
  /** Open for writing while this is the active (last) segment. */
  fh: FileHandle | null;
}

interface Pending {
  frame: Buffer;
  lengths: number[];
  resolve(pos: SpillPosition): void;
  reject(err: unknown): void;
}

/** Files held by this process's open journals: a LOCK naming this pid is live only if listed here. */
const heldLocks = new Set<string>();

/**
 * Opens (creating if needed) the spill journal in `dir`, takes its lock, checks every segment and
 * cuts a torn tail from the last one. Replay what it holds with `entries()` before new appends.
 *
 * @example
 * const journal = await openSpillJournal('/var/lib/rampart/spill', { maxBytes: 1 << 30 });
 * for await (const { pos, payload } of journal.entries()) await moveToStore(payload, pos);
 * const pos = await journal.append([Buffer.from(JSON.stringify(record))]); // durable: acknowledge
 * // ... once the store has committed everything up to pos:
 * await journal.release(pos);
 */
export async function openSpillJournal(dir: string, opts: SpillJournalOptions): Promise<SpillJournal> {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('spill journal: dir must be a non-empty path');
  if (!opts || !Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 1) throw new TypeError('spill journal: opts.maxBytes must be a positive integer');
  const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) throw new TypeError('spill journal: opts.segmentBytes must be a positive integer');
  const maxBytes = opts.maxBytes;
  dir = resolve(dir);

  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  // A new folder's own entry must be durable too, or a power cut could lose the whole journal.
  if (created !== undefined) await syncDirStrict(dirname(created));
  const lockPath = join(dir, LOCK);
  const lockBody = await acquireLock(dir, lockPath);
  let state: Opened;
  try {
    state = await recover(dir);
  } catch (err) {
    await releaseLock(lockPath, lockBody);
    throw err;
  }
  return createJournal(dir, lockPath, lockBody, state, maxBytes, segmentBytes);
}

interface Opened {
  segments: Segment[];
  released: number;
  nextSeq: number;
  truncated: SpillTruncation | null;
}

/** Reads the folder back: release point, segments checked in order, torn tail cut, released segments deleted. */
async function recover(dir: string): Promise<Opened> {
  const names = await readdir(dir);
  for (const name of names) {
    // Temporary files of an interrupted release-point write or lock creation (src/core/private-file.ts).
    if (/^\.RELEASED\..*\.tmp$/.test(name)) await unlink(join(dir, name)).catch(() => {});
    const lockTmp = /^\.LOCK\.(?:stale\.)?(\d+)\.[0-9a-f]+(?:\.tmp)?$/.exec(name);
    if (lockTmp && !pidExists(Number(lockTmp[1]))) await unlink(join(dir, name)).catch(() => {});
  }
  const released = await readReleasePoint(join(dir, RELEASED));
  const found: { firstSeq: number; path: string }[] = [];
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (!m) continue;
    const first = BigInt(`0x${m[1]!}`);
    if (first < 1n || first > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new SpillJournalError('RAMPART_LEDGER_SPILL_CORRUPT', `spill journal: segment ${join(dir, name)} has an impossible first sequence number`, { file: join(dir, name), offset: 0 });
    }
    found.push({ firstSeq: Number(first), path: join(dir, name) });
  }
  found.sort((a, b) => a.firstSeq - b.firstSeq);

  const segments: Segment[] = [];
  let truncated: SpillTruncation | null = null;
  for (let i = 0; i < found.length; i++) {
    const { firstSeq, path } = found[i]!;
    const isLast = i === found.length - 1;
    const prev = segments[segments.length - 1];
    const expected = prev ? prev.firstSeq + prev.count : released + 1;
    // A later start than expected means entries are missing (a deleted or lost segment); an earlier
    // one means two segments claim the same entries. Either way the journal cannot be trusted.
    if (prev ? firstSeq !== expected : firstSeq > expected) {
      throw new SpillJournalError(
        'RAMPART_LEDGER_SPILL_CORRUPT',
        `spill journal: segment ${path} starts at entry ${firstSeq} but entry ${expected} was expected next (${prev ? `after ${prev.path}` : `after the release point ${released}`}); entries are missing or duplicated`,
        { file: path, offset: 0 },
      );
    }
    const buf = await readFile(path);
    const scan = scanSegment(buf);
    if (scan.bad) {
      const { offset, reason } = scan.bad;
      if (!isLast) {
        throw new SpillJournalError('RAMPART_LEDGER_SPILL_CORRUPT', `spill journal: ${path} is damaged at offset ${offset} (${reason}) and is not the last segment; acknowledged entries may be lost, so the journal will not open`, { file: path, offset });
      }
      if (validDataFollows(buf, offset)) {
        throw new SpillJournalError('RAMPART_LEDGER_SPILL_CORRUPT', `spill journal: ${path} is damaged at offset ${offset} (${reason}) and valid entries follow; this is not a torn tail, so the journal will not open`, { file: path, offset });
      }
      // A write that never completed its sync, hence never acknowledged: cut it away durably.
      const fh = await open(path, 'r+');
      try {
        await fh.truncate(offset);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      truncated = { file: path, offset, bytes: buf.length - offset, reason };
    }
    segments.push({ firstSeq, path, count: scan.count, size: scan.end, marks: scan.marks, fh: null });
  }

  // Segments wholly at or before the release point: the deletion after the last release may not have happened.
  let removed = false;
  while (segments.length > 0 && segments[0]!.firstSeq + segments[0]!.count - 1 <= released) {
    await unlink(segments.shift()!.path);
    removed = true;
  }
  if (removed) await syncDirStrict(dir);
  const last = segments[segments.length - 1];
  const nextSeq = last ? last.firstSeq + last.count : released + 1;
  if (last) last.fh = await open(last.path, 'r+');
  return { segments, released, nextSeq, truncated };
}

interface Scan {
  count: number;
  end: number;
  marks: number[];
  bad?: { offset: number; reason: string };
}

function scanSegment(buf: Buffer): Scan {
  const marks: number[] = [];
  let off = 0;
  let count = 0;
  while (off < buf.length) {
    const f = frameAt(buf, off);
    if (typeof f === 'string') return { count, end: off, marks, bad: { offset: off, reason: f } };
    if (count % STRIDE === 0) marks.push(off);
    count++;
    off = f;
  }
  return { count, end: off, marks };
}

/** The offset just after the entry at `off`, or why there is no valid entry there. */
function frameAt(buf: Buffer, off: number): number | string {
  if (buf.length - off < SPILL_ENTRY_OVERHEAD) return `partial entry header (${buf.length - off} of 8 bytes)`;
  const len = buf.readUInt32BE(off);
  if (len === 0 || len > SPILL_MAX_ENTRY_BYTES) return `impossible payload length ${len}`;
  const end = off + SPILL_ENTRY_OVERHEAD + len;
  if (end > buf.length) return `payload cut short (${buf.length - off - SPILL_ENTRY_OVERHEAD} of ${len} bytes)`;
  if (crc32(buf.subarray(off + SPILL_ENTRY_OVERHEAD, end)) !== buf.readUInt32BE(off + 4)) return 'CRC-32 mismatch';
  return end;
}

/**
 * True if, somewhere after the bad entry at `bad`, a run of valid entries ends exactly at the end
 * of the file: then the damage is in the middle (a flipped bit in acknowledged data, say), not a
 * torn tail, and cutting there would lose acknowledged entries. Headers are checked first and
 * CRCs only for a run whose lengths line up, so a tail of random bytes is dismissed quickly.
 */
function validDataFollows(buf: Buffer, bad: number): boolean {
  const runEndsAtEof = (start: number, checkCrc: boolean): boolean => {
    let off = start;
    while (off < buf.length) {
      if (buf.length - off < SPILL_ENTRY_OVERHEAD) return false;
      const len = buf.readUInt32BE(off);
      if (len === 0 || len > SPILL_MAX_ENTRY_BYTES || off + SPILL_ENTRY_OVERHEAD + len > buf.length) return false;
      if (checkCrc && crc32(buf.subarray(off + SPILL_ENTRY_OVERHEAD, off + SPILL_ENTRY_OVERHEAD + len)) !== buf.readUInt32BE(off + 4)) return false;
      off += SPILL_ENTRY_OVERHEAD + len;
    }
    return true;
  };
  for (let p = bad + 1; p + SPILL_ENTRY_OVERHEAD < buf.length; p++) {
    if (runEndsAtEof(p, false) && runEndsAtEof(p, true)) return true;
  }
  return false;
}

async function readReleasePoint(path: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const m = /^(\d{1,16})\n?$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new SpillJournalError('RAMPART_LEDGER_SPILL_CORRUPT', `spill journal: ${path} does not hold a release point (expected a decimal entry number)`, { file: path, offset: 0 });
  }
  return n;
}

function createJournal(dir: string, lockPath: string, lockBody: string, state: Opened, maxBytes: number, segmentBytes: number): SpillJournal {
  const segments = state.segments;
  let active: Segment | null = segments[segments.length - 1] ?? null;
  let released = state.released;
  /** Sequence number the next acknowledged entry gets; everything below it is durable. */
  let nextSeq = state.nextSeq;
  let bytes = segments.reduce((n, s) => n + s.size, 0);
  /** Bytes of appends accepted but not yet written: counted against maxBytes. */
  let reserved = 0;
  const pending: Pending[] = [];
  let writeScheduled = false;
  let failure: SpillJournalError | null = null;
  let closed = false;
  let closing: Promise<void> | null = null;
  const stats: SpillStats = { appends: 0, entries: 0, syncs: 0 };

  /** Runs segment-changing work (a group write, a rollover, a deletion) one at a time, in order. */
  let tail: Promise<void> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = tail.then(fn);
    tail = run.then(noop, noop);
    return run;
  }
  /** Releases run one at a time (the release point only moves forward). */
  let releasing: Promise<void> = Promise.resolve();

  function scheduleWrite(): void {
    if (writeScheduled) return;
    writeScheduled = true;
    void exclusive(writeGroup);
  }

  /** Starts a new segment at nextSeq: created exclusively, its folder entry made durable. */
  async function roll(): Promise<Segment> {
    const path = join(dir, segmentName(nextSeq));
    const fh = await open(path, 'wx', 0o600);
    const seg: Segment = { firstSeq: nextSeq, path, count: 0, size: 0, marks: [], fh };
    if (active?.fh) {
      // Everything in it is synced already; a failing close loses nothing.
      await active.fh.close().catch(noop);
      active.fh = null;
    }
    segments.push(seg);
    active = seg;
    await syncDirStrict(dir);
    return seg;
  }

  async function writeGroup(): Promise<void> {
    // Appends made from here on gather into the next group (group commit).
    writeScheduled = false;
    if (pending.length === 0) return;
    let k = 0;
    let groupBytes = 0;
    while (k < pending.length) {
      const n = pending[k]!.frame.length;
      if (k > 0 && groupBytes + n > segmentBytes) break;
      groupBytes += n;
      k++;
    }
    const group = pending.splice(0, k);
    if (pending.length > 0) scheduleWrite();
    let seg: Segment | null = active;
    try {
      if (!seg || (seg.count > 0 && seg.size + groupBytes > segmentBytes)) seg = await roll();
      const buf = group.length === 1 ? group[0]!.frame : Buffer.concat(group.map((p) => p.frame), groupBytes);
      await writeAll(seg.fh!, buf, seg.size);
      await seg.fh!.datasync();
      stats.syncs++;
    } catch (err) {
      await fail(err, group, seg);
      return;
    }
    // Durable: only now do the entries get their sequence numbers and the callers their answer.
    let off = seg.size;
    let seq = nextSeq;
    for (const p of group) {
      for (const len of p.lengths) {
        if ((seq - seg.firstSeq) % STRIDE === 0) seg.marks.push(off);
        off += SPILL_ENTRY_OVERHEAD + len;
        seq++;
      }
    }
    seg.size = off;
    seg.count += seq - nextSeq;
    bytes += groupBytes;
    reserved -= groupBytes;
    let last = nextSeq - 1;
    nextSeq = seq;
    for (const p of group) {
      last += p.lengths.length;
      stats.appends++;
      stats.entries += p.lengths.length;
      p.resolve({ seq: last });
    }
  }

  /** A write or sync failed: this group and everything queued fail, and so does every later append. */
  async function fail(err: unknown, group: Pending[], seg: Segment | null): Promise<void> {
    const where = seg ? seg.path : join(dir, segmentName(nextSeq));
    failure = new SpillJournalError(
      'RAMPART_LEDGER_SPILL_FAILED',
      `spill journal: writing or syncing ${where} failed (${messageOf(err)}); what reached the disk is unknown, so the journal refuses appends until it is reopened`,
      { cause: err, file: where },
    );
    const all = [...group, ...pending.splice(0)];
    reserved = 0;
    // Best effort: drop the unacknowledged bytes so that a reopen in this process does not replay
    // them from the page cache. Nothing depends on it: open() cuts a torn tail, and whole entries
    // that were never acknowledged may be replayed like those of any write a crash interrupted.
    if (seg?.fh) await seg.fh.truncate(seg.size).catch(noop);
    for (const p of all) p.reject(failure);
  }

  function frameOf(entries: readonly Buffer[]): { frame: Buffer; lengths: number[] } {
    let total = 0;
    const lengths: number[] = [];
    for (const e of entries) {
      if (!(e instanceof Uint8Array)) throw new TypeError('spill journal: every entry must be a Buffer');
      if (e.length === 0) throw new RangeError('spill journal: an entry must not be empty');
      if (e.length > SPILL_MAX_ENTRY_BYTES) throw new RangeError(`spill journal: an entry of ${e.length} bytes is over the ${SPILL_MAX_ENTRY_BYTES}-byte limit`);
      lengths.push(e.length);
      total += SPILL_ENTRY_OVERHEAD + e.length;
    }
    if (bytes + reserved + total > maxBytes) {
      throw new SpillJournalError(
        'RAMPART_LEDGER_SPILL_FULL',
        `spill journal: full (${bytes} bytes held and ${reserved} queued; ${total} more would pass the ${maxBytes}-byte bound)`,
      );
    }
    // Copied now (with the CRCs): a caller that reuses its buffer cannot change what gets written.
    const frame = Buffer.allocUnsafe(total);
    let off = 0;
    for (const e of entries) {
      frame.writeUInt32BE(e.length, off);
      frame.writeUInt32BE(crc32(e), off + 4);
      frame.set(e, off + SPILL_ENTRY_OVERHEAD);
      off += SPILL_ENTRY_OVERHEAD + e.length;
    }
    return { frame, lengths };
  }

  function append(entries: readonly Buffer[]): Promise<SpillPosition> {
    if (closed) return Promise.reject(closedError());
    if (failure) return Promise.reject(failure);
    if (!Array.isArray(entries) || entries.length === 0) return Promise.reject(new TypeError('spill journal: append needs a non-empty array of entries'));
    let framed: { frame: Buffer; lengths: number[] };
    try {
      framed = frameOf(entries);
    } catch (err) {
      return Promise.reject(err);
    }
    reserved += framed.frame.length;
    const p = new Promise<SpillPosition>((resolve, reject) => {
      pending.push({ ...framed, resolve, reject });
    });
    scheduleWrite();
    return p;
  }

  /** The segment holding entry `seq`, if any. */
  function segmentHolding(seq: number): Segment | undefined {
    let lo = 0;
    let hi = segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = segments[mid]!;
      if (seq < s.firstSeq) hi = mid - 1;
      else if (seq >= s.firstSeq + s.count) lo = mid + 1;
      else return s;
    }
    return undefined;
  }

  async function* entries(from?: SpillPosition): AsyncGenerator<SpillEntry> {
    if (from !== undefined) checkPosition(from, 'entries');
    if (closed) throw closedError();
    let next = Math.max(from?.seq ?? 0, released) + 1;
    while (true) {
      const seg = segmentHolding(next);
      if (!seg) {
        // Released (and deleted) while we were reading: continue after the release point.
        if (next <= released) {
          next = released + 1;
          continue;
        }
        return;
      }
      const k = Math.floor((next - seg.firstSeq) / STRIDE);
      let seq = seg.firstSeq + k * STRIDE;
      let fh: FileHandle;
      try {
        fh = await open(seg.path, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && next <= released) {
          next = released + 1;
          continue;
        }
        throw new SpillJournalError('RAMPART_LEDGER_SPILL_CORRUPT', `spill journal: cannot read ${seg.path} (${messageOf(err)})`, { cause: err, file: seg.path });
      }
      try {
        const reader = new SegmentReader(fh, seg, seg.marks[k]!);
        // seg.count grows while this is the active segment: newly acknowledged entries are read too.
        while (seq < seg.firstSeq + seg.count) {
          const payload = await reader.next();
          // Entries released while iterating are no longer held: skipped.
          if (seq >= next && seq > released) {
            next = seq + 1;
            yield { pos: { seq }, payload };
          }
          seq++;
        }
        next = Math.max(next, seq);
      } finally {
        await fh.close();
      }
    }
  }

  async function release(upTo: SpillPosition): Promise<void> {
    checkPosition(upTo, 'release');
    if (closed) throw closedError();
    if (upTo.seq > nextSeq - 1) {
      throw new RangeError(`spill journal: cannot release entry ${upTo.seq}; the last acknowledged entry is ${nextSeq - 1}`);
    }
    const run = releasing.then(() => doRelease(upTo.seq));
    releasing = run.then(noop, noop);
    return run;
  }

  async function doRelease(upTo: number): Promise<void> {
    if (upTo <= released) return;
    // The release point first: a crash after it and before the deletions only leaves segments
    // that open() deletes; a crash before it replays entries the store already has (harmless).
    try {
      await replacePrivateFile(join(dir, RELEASED), `${upTo}\n`, 'spill journal release point');
    } catch (err) {
      throw new SpillJournalError('RAMPART_LEDGER_SPILL_FAILED', `spill journal: cannot record release point ${upTo} in ${join(dir, RELEASED)} (${messageOf(err)})`, { cause: err, file: join(dir, RELEASED) });
    }
    released = upTo;
    await exclusive(async () => {
      let removed = false;
      try {
        while (segments.length > 0) {
          const s = segments[0]!;
          // An empty active segment is where the next group goes: keep it.
          if (s.count === 0 || s.firstSeq + s.count - 1 > released) break;
          if (s.fh) {
            await s.fh.close().catch(noop);
            s.fh = null;
          }
          await unlink(s.path);
          removed = true;
          segments.shift();
          bytes -= s.size;
          if (s === active) active = null;
        }
        if (removed) await syncDirStrict(dir);
      } catch (err) {
        throw new SpillJournalError('RAMPART_LEDGER_SPILL_FAILED', `spill journal: deleting released segments in ${dir} failed (${messageOf(err)})`, { cause: err, file: dir });
      }
    });
  }

  async function doClose(): Promise<void> {
    // Queued appends still get written (or fail); nothing new is accepted.
    while (pending.length > 0 || writeScheduled) await tail;
    await releasing;
    await exclusive(async () => {
      for (const s of segments) {
        if (s.fh) {
          await s.fh.close().catch(noop);
          s.fh = null;
        }
      }
    });
    await releaseLock(lockPath, lockBody);
  }

  return {
    append,
    entries,
    release,
    get bytes() {
      return bytes;
    },
    maxBytes,
    get stats() {
      return { ...stats };
    },
    truncatedTail: state.truncated,
    close() {
      closed = true;
      closing ??= doClose();
      return closing;
    },
  };
}

/** Reads entries of one segment sequentially from `offset`, in chunks, checking each CRC. */
class SegmentReader {
  private buf: Buffer = Buffer.alloc(0);
  /** File offset of buf[0]. */
  private bufAt: number;
  private cur = 0;
  constructor(
    private readonly fh: FileHandle,
    private readonly seg: Segment,
    offset: number,
  ) {
    this.bufAt = offset;
  }

  get offset(): number {
    return this.bufAt + this.cur;
  }

  async next(): Promise<Buffer> {
    const at = this.offset;
    await this.need(SPILL_ENTRY_OVERHEAD, at);
    const len = this.buf.readUInt32BE(this.cur);
    const crc = this.buf.readUInt32BE(this.cur + 4);
    if (len === 0 || len > SPILL_MAX_ENTRY_BYTES) throw this.corrupt(at, `impossible payload length ${len}`);
    await this.need(SPILL_ENTRY_OVERHEAD + len, at);
    const start = this.cur + SPILL_ENTRY_OVERHEAD;
    // Small payloads are copied, so that a caller holding one does not keep a whole read chunk
    // alive; a large one is most of its chunk anyway. Chunks are never written to once read.
    const slice = this.buf.subarray(start, start + len);
    const payload = len >= 64 * 1024 ? slice : Buffer.from(slice);
    if (crc32(payload) !== crc) throw this.corrupt(at, 'CRC-32 mismatch');
    this.cur = start + len;
    return payload;
  }

  /** Makes sure `n` bytes from the cursor are in memory; the entry at `at` is damaged if the file has fewer. */
  private async need(n: number, at: number): Promise<void> {
    const have = this.buf.length - this.cur;
    if (have >= n) return;
    const from = this.bufAt + this.buf.length;
    const want = Math.min(Math.max(n - have, READ_CHUNK), this.seg.size - from);
    if (have + want < n) throw this.corrupt(at, 'entry runs past the acknowledged end of the segment');
    const nb = Buffer.allocUnsafe(have + want);
    this.buf.copy(nb, 0, this.cur);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(nb, have + got, want - got, from + got);
      if (bytesRead === 0) throw this.corrupt(at, `file is shorter than its ${this.seg.size} acknowledged bytes`);
      got += bytesRead;
    }
    this.bufAt += this.cur;
    this.buf = nb;
    this.cur = 0;
  }

  private corrupt(offset: number, reason: string): SpillJournalError {
    return new SpillJournalError('RAMPART_LEDGER_SPILL_CORRUPT', `spill journal: ${this.seg.path} is damaged at offset ${offset} (${reason})`, { file: this.seg.path, offset });
  }
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`);
    done += bytesWritten;
  }
}

/** fsync of a folder, failing loudly: an acknowledged entry must not sit in a file whose name may vanish. */
async function syncDirStrict(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function segmentName(firstSeq: number): string {
  return `spill-${firstSeq.toString(16).padStart(16, '0')}.log`;
}

function checkPosition(pos: SpillPosition, what: string): void {
  if (typeof pos !== 'object' || pos === null || !Number.isSafeInteger(pos.seq) || pos.seq < 0) {
    throw new TypeError(`spill journal: ${what} needs a position { seq } from this journal`);
  }
}

function closedError(): SpillJournalError {
  return new SpillJournalError('RAMPART_LEDGER_SPILL_CLOSED', 'spill journal: closed');
}

function messageOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

function noop(): void {}

// ---- the lock ---------------------------------------------------------------------------------

/**
 * Takes the folder's LOCK: created exclusively (link() of a finished file, so nobody ever reads a
 * half-written one), holding "<pid> <process start time>". A LOCK whose process is gone, or whose
 * pid now belongs to a process started at another time, is moved aside and taken over.
 */
async function acquireLock(dir: string, lockPath: string): Promise<string> {
  const body = `${process.pid} ${(await startTimeOf(process.pid)) ?? '-'}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let made: boolean;
    try {
      made = await createPrivateFileOnce(lockPath, body, 'spill journal lock');
    } catch (err) {
      // A racing opener removed our temporary file (it thought its pid dead): try again.
      if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT') continue;
      throw new SpillJournalError('RAMPART_LEDGER_SPILL_FAILED', `spill journal: cannot create ${lockPath} (${messageOf(err)})`, { cause: err, file: lockPath });
    }
    if (made) {
      heldLocks.add(lockPath);
      return body;
    }
    let text: string;
    try {
      text = await readFile(lockPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const holder = /^(\d+) (\d+|-)\n$/.exec(text);
    if (holder) {
      const pid = Number(holder[1]);
      const started = holder[2] === '-' ? null : holder[2]!;
      if (await lockHolderAlive(lockPath, pid, started)) {
        throw new SpillJournalError('RAMPART_LEDGER_SPILL_LOCKED', `spill journal: ${dir} is in use by process ${pid} (${lockPath}); one writer per journal`, { file: lockPath });
      }
    }
    // Stale (or unreadable, which nobody writes: the file is created whole). Move it aside, and
    // make sure what was moved is what was judged stale, not a lock that a racing opener just took.
    const aside = join(dir, `.LOCK.stale.${process.pid}.${randomBytes(6).toString('hex')}`);
    try {
      await rename(lockPath, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const moved = await readFile(aside, 'utf8').catch(() => null);
    if (moved !== text) {
      await rename(aside, lockPath).catch(noop);
      continue;
    }
    await unlink(aside).catch(noop);
  }
  throw new SpillJournalError('RAMPART_LEDGER_SPILL_LOCKED', `spill journal: could not take ${lockPath}: other processes keep taking it`, { file: lockPath });
}

async function lockHolderAlive(lockPath: string, pid: number, started: string | null): Promise<boolean> {
  if (pid === process.pid) {
    const mine = await startTimeOf(pid);
    // This very process: live only if one of its journals holds it; otherwise it is left from an
    // earlier process that had the same pid (containers often start their main process as pid 1).
    if (started === null || mine === null || started === mine) return heldLocks.has(lockPath);
    return false;
  }
  if (!pidExists(pid)) return false;
  if (started === null) return true;
  const now = await startTimeOf(pid);
  // Unknown (no /proc): assume alive. A different start time: the pid was reused.
  return now === null || now === started;
}

function pidExists(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's start time in clock ticks since boot (Linux /proc), or null where unknown. */
async function startTimeOf(pid: number): Promise<string | null> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3,
    // starttime field 22.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const t = fields[19];
    return t && /^\d+$/.test(t) ? t : null;
  } catch {
    return null;
  }
}

async function releaseLock(lockPath: string, body: string): Promise<void> {
  heldLocks.delete(lockPath);
  // Only our own: never remove a lock that somebody took over meanwhile.
  const text = await readFile(lockPath, 'utf8').catch(() => null);
  if (text === body) await unlink(lockPath).catch(noop);
}
