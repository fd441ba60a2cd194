/**
 * Where the record stream (./stream.ts) delivers records off the box (AU-9(2): audit records also
 * on a physically different system; R17a4-9: a backup recordkeeping system):
 *
 * - file: JSON lines of the chained part only (seq, ts, canonical, leafHash, chainHash), appended
 *   and fsynced; never a private part, body or index tag. A SIEM forwarder or a WORM mount takes
 *   it from there. Anyone can re-check the chain from it with the hashes alone.
 * - storage: a second Rampart store (SQLite or PostgreSQL) that receives the same append items,
 *   sealed parts, bodies and index entries included, in order, through its own continuity check;
 *   the data keys those parts are sealed under (wrapped by the KEK, never in clear), the signing
 *   keys and the signed checkpoints are copied from the primary beside them. It is a full replica:
 *   it verifies on its own and, with the same KEK provider, opens what the primary opens.
 *
 * A sink reports its position (the last record it holds, read from the sink itself) so the stream
 * resumes exactly after a failure or a restart, whatever was or was not written before it.
 */
import { mkdir, open as openFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StorageConfig } from '../config/types.js';
import { openStorage } from '../storage/open.js';
import type { AppendItem, ChainHead, CheckpointStore, DataKeyStore, Storage } from '../storage/types.js';
import { INDEX_KEY_CLASS, INDEX_KEY_DAY } from './blind-index.js';

export interface StreamSink {
  readonly name: string;
  /** True when the sink keeps everything stored beside a record (a replica), false for the chained part only. */
  readonly full: boolean;
  /** Gets ready (opens the file or store); called again after any failure, so it must be idempotent. */
  open(): Promise<void>;
  /** The last record the sink holds (null: none), read from the sink. */
  position(): Promise<ChainHead | null>;
  /** Appends records that continue position() exactly; resolves once they are durable there. */
  write(items: readonly AppendItem[]): Promise<void>;
  /** Copies what is not a record (checkpoints, signing keys) up to the sink's position; optional. */
  sync?(): Promise<void>;
  close(): Promise<void>;
}

/** What a replica copies from besides the records: the primary's stores. */
export type PrimaryStores = Pick<Storage, 'ledger' | 'dataKeys' | 'checkpoints'>;

/** A stream target as configured (src/config/stream-config.ts). */
export type StreamTarget = { file: string } | { storage: StorageConfig };

/** A conflict that retrying cannot resolve (the sink holds a different history): the target stops. */
export class StreamDivergence extends Error {
  readonly code = 'RAMPART_STREAM_DIVERGED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'StreamDivergence';
  }
}

/** One JSON line per record: the chained part, exactly as hashed. */
export function streamLine(s: AppendItem['stored']): string {
  return JSON.stringify({ seq: s.record.seq, ts: s.record.ts, canonical: s.canonical, leafHash: s.leafHash, chainHash: s.chainHash });
}

/** The file target: JSON lines, appended and fsynced; a torn last line (a crash mid-write) is cut at open. */
export function fileSink(path: string): StreamSink {
  let fh: FileHandle | undefined;
  let pos: ChainHead | null = null;
  const drop = async (): Promise<void> => {
    const f = fh;
    fh = undefined;
    await f?.close().catch(() => {});
  };
  return {
    name: `file:${path}`,
    full: false,
    async open() {
      if (fh) return;
      await mkdir(dirname(path), { recursive: true });
      const f = await openFile(path, 'a+', 0o640);
      try {
        const { complete, last } = await lastLine(f);
        const size = (await f.stat()).size;
        if (complete < size) await f.truncate(complete);
        pos = last === undefined ? null : parsePosition(path, last);
      } catch (err) {
        await f.close().catch(() => {});
        throw err;
      }
      fh = f;
    },
    async position() {
      if (!fh) throw new Error(`stream ${path}: not open`);
      return pos;
    },
    async write(items) {
      if (!fh) throw new Error(`stream ${path}: not open`);
      let text = '';
      for (const it of items) text += `${streamLine(it.stored)}\n`;
      try {
        await fh.write(text);
        await fh.datasync();
      } catch (err) {
        // Reopened on the next attempt: the position is read again and a torn line cut.
        await drop();
        throw err;
      }
      const last = items[items.length - 1];
      if (last) pos = { seq: last.stored.record.seq, chainHash: last.stored.chainHash };
    },
    close: drop,
  };
}

/** The end of the last complete line, and that line (undefined when there is none). */
async function lastLine(f: FileHandle): Promise<{ complete: number; last: string | undefined }> {
  // buf holds the file's bytes [at, size), read backwards in chunks until the last line is whole.
  let at = (await f.stat()).size;
  let buf = Buffer.alloc(0);
  for (;;) {
    const nl = buf.lastIndexOf(0x0a);
    if (nl >= 0) {
      const prev = nl > 0 ? buf.lastIndexOf(0x0a, nl - 1) : -1;
      if (prev >= 0 || at === 0) return { complete: at + nl + 1, last: buf.subarray(prev + 1, nl).toString('utf8') };
    } else if (at === 0) {
      return { complete: 0, last: undefined };
    }
    const n = Math.min(65_536, at);
    at -= n;
    const chunk = Buffer.alloc(n);
    await f.read(chunk, 0, n, at);
    buf = Buffer.concat([chunk, buf]);
  }
}

function parsePosition(path: string, line: string): ChainHead {
  let v: { seq?: unknown; chainHash?: unknown };
  try {
    v = JSON.parse(line) as typeof v;
  } catch (err) {
    throw new StreamDivergence(`stream ${path}: the last line is not a streamed record (${(err as Error).message}); move the file aside`);
  }
  if (!Number.isSafeInteger(v.seq) || typeof v.chainHash !== 'string') throw new StreamDivergence(`stream ${path}: the last line is not a streamed record; move the file aside`);
  return { seq: v.seq as number, chainHash: v.chainHash };
}

/**
 * The replica target: a second Rampart store, opened (created and migrated) on first use with
 * `openStore` (default: openStorage). Data keys are copied before the first item sealed under
 * them; the index key at open; checkpoints and signing keys by sync().
 */
export function storageSink(cfg: StorageConfig, primary: PrimaryStores, openStore: (c: StorageConfig) => Promise<Storage> = (c) => openStorage(c)): StreamSink {
  let s: Storage | undefined;
  const known = new Set<string>();
  /** The largest tree size of a checkpoint copied so far: the next sync copies those above it, up to the replica's head. */
  let copiedTo = 0;
  let keysCopied = false;
  const name = cfg.driver === 'sqlite' ? `sqlite:${cfg.sqlite.path}` : `postgres:${cfg.postgres.schema}@${new URL(cfg.postgres.url).host}`;

  const copyKey = async (to: DataKeyStore, id: string): Promise<void> => {
    if (known.has(id)) return;
    if (!(await to.getDataKey(id))) {
      const k = await primary.dataKeys.getDataKey(id);
      if (!k) throw new Error(`stream ${name}: data key ${id} is not in the primary store (purged?)`);
      if (!(await to.insertDataKey(k))) {
        throw new StreamDivergence(`stream ${name}: the replica holds another data key for (${k.recordClass}, day ${k.expiryDay}); is it another node's store?`);
      }
    }
    known.add(id);
  };

  const copyCheckpoints = async (to: CheckpointStore, through: number): Promise<void> => {
    for (let from = copiedTo + 1; from <= through; ) {
      const page = await primary.checkpoints.listCheckpoints(from, through, 1000);
      if (page.length > 0 || !keysCopied) {
        // The keys that signed them first (the store keeps a key before signing with it).
        for (const k of await primary.checkpoints.listSigningKeys()) await to.insertSigningKey(k);
        keysCopied = true;
      }
      for (const c of page) {
        await to.insertCheckpoint(c);
        copiedTo = Math.max(copiedTo, c.treeSize);
      }
      if (page.length < 1000) break;
      from = copiedTo + 1;
    }
  };

  const store = (): Storage => {
    if (!s) throw new Error(`stream ${name}: not open`);
    return s;
  };

  return {
    name,
    full: true,
    async open() {
      if (s) return;
      const opened = await openStore(cfg);
      try {
        const idx = await primary.dataKeys.findDataKey(INDEX_KEY_CLASS, INDEX_KEY_DAY);
        if (idx) await copyKey(opened.dataKeys, idx.id);
      } catch (err) {
        await opened.close().catch(() => {});
        throw err;
      }
      s = opened;
      copiedTo = 0;
      keysCopied = false;
    },
    position: () => store().ledger.head(),
    async write(items) {
      const r = store();
      for (const it of items) {
        if (it.priv) await copyKey(r.dataKeys, it.priv.dekId);
        for (const b of it.bodies ?? []) await copyKey(r.dataKeys, b.dekId);
      }
      await r.ledger.append(items);
    },
    async sync() {
      const r = store();
      const head = await r.ledger.head();
      await copyCheckpoints(r.checkpoints, head?.seq ?? 0);
    },
    async close() {
      const r = s;
      s = undefined;
      await r?.close();
    },
  };
}

/** The sink for a configured target. */
export function sinkFor(t: StreamTarget, primary: PrimaryStores, openStore?: (c: StorageConfig) => Promise<Storage>): StreamSink {
  return 'file' in t ? fileSink(t.file) : storageSink(t.storage, primary, openStore);
}
