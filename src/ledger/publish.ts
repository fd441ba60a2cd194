/**
 * Publishing signed checkpoints outside the store (DESIGN.md, the ledger; AU-9(2), AU-9(3)).
 * Whoever can write the store can recompute its chain and its Merkle roots; they cannot
 * recompute a head that already left the box. `rampart audit verify` compares the store with
 * the heads published here, which is how a forgery whose chain was recomputed after the fact is
 * caught.
 *
 * - file: an append-only JSON-lines file, ideally on another volume (or a WORM mount); each
 *   checkpoint is appended with O_APPEND and fsynced before publish() resolves.
 * - webhook: a POST of the note (text/plain) to a URL the firm controls (a transparency log, a
 *   SIEM, an object store with retention lock), signed with HMAC-SHA256 when a secret is set,
 *   retried with exponential backoff; a failure raises an alert (AU-5). A failed checkpoint is not
 *   sent again: the next one covers everything it covered (checkpoints are cumulative).
 */
import { createHmac } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PublishTarget } from '../config/types.js';
import { syncDir } from '../core/private-file.js';

export interface PublishedCheckpoint {
  treeSize: number;
  ts: number;
  kind: string;
  /** The C2SP signed note. */
  note: string;
}

export interface Publisher {
  readonly name: string;
  publish(cp: PublishedCheckpoint): Promise<void>;
}

/** The publishers for the configured targets; `env` supplies webhook secrets. */
export function createPublishers(targets: readonly PublishTarget[], env: NodeJS.ProcessEnv = process.env): Publisher[] {
  return targets.map((t) => ('file' in t ? filePublisher(t.file) : webhookPublisher(t.webhook, t.secretEnv !== undefined ? env[t.secretEnv] : undefined)));
}

/** Appends each checkpoint as one JSON line and fsyncs it. */
export function filePublisher(file: string): Publisher {
  let dirReady = false;
  return {
    name: `file:${file}`,
    async publish(cp) {
      if (!dirReady) {
        await mkdir(dirname(file), { recursive: true });
        dirReady = true;
      }
      const fh = await open(file, 'a', 0o644);
      let created = false;
      try {
        created = (await fh.stat()).size === 0;
        await fh.write(`${JSON.stringify(cp)}\n`);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      if (created) await syncDir(dirname(file));
    },
  };
}

/** Reads a file written by filePublisher (a torn last line, from a crash mid-write, is ignored). */
export async function readPublishedFile(file: string): Promise<PublishedCheckpoint[]> {
  const text = await readFile(file, 'utf8');
  const out: PublishedCheckpoint[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let v: PublishedCheckpoint;
    try {
      v = JSON.parse(line) as PublishedCheckpoint;
    } catch (err) {
      // Only the very last line may be torn (the writer fsyncs each line before the next).
      if (i >= lines.length - 2) break;
      throw Object.assign(new Error(`${file}:${i + 1}: not a published checkpoint (${(err as Error).message})`), { code: 'RAMPART_PUBLISHED_MALFORMED' });
    }
    if (typeof v?.note !== 'string' || !Number.isSafeInteger(v.treeSize)) {
      throw Object.assign(new Error(`${file}:${i + 1}: not a published checkpoint`), { code: 'RAMPART_PUBLISHED_MALFORMED' });
    }
    out.push(v);
  }
  return out;
}

/** POSTs the note; 2xx is success; retried 5 times with backoff (0.2 s doubling). */
export function webhookPublisher(url: string, secret: string | undefined, opts: { attempts?: number; baseDelayMs?: number; timeoutMs?: number } = {}): Publisher {
  const attempts = opts.attempts ?? 5;
  const base = opts.baseDelayMs ?? 200;
  const timeoutMs = opts.timeoutMs ?? 5000;
  return {
    name: `webhook:${new URL(url).origin}`,
    async publish(cp) {
      const body = cp.note;
      const headers: Record<string, string> = {
        'content-type': 'text/plain; charset=utf-8',
        'x-rampart-tree-size': String(cp.treeSize),
        'x-rampart-checkpoint-kind': cp.kind,
      };
      if (secret) headers['x-rampart-signature'] = `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
      let last: unknown;
      for (let i = 0; i < attempts; i++) {
        try {
          const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) return;
          last = new Error(`HTTP ${res.status}`);
          if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) break;
        } catch (err) {
          last = err;
        }
        if (i < attempts - 1) await new Promise((r) => setTimeout(r, base * 2 ** i));
      }
      throw Object.assign(new Error(`checkpoint webhook ${new URL(url).origin} failed: ${(last as Error)?.message ?? String(last)}`), { code: 'RAMPART_CHECKPOINT_PUBLISH_FAILED', cause: last });
    },
  };
}
