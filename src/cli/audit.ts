/**
 * `rampart audit verify|search|tail`: the ledger from an operator's or examiner's seat. Works
 * beside a running gateway (SQLite in WAL mode, or PostgreSQL) and only reads: storage is opened
 * read-only (see withReadOnlyStorage), so the CLI can never append to the ledger, the node's
 * single writer stays the only one (DESIGN.md, the ledger), and read-only access is enough.
 */
import type { Command } from 'commander';
import { isoTime, readKeyArg } from './cli-util.js';
import { openLedgerCrypto } from '../ledger/crypto-setup.js';
import { readPublishedFile, type PublishedCheckpoint } from '../ledger/publish.js';
import type { Sealer } from '../ledger/sealer.js';
import { verifyLedger } from '../ledger/verify-ledger.js';
import { accessReport } from '../ledger/access-report.js';
import { searchTags, withPersonal, type RecordWithPersonal } from '../ledger/audit-read.js';
import type { LedgerQuery } from '../storage/types.js';
import { CliExit, EXIT, positiveInt } from './exit-codes.js';
import type { RampartConfig } from '../config/types.js';
import { openStorage } from '../storage/open.js';
import { createProgress } from './progress.js';
import type { Storage } from '../storage/types.js';
import { loadCliConfig, output, withConfigOption } from './common.js';

export function register(program: Command): void {
  const audit = program.command('audit').description('verify, search and follow the audit ledger');
  registerAccess(audit);

  withConfigOption(
    audit
      .command('verify')
      .description('check the hash chain, private parts, signed checkpoints and published heads; exit 1 naming what fails')
      .option('--published <file>', 'heads published outside the store (JSON lines, as the file target writes them); repeatable', collect, [])
      .option('--public-key <key>', 'trust only this checkpoint verifier key (name+hash+base64, or a file holding it), not the store\'s key history; repeatable', collect, [])
      .option('--no-private', 'skip decrypting private parts (no KEK access needed)')
      .option('--deep', 'also re-serialise every record to prove its text is canonical JSON (slower)')
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; published: string[]; publicKey: string[]; private: boolean; deep?: boolean; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const published: PublishedCheckpoint[] = [];
    const r = await withReadOnlyStorage(config, async (s) => {
      const files = [...opts.published, ...config.ledger.checkpoints.publish.flatMap((t) => ('file' in t ? [t.file] : []))];
      for (const f of files) {
        try {
          published.push(...(await readPublishedFile(f)));
        } catch (err) {
          // A configured target that was never written to is not an error; a named one is.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !opts.published.includes(f)) continue;
          throw new CliExit(EXIT.FAILED, `rampart: cannot read published heads ${f}: ${(err as Error).message}`);
        }
      }
      const verifierKeys = opts.publicKey.length > 0 ? await Promise.all(opts.publicKey.map(readKeyArg)) : (await s.checkpoints.listSigningKeys()).map((k) => k.verifierKey);
      // A bar on a terminal over the records up to the head (issue 7), quiet in a pipe or with --json.
      const headSeq = (await s.ledger.head())?.seq ?? 0;
      const bar = createProgress('verifying records', { json: opts.json === true });
      const run = (sealer?: Sealer) =>
        verifyLedger({
          ledger: s.ledger, checkpoints: s.checkpoints, retention: s.retention, verifierKeys, published, deep: opts.deep === true,
          onProgress: (seq) => bar.update(seq, Math.max(seq, headSeq)),
          ...(sealer ? { sealer, checkPrivate: true } : { checkPrivate: false }),
        });
      try {
        if (!opts.private) return await run();
        const crypto = await openLedgerCrypto(config, s, { readOnly: true });
        try {
          return await run(crypto.sealer);
        } finally {
          await crypto.close();
        }
      } finally {
        bar.done();
      }
    });
    const bad = r.firstBad;
    const failing = r.findings.filter((f) => f.problem !== 'inside-pruned');
    output(opts.json, r, () => {
      const lines: string[] = [];
      if (bad) lines.push(`chain: ${bad.detail}; ${r.count} record${r.count === 1 ? '' : 's'} before it verified`);
      else lines.push(`chain: intact, ${r.count} record${r.count === 1 ? '' : 's'} verified${r.prunedThrough > 0 ? ` after the signed prune point (seq ${r.prunedThrough})` : ''}, head seq ${r.head?.seq ?? 0} ${r.head?.chainHash ?? '(empty)'}`);
      lines.push(`checkpoints: ${r.checkpointsVerified.store} stored and ${r.checkpointsVerified.published} published verified${r.latestPublished ? ` (latest published: size ${r.latestPublished.treeSize})` : ''}`);
      for (const f of r.findings) lines.push(`${f.problem === 'inside-pruned' ? 'note' : 'FAIL'}: ${f.detail}`);
      if (published.length === 0) lines.push('note: no published heads were given or configured: a store rewritten as a whole cannot be told from an intact one (AU-9(2))');
      return lines.join('\n');
    });
    if (bad) throw new CliExit(EXIT.FAILED, `ledger broken at seq ${bad.seq}: ${bad.problem}`);
    if (failing.length > 0) throw new CliExit(EXIT.FAILED, `ledger checkpoints: ${failing.map((f) => `${f.problem} at size ${f.treeSize}`).join(', ')}`);
  });

  withConfigOption(
    audit
      .command('search')
      .description('find records (who accessed what, when); prints the private part beside each record')
      .option('--from <iso>', 'records at or after this time (ISO 8601)', isoTime)
      .option('--to <iso>', 'records at or before this time (ISO 8601)', isoTime)
      .option('--principal <p>', 'who acted (key owner, client id, user)')
      .option('--subject <s>', 'the customer or tenant whose data it was')
      .option('--operation <id>', 'OpenAPI operationId')
      .option('--object <id>', 'an object id (any path parameter value)')
      .option('--status <n>', 'HTTP status', positiveInt)
      .option('--reason <code>', 'reason code, e.g. RAMPART_SCOPE_MISSING')
      .option('--request-id <id>', 'request id')
      .option('--type <type>', 'record type, e.g. exchange.decision')
      .option('--limit <n>', 'at most this many records (default 100, at most 10000)', positiveInt)
      .option('--json', 'print JSON'),
  ).action(async (opts: SearchOpts) => {
    const { config } = await loadCliConfig(opts);
    const q: LedgerQuery = { limit: Math.min(opts.limit ?? 100, 10_000) };
    if (opts.from !== undefined) q.fromTs = opts.from;
    if (opts.to !== undefined) q.toTs = opts.to;
    if (opts.operation !== undefined) q.operationId = opts.operation;
    if (opts.status !== undefined) q.status = opts.status;
    if (opts.reason !== undefined) q.reason = opts.reason;
    if (opts.requestId !== undefined) q.requestId = opts.requestId;
    if (opts.type !== undefined) q.type = opts.type as LedgerQuery['type'];
    const rows = await withReadOnlyLedger(config, async (s, sealer) => {
      // Principal, subject and object ids are searched through their blind index tags (RSP-2).
      const tags = searchTags(sealer, { ...(opts.principal !== undefined ? { principal: opts.principal } : {}), ...(opts.subject !== undefined ? { subject: opts.subject } : {}), ...(opts.object !== undefined ? { object: opts.object } : {}) });
      if (tags.length > 0) q.tags = tags;
      return withPersonal(s.ledger, sealer, await s.ledger.search(q));
    });
    output(opts.json, rows.map(jsonView), () => (rows.length === 0 ? 'no records' : rows.map(line).join('\n')));
  });

  withConfigOption(
    audit
      .command('tail')
      .description('print the newest records; with --follow keep printing new ones')
      .option('-n, --lines <n>', 'how many of the newest records (default 10)', positiveInt)
      .option('-f, --follow', 'keep polling for new records until interrupted')
      .option('--interval <ms>', 'poll interval with --follow (default 1000)', positiveInt)
      .option('--json', 'print JSON (one object per line with --follow)'),
  ).action(async (opts: { config: string; lines?: number; follow?: boolean; interval?: number; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    await withReadOnlyLedger(config, async (s, sealer) => {
      const newest = (await s.ledger.search({ limit: opts.lines ?? 10, descending: true })).reverse();
      const rows = await withPersonal(s.ledger, sealer, newest);
      if (!opts.follow) {
        output(opts.json, rows.map(jsonView), () => (rows.length === 0 ? 'no records' : rows.map(line).join('\n')));
        return;
      }
      const print = (r: Row): void => {
        process.stdout.write(`${opts.json ? JSON.stringify(jsonView(r)) : line(r)}\n`);
      };
      rows.forEach(print);
      let next = (newest[newest.length - 1]?.record.seq ?? (await s.ledger.head())?.seq ?? 0) + 1;
      await untilInterrupted(opts.interval ?? 1000, async () => {
        for (;;) {
          const page = await s.ledger.read(next, 500);
          if (page.length === 0) return;
          (await withPersonal(s.ledger, sealer, page)).forEach(print);
          next = page[page.length - 1]!.record.seq + 1;
          if (page.length < 500) return;
        }
      });
    });
  });
}

interface SearchOpts {
  config: string;
  from?: number;
  to?: number;
  principal?: string;
  subject?: string;
  operation?: string;
  object?: string;
  status?: number;
  reason?: string;
  requestId?: string;
  type?: string;
  limit?: number;
  json?: boolean;
}

type Row = RecordWithPersonal;

function jsonView(r: Row) {
  const rec = r.stored.record;
  return { time: isoOf(rec.ts), ...rec, personal: r.personal ?? null };
}

/** ISO time, seq, type, method route, status, reason, principal, client address. */
function line(r: Row): string {
  const rec = r.stored.record;
  const what = rec.method || rec.route ? `${rec.method ?? '-'} ${rec.route ?? '-'}` : (rec.operationId ?? '-');
  return [isoOf(rec.ts), String(rec.seq), rec.type, what, rec.status !== undefined ? String(rec.status) : '-', rec.reason ?? '-', r.personal?.principal ?? '-', r.personal?.clientAddress ?? '-'].join('  ');
}

function isoOf(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}


/** Runs `poll` every `ms` until SIGINT or SIGTERM; a failed poll ends the command with its error. */
function untilInterrupted(ms: number, poll: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const stop = (): void => {
      stopped = true;
      if (timer) clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const tick = (): void => {
      poll().then(
        () => {
          if (!stopped) timer = setTimeout(tick, ms);
        },
        (err: unknown) => {
          stopped = true;
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    };
    tick();
  });
}

/** Read-only storage with the ledger's decryption (the KEK provider from the configuration). */
async function withReadOnlyLedger<T>(config: RampartConfig, fn: (s: Storage, sealer: Sealer) => Promise<T>): Promise<T> {
  return withReadOnlyStorage(config, async (s) => {
    const crypto = await openLedgerCrypto(config, s, { readOnly: true });
    try {
      return await fn(s, crypto.sealer);
    } finally {
      await crypto.close();
    }
  });
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}


/**
 * Like common.ts's withStorage, but read-only: no schema creation or migration, no writer thread,
 * and every write refused (for PostgreSQL by the server as well). An examiner's read-only
 * database role or a read-only copy of the SQLite file is enough.
 */
async function withReadOnlyStorage<T>(config: RampartConfig, fn: (s: Storage) => Promise<T>): Promise<T> {
  const storage = await openStorage(config.storage, { readOnly: true });
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

interface AccessOpts {
  config: string;
  from: number;
  to: number;
  subject?: string;
  principal?: string;
  max?: number;
  json?: boolean;
}

/** `rampart audit access`: whose records were accessed, by whom, between two times (RSP-2). */
export function registerAccess(audit: Command): void {
  withConfigOption(
    audit
      .command('access')
      .description('whose records were accessed, by whom, between two times (RSP-2): per data subject and principal, with operations and counts')
      .requiredOption('--from <iso>', 'start (ISO 8601)', isoTime)
      .requiredOption('--to <iso>', 'end (ISO 8601)', isoTime)
      .option('--subject <s>', 'one data subject (customer id): who accessed their records')
      .option('--principal <p>', 'one principal: whose records it accessed')
      .option('--max <n>', 'records examined at most (default 1000000)', positiveInt)
      .option('--json', 'print JSON'),
  ).action(async (opts: AccessOpts) => {
    const { config } = await loadCliConfig(opts);
    const r = await withReadOnlyLedger(config, (s, sealer) =>
      accessReport(s.ledger, sealer, { fromTs: opts.from, toTs: opts.to, ...(opts.subject !== undefined ? { subject: opts.subject } : {}), ...(opts.principal !== undefined ? { principal: opts.principal } : {}), ...(opts.max !== undefined ? { maxRecords: opts.max } : {}) }),
    );
    output(opts.json, r, () => {
      const lines = r.rows.map((x) => [x.subject, x.principal, String(x.records), String(x.denied), isoOf(x.first), isoOf(x.last), x.operations.join(',')].join('  '));
      lines.unshift('subject  principal  records  denied  first  last  operations');
      lines.push(`${r.recordsExamined} records examined${r.purged ? `, ${r.purged} with purged private parts` : ''}${r.truncated ? ' (truncated: narrow the range)' : ''}`);
      return lines.join('\n');
    });
  });
}
