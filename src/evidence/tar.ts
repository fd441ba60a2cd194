/**
 * The evidence package container: a gzip-compressed POSIX ustar archive (IEEE Std 1003.1,
 * "pax" utility, ustar interchange format). An examiner receives one file and opens it with any
 * `tar`, offline, with nothing of Rampart installed (R17a4-8: a reasonably usable electronic
 * format; R17a4-10: furnished promptly as legible, true, complete copies).
 *
 * The writer guarantees that what appears at `outPath` is a complete archive or nothing: entries
 * go, in the order added, through gzip into a private (0600) temporary file beside the target,
 * which is fsynced, then linked into place (never over an existing file unless asked) with the
 * folder entry made durable. Entry names are checked so that extracting the package cannot write
 * outside the examiner's folder or print terminal control sequences.
 *
 * The reader is written for hostile input (a package may have been tampered with on the way to
 * the examiner): it checks every header checksum, refuses the same bad names, accepts only
 * regular files and directories (no links, devices or FIFOs), bounds each entry and the total
 * decompressed size so a gzip bomb cannot exhaust memory, and reports truncation or corruption
 * naming the entry it was reading. It streams: one entry is in memory at a time.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, createReadStream, createWriteStream, existsSync, fsync, openSync, unlinkSync } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline as pipelineCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// Errors

/** The stable codes of evidence-package errors (to be registered in src/core/errors.ts). */
export type EvidenceErrorCode =
  | 'RAMPART_EVIDENCE_BAD_NAME'
  | 'RAMPART_EVIDENCE_TOO_LARGE'
  | 'RAMPART_EVIDENCE_CORRUPT'
  | 'RAMPART_EVIDENCE_UNSUPPORTED_ENTRY'
  | 'RAMPART_EVIDENCE_EXISTS'
  | 'RAMPART_EVIDENCE_BAD_MANIFEST';

/** An evidence-package problem; `switch (err.code)` narrows, `entry` names the archive entry. */
export class EvidenceError extends Error {
  readonly code: EvidenceErrorCode;
  /** The archive entry (or manifest file name) concerned, when there is one. */
  readonly entry: string | undefined;
  constructor(code: EvidenceErrorCode, message: string, options: { entry?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EvidenceError';
    this.code = code;
    this.entry = options.entry;
  }
}

// ---------------------------------------------------------------------------------------------
// Names

const BLOCK = 512;
const NAME_BYTES = 100;
const PREFIX_BYTES = 155;
/** prefix + '/' + name. */
export const MAX_NAME_BYTES = PREFIX_BYTES + 1 + NAME_BYTES;
/** 11 octal digits: the ustar size field's limit, 8 GiB - 1. */
const MAX_OCTAL_11 = 8 ** 11 - 1;

// C0 and C1 controls and DEL (terminal escapes, NUL truncation), and lone surrogates (which
// would not survive the UTF-8 round trip, so the name read back would differ).
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;

/**
 * A name quoted for an error message that may reach a terminal: JSON escapes C0 controls; C1
 * controls, DEL and bidirectional overrides are escaped as well so a hostile name cannot
 * rearrange or recolour what the examiner reads.
 */
export const quoteName = (name: string): string =>
  JSON.stringify(name).replace(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const show = quoteName;

/**
 * Throws RAMPART_EVIDENCE_BAD_NAME unless `name` is a safe relative archive path: non-empty,
 * '/'-separated segments none of which is empty, '.' or '..'; no leading '/', no backslash, no
 * control character (NUL included); at most 255 UTF-8 bytes and storable in ustar's prefix and
 * name fields. The writer, the reader and the manifest all apply this one rule.
 *
 * @example
 * checkEntryName('records/records.csv'); // ok
 * checkEntryName('../etc/passwd');       // throws RAMPART_EVIDENCE_BAD_NAME
 */
export function checkEntryName(name: string): void {
  const bad = (why: string): never => {
    throw new EvidenceError('RAMPART_EVIDENCE_BAD_NAME', `entry name ${show(name)} ${why}`, { entry: name });
  };
  if (typeof name !== 'string' || name.length === 0) bad('is empty');
  if (name.startsWith('/')) bad('is absolute');
  if (name.includes('\\')) bad('contains a backslash');
  if (BAD_CHARS.test(name)) bad('contains a control character (NUL included) or a lone surrogate');
  for (const seg of name.split('/')) {
    if (seg === '') bad('has an empty path segment (a doubled or trailing slash)');
    if (seg === '.' || seg === '..') bad(`has a '${seg}' segment`);
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) bad(`is ${bytes} UTF-8 bytes long; at most ${MAX_NAME_BYTES} fit a ustar header`);
  if (bytes > NAME_BYTES && splitName(Buffer.from(name, 'utf8')) === undefined) {
    bad(`cannot be split at a '/' into a prefix of at most ${PREFIX_BYTES} bytes and a name of at most ${NAME_BYTES} bytes`);
  }
}

/** ustar stores long paths as prefix '/' name; '/' never occurs inside a multi-byte UTF-8 character. */
function splitName(b: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (b.length <= NAME_BYTES) return { prefix: Buffer.alloc(0), name: b };
  for (let i = b.indexOf(0x2f); i !== -1; i = b.indexOf(0x2f, i + 1)) {
    if (b.length - i - 1 > NAME_BYTES) continue; // the name part is still too long: split further right
    if (i > PREFIX_BYTES || i === b.length - 1) return undefined;
    return { prefix: b.subarray(0, i), name: b.subarray(i + 1) };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Writer

/** Writes `value` as zero-padded octal in `len - 1` digits followed by NUL. */
function putOctal(h: Buffer, off: number, len: number, value: number): void {
  h.write(value.toString(8).padStart(len - 1, '0'), off, len - 1, 'latin1');
  h[off + len - 1] = 0;
}

function ustarHeader(nameBytes: Buffer, size: number, mtimeSec: number): Buffer {
  const parts = splitName(nameBytes)!; // checkEntryName made sure it splits
  const h = Buffer.alloc(BLOCK);
  parts.name.copy(h, 0);
  putOctal(h, 100, 8, 0o644); // mode
  putOctal(h, 108, 8, 0); // uid
  putOctal(h, 116, 8, 0); // gid
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, mtimeSec);
  h.write('0', 156, 'latin1'); // typeflag: regular file
  h.write('ustar\u000000', 257, 'latin1'); // magic "ustar\0" + version "00"
  putOctal(h, 329, 8, 0); // devmajor
  putOctal(h, 337, 8, 0); // devminor
  parts.prefix.copy(h, 345);
  // The checksum is the byte sum with the checksum field itself taken as eight spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

export interface TarWriterOptions {
  /** Replace an existing file at outPath (default false: RAMPART_EVIDENCE_EXISTS). */
  overwrite?: boolean;
  /** gzip level 0-9 (default 6). */
  level?: number;
}

export interface TarWriter {
  /**
   * Appends a regular file (mode 0644). `mtimeMs` defaults to now; it is stored in whole
   * seconds. Calls are written in call order even if not awaited one by one.
   */
  add(name: string, data: Buffer | string, mtimeMs?: number): Promise<void>;
  /** Ends the archive, fsyncs it and puts it at outPath; resolves with the compressed size. */
  close(): Promise<{ bytes: number; entries: number }>;
  /** Gives up: nothing appears at outPath and the temporary file is removed. */
  abort(): Promise<void>;
}

const fsyncAsync = promisify(fsync);

/**
 * Starts a .tar.gz at `outPath`. Nothing is visible there until close() resolves.
 *
 * @example
 * const tar = createTarWriter('/tmp/evidence.tar.gz');
 * await tar.add('manifest.json', manifestJson);
 * await tar.add('records/records.csv', csv);
 * const { bytes } = await tar.close();
 */
export function createTarWriter(outPath: string, options: TarWriterOptions = {}): TarWriter {
  const overwrite = options.overwrite === true;
  if (!overwrite && existsSync(outPath)) {
    // Checked up front too, so a long export does not fail only at the end.
    throw new EvidenceError('RAMPART_EVIDENCE_EXISTS', `${outPath} exists; refusing to replace it`);
  }
  const tmp = join(dirname(outPath), `.${basename(outPath)}.${process.pid}.${randomBytes(6).toString('hex')}.partial`);
  // Owner-only: the package may hold decrypted personal fields.
  const fd = openSync(tmp, 'wx', 0o600);
  const gzip = createGzip({ level: options.level ?? 6 });
  const file = createWriteStream(tmp, { fd, autoClose: false });
  let failure: unknown;
  const done = pipeline(gzip, file);
  done.catch((err: unknown) => {
    failure ??= err;
  });
  const names = new Set<string>();
  let tail: Promise<void> = Promise.resolve();
  let closed = false;
  let fdOpen = true;

  const write = async (buf: Buffer): Promise<void> => {
    if (failure !== undefined) throw failure;
    if (!gzip.write(buf)) await Promise.race([once(gzip, 'drain'), done]);
  };

  const discard = async (): Promise<void> => {
    gzip.destroy();
    await done.catch(() => {});
    if (fdOpen) {
      fdOpen = false;
      try {
        closeSync(fd);
      } catch {
        /* already gone */
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
  };

  return {
    add(name, data, mtimeMs) {
      if (closed) return Promise.reject(new TypeError('tar writer: add() after close() or abort()'));
      try {
        checkEntryName(name);
        if (names.has(name)) {
          throw new EvidenceError('RAMPART_EVIDENCE_BAD_NAME', `entry name ${show(name)} was added twice`, { entry: name });
        }
        const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
        if (buf.length > MAX_OCTAL_11) {
          throw new EvidenceError('RAMPART_EVIDENCE_TOO_LARGE', `entry ${show(name)} is ${buf.length} bytes; ustar holds at most ${MAX_OCTAL_11}`, { entry: name });
        }
        const ms = mtimeMs ?? Date.now();
        const sec = Math.floor(ms / 1000);
        if (!Number.isFinite(ms) || sec < 0 || sec > MAX_OCTAL_11) throw new TypeError(`tar writer: mtimeMs ${ms} is out of range`);
        names.add(name);
        const header = ustarHeader(Buffer.from(name, 'utf8'), buf.length, sec);
        const pad = (BLOCK - (buf.length % BLOCK)) % BLOCK;
        const step = tail.then(async () => {
          await write(header);
          if (buf.length > 0) await write(buf);
          if (pad > 0) await write(Buffer.alloc(pad));
        });
        tail = step.catch((err: unknown) => {
          failure ??= err;
        });
        return step;
      } catch (err) {
        return Promise.reject(err);
      }
    },

    async close() {
      if (closed) throw new TypeError('tar writer: close() after close() or abort()');
      closed = true;
      try {
        await tail;
        // End of archive: two zero blocks (POSIX ustar).
        await write(Buffer.alloc(2 * BLOCK));
        gzip.end();
        await done;
        await fsyncAsync(fd);
        fdOpen = false;
        closeSync(fd);
        if (overwrite) {
          await rename(tmp, outPath);
        } else {
          try {
            await link(tmp, outPath); // fails if the name exists: never replaces a package
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
              throw new EvidenceError('RAMPART_EVIDENCE_EXISTS', `${outPath} appeared while the package was written; refusing to replace it`, { cause: err });
            }
            throw err;
          }
          await unlink(tmp);
        }
        await syncDir(dirname(outPath));
        return { bytes: file.bytesWritten, entries: names.size };
      } catch (err) {
        await discard();
        throw err;
      }
    },

    async abort() {
      closed = true;
      await tail;
      await discard();
    },
  };
}

/** Makes the new folder entry durable (best effort: not every platform allows it). */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  if (!fh) return;
  await fh.sync().catch(() => {});
  await fh.close();
}

// ---------------------------------------------------------------------------------------------
// Reader

export interface TarReadLimits {
  /** The largest entry accepted, in bytes (RAMPART_EVIDENCE_TOO_LARGE beyond). */
  maxEntryBytes: number;
  /** The most decompressed bytes read in all, headers included (RAMPART_EVIDENCE_TOO_LARGE beyond). */
  maxTotalBytes: number;
}

export interface TarEntry {
  name: string;
  data: Buffer;
  /** Modification time from the header, whole seconds as milliseconds. */
  mtimeMs: number;
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  g: 'a pax global header',
  L: 'a GNU long name',
  K: 'a GNU long link name',
  S: 'a GNU sparse file',
  V: 'a GNU volume label',
  M: 'a GNU multi-volume continuation',
  D: 'a GNU dump directory',
};

/** A pax extended header larger than this is not a header but an attack. */
const MAX_PAX_BYTES = 64 * 1024;

/** Pulls exact byte counts out of a stream of chunks and counts everything that came out. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private total = 0;
  private eof = false;
  /** Describes the current position for error messages. */
  where = 'the first header';

  constructor(
    private readonly it: AsyncIterator<Buffer>,
    private readonly maxTotal: number,
  ) {}

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.eof) {
      const r = await this.it.next();
      if (r.done) {
        this.eof = true;
        break;
      }
      const c = r.value;
      this.total += c.length;
      if (this.total > this.maxTotal) {
        throw new EvidenceError('RAMPART_EVIDENCE_TOO_LARGE', `the archive expands to more than maxTotalBytes (${this.maxTotal}) while reading ${this.where}`);
      }
      if (c.length > 0) {
        this.chunks.push(c);
        this.buffered += c.length;
      }
    }
  }

  /** Up to `n` bytes: fewer only at the end of the stream. */
  async take(n: number): Promise<Buffer> {
    await this.fill(n);
    const m = Math.min(n, this.buffered);
    const first = this.chunks[0];
    if (first === undefined || m === 0) return Buffer.alloc(0);
    let out: Buffer;
    if (first.length >= m) {
      out = first.subarray(0, m);
      if (first.length === m) this.chunks.shift();
      else this.chunks[0] = first.subarray(m);
    } else {
      out = Buffer.allocUnsafe(m); // every byte is copied over below
      let at = 0;
      let used = 0;
      while (at < m) {
        const c = this.chunks[used]!;
        const k = Math.min(c.length, m - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) used++;
        else this.chunks[used] = c.subarray(k);
      }
      this.chunks.splice(0, used); // once: a large entry spans thousands of chunks
    }
    this.buffered -= m;
    return out;
  }

  /** True when nothing but zero bytes remains. */
  async restIsZero(): Promise<boolean> {
    for (;;) {
      const b = await this.take(64 * 1024);
      if (b.length === 0) return true;
      if (!isZero(b)) return false;
    }
  }
}

function isZero(b: Buffer): boolean {
  for (const byte of b) if (byte !== 0) return false;
  return true;
}

/** A NUL-terminated header field as raw bytes. */
function field(h: Buffer, off: number, len: number): Buffer {
  const f = h.subarray(off, off + len);
  const nul = f.indexOf(0);
  return nul === -1 ? f : f.subarray(0, nul);
}

/** An octal numeric field: optional leading spaces, digits, then NUL or spaces. NaN if malformed. */
function octalField(h: Buffer, off: number, len: number): number {
  const s = h.toString('latin1', off, off + len);
  const m = /^ *([0-7]+)[ \0]*$/.exec(s);
  return m ? parseInt(m[1]!, 8) : NaN;
}

function utf8Name(raw: Buffer, where: string): string {
  const s = raw.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(raw)) {
    throw new EvidenceError('RAMPART_EVIDENCE_BAD_NAME', `${where}: the entry name is not valid UTF-8`);
  }
  return s;
}

/** Parses pax records "LEN key=value\n" (POSIX pax, extended header). */
function parsePax(body: Buffer, where: string): Map<string, string> {
  const out = new Map<string, string>();
  const corrupt = () => new EvidenceError('RAMPART_EVIDENCE_CORRUPT', `${where}: malformed pax extended header`);
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // NUL padding after the last record
    const sp = body.indexOf(0x20, pos);
    if (sp === -1 || sp - pos > 20) throw corrupt();
    const digits = body.toString('latin1', pos, sp);
    if (!/^[1-9][0-9]*$/.test(digits)) throw corrupt();
    const len = Number(digits);
    const end = pos + len;
    if (end > body.length || body[end - 1] !== 0x0a) throw corrupt();
    const rec = body.toString('utf8', sp + 1, end - 1);
    const eq = rec.indexOf('=');
    if (eq <= 0) throw corrupt();
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    pos = end;
  }
  return out;
}

/**
 * Reads a .tar.gz entry by entry, validating as it goes (see the module comment). Regular files
 * are yielded; directories are checked and skipped; anything else is refused. Errors are
 * EvidenceErrors with codes RAMPART_EVIDENCE_CORRUPT, _TOO_LARGE, _BAD_NAME or
 * _UNSUPPORTED_ENTRY; a missing file gives the usual ENOENT error.
 *
 * @example
 * for await (const { name, data } of readTarGz('evidence.tar.gz', { maxEntryBytes: 1 << 30, maxTotalBytes: 8 << 30 })) {
 *   console.log(name, data.length);
 * }
 */
export async function* readTarGz(path: string, limits: TarReadLimits): AsyncGenerator<TarEntry, void, undefined> {
  for (const k of ['maxEntryBytes', 'maxTotalBytes'] as const) {
    const v = limits[k];
    if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError(`readTarGz: ${k} must be a positive integer, got ${String(v)}`);
  }
  const gunzip = createGunzip();
  // Errors of either stream surface through the iterator; the callback only keeps them handled.
  const source = pipelineCallback(createReadStream(path), gunzip, () => {});
  const q = new ByteQueue(source[Symbol.asyncIterator]() as AsyncIterator<Buffer>, limits.maxTotalBytes);
  const seen = new Set<string>();
  let last: string | undefined;
  const after = () => (last === undefined ? 'the first header' : `the header after entry ${show(last)}`);
  const corrupt = (msg: string, entry?: string) => new EvidenceError('RAMPART_EVIDENCE_CORRUPT', msg, entry === undefined ? {} : { entry });

  try {
    let pax: Map<string, string> | undefined;
    for (;;) {
      q.where = after();
      const h = await q.take(BLOCK);
      if (h.length === 0) throw corrupt(`the archive ends at ${after()} without the end-of-archive marker (truncated?)`);
      if (h.length < BLOCK) throw corrupt(`the archive is truncated in ${after()}`);
      if (isZero(h)) {
        const second = await q.take(BLOCK);
        if (second.length < BLOCK || !isZero(second)) throw corrupt(`a lone zero block follows ${last === undefined ? 'the start' : `entry ${show(last)}`}: the archive is truncated or corrupt`);
        if (!(await q.restIsZero())) throw corrupt('there is data after the end-of-archive marker');
        if (pax) throw corrupt('a pax extended header is not followed by an entry');
        return;
      }

      const rawName = field(h, 0, NAME_BYTES);
      const hint = show(rawName.toString('utf8')); // for messages only, before the name is trusted
      const stored = octalField(h, 148, 8);
      let unsigned = 0;
      let signed = 0;
      for (let i = 0; i < BLOCK; i++) {
        const byte = i >= 148 && i < 156 ? 0x20 : h[i]!;
        unsigned += byte;
        signed += byte > 127 ? byte - 256 : byte;
      }
      if (stored !== unsigned && stored !== signed) throw corrupt(`${after()} (name ${hint}) fails its checksum`);

      const magic = h.toString('latin1', 257, 265);
      const posix = magic === 'ustar\u000000';
      if (!posix && magic !== 'ustar  \u0000') throw corrupt(`${after()} (name ${hint}) is not a ustar header`);

      const type = String.fromCharCode(h[156]!);
      if (type === 'x') {
        const size = octalField(h, 124, 12);
        if (Number.isNaN(size)) throw corrupt(`${after()} has a malformed size field`);
        if (size > Math.min(MAX_PAX_BYTES, limits.maxEntryBytes)) throw new EvidenceError('RAMPART_EVIDENCE_TOO_LARGE', `${after()}: a pax extended header of ${size} bytes`);
        q.where = `the pax extended header after ${last === undefined ? 'the start' : `entry ${show(last)}`}`;
        const body = await q.take(size);
        const pad = await q.take((BLOCK - (size % BLOCK)) % BLOCK);
        if (body.length < size || pad.length < (BLOCK - (size % BLOCK)) % BLOCK) throw corrupt(`the archive is truncated in ${q.where}`);
        pax = parsePax(body, q.where);
        for (const key of pax.keys()) {
          if (key.startsWith('GNU.sparse')) throw new EvidenceError('RAMPART_EVIDENCE_UNSUPPORTED_ENTRY', `${q.where} describes a sparse file; only regular files and directories are accepted`);
        }
        continue;
      }
      if (type !== '0' && type !== '\u0000' && type !== '5') {
        const what = TYPE_NAMES[type] ?? `an entry of type ${JSON.stringify(type)}`;
        throw new EvidenceError('RAMPART_EVIDENCE_UNSUPPORTED_ENTRY', `${after()} (name ${hint}) is ${what}; only regular files and directories are accepted`);
      }

      // The name: pax path, else (POSIX ustar) prefix '/' name, else name.
      let name: string;
      const paxPath = pax?.get('path');
      if (paxPath !== undefined) name = paxPath;
      else {
        const prefix = posix ? field(h, 345, PREFIX_BYTES) : Buffer.alloc(0);
        name = utf8Name(prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), rawName]) : rawName, after());
      }
      if (type === '5' && name.endsWith('/')) name = name.slice(0, -1);
      checkEntryName(name);

      let size: number;
      const paxSize = pax?.get('size');
      if (paxSize !== undefined) {
        if (!/^[0-9]{1,16}$/.test(paxSize)) throw corrupt(`entry ${show(name)} has a malformed pax size`, name);
        size = Number(paxSize);
      } else if ((h[124]! & 0x80) !== 0) {
        throw new EvidenceError('RAMPART_EVIDENCE_TOO_LARGE', `entry ${show(name)} has a base-256 size (8 GiB or more)`, { entry: name });
      } else {
        size = octalField(h, 124, 12);
        if (Number.isNaN(size)) throw corrupt(`entry ${show(name)} has a malformed size field`, name);
      }
      const mtime = octalField(h, 136, 12);
      pax = undefined;

      if (size > limits.maxEntryBytes) {
        throw new EvidenceError('RAMPART_EVIDENCE_TOO_LARGE', `entry ${show(name)} is ${size} bytes; the limit is ${limits.maxEntryBytes}`, { entry: name });
      }
      q.where = `entry ${show(name)}`;
      const data = await q.take(size);
      if (data.length < size) throw corrupt(`entry ${show(name)} is truncated: ${data.length} of ${size} bytes`, name);
      const padLen = (BLOCK - (size % BLOCK)) % BLOCK;
      if ((await q.take(padLen)).length < padLen) throw corrupt(`the archive is truncated in the padding of entry ${show(name)}`, name);
      last = name;
      if (type === '5') continue;
      if (seen.has(name)) throw new EvidenceError('RAMPART_EVIDENCE_BAD_NAME', `entry ${show(name)} appears twice`, { entry: name });
      seen.add(name);
      yield { name, data, mtimeMs: Number.isNaN(mtime) ? 0 : mtime * 1000 };
    }
  } catch (err) {
    if (err instanceof EvidenceError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      // zlib: not gzip at all, a bad CRC, or the compressed stream ends early.
      throw new EvidenceError('RAMPART_EVIDENCE_CORRUPT', `the gzip stream is corrupt or truncated (${(err as Error).message}) while reading ${q.where}`, { cause: err });
    }
    throw err;
  } finally {
    source.destroy();
  }
}

/**
 * Reads a whole (bounded) package into a map from entry name to contents, in archive order.
 *
 * @example
 * const files = await readTarGzAll('evidence.tar.gz', { maxEntryBytes: 1 << 30, maxTotalBytes: 4 << 30 });
 * files.get('manifest.json');
 */
export async function readTarGzAll(path: string, limits: TarReadLimits): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for await (const e of readTarGz(path, limits)) files.set(e.name, e.data);
  return files;
}
