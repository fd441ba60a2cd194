/**
 * `rampart audit verify|search|tail`: the ledger from an operator's or examiner's seat. Works
 * beside a running gateway (SQLite in WAL mode, or PostgreSQL) and only reads: storage is opened
 * read-only (see withReadOnlyStorage), so the CLI can never append to the ledger, the node's
 * single writer stays the only one (DESIGN.md, the ledger), and read-only access is enough.
 */
import type { Command } from 'commander';
import { verifyChain } from '../ledger/verify.js';
import type { PersonalFields, StoredRecord } from '../ledger/record.js';
import type { LedgerQuery, LedgerStore } from '../storage/types.js';
import { CliExit, EXIT, positiveInt } from './exit-codes.js';
import type { RampartConfig } from '../config/types.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import { loadCliConfig, output, withConfigOption } from './common.js';

export function register(program: Command): void {
  const audit = program.command('audit').description('verify, search and follow the audit ledger');

  withConfigOption(
    audit
      .command('verify')
      .description('check the hash chain, the private parts and the head; exit 1 naming the first bad seq')
      .option('--from-seq <n>', 'start at this seq, trusting the record before it', positiveInt)
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; fromSeq?: number; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const r = await withReadOnlyStorage(config, (s) => verifyChain(s.ledger, opts.fromSeq !== undefined ? { fromSeq: opts.fromSeq } : {}));
    const bad = r.firstBad;
    output(opts.json, r, () =>
      bad
        ? `${bad.detail}; ${r.count} record${r.count === 1 ? '' : 's'} before it verified`
        : `ledger intact: ${r.count} record${r.count === 1 ? '' : 's'} verified, head seq ${r.head?.seq ?? 0} ${r.head?.chainHash ?? '(empty)'}`,
    );
    if (bad) throw new CliExit(EXIT.FAILED, `ledger broken at seq ${bad.seq}: ${bad.problem}`);
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
    if (opts.principal !== undefined) q.principal = opts.principal;
    if (opts.subject !== undefined) q.subject = opts.subject;
    if (opts.operation !== undefined) q.operationId = opts.operation;
    if (opts.object !== undefined) q.objectId = opts.object;
    if (opts.status !== undefined) q.status = opts.status;
    if (opts.reason !== undefined) q.reason = opts.reason;
    if (opts.requestId !== undefined) q.requestId = opts.requestId;
    if (opts.type !== undefined) q.type = opts.type as LedgerQuery['type'];
    const rows = await withReadOnlyStorage(config, async (s) => withPersonal(s.ledger, await s.ledger.search(q)));
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
    await withReadOnlyStorage(config, async (s) => {
      const newest = (await s.ledger.search({ limit: opts.lines ?? 10, descending: true })).reverse();
      const rows = await withPersonal(s.ledger, newest);
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
          (await withPersonal(s.ledger, page)).forEach(print);
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

interface Row {
  stored: StoredRecord;
  personal: PersonalFields | undefined;
}

/** Joins the private parts (principal, address, object ids); salts are never printed. */
async function withPersonal(store: LedgerStore, records: StoredRecord[]): Promise<Row[]> {
  const privs = await store.readPrivate(records.map((r) => r.record.seq));
  const bySeq = new Map(privs.map((p) => [p.seq, p.personal]));
  return records.map((stored) => ({ stored, personal: bySeq.get(stored.record.seq) }));
}

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


function isoTime(v: string): number {
  // Date-only or date-time with an explicit zone; a bare local time would be ambiguous (AU-8 is UTC).
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v)) {
    throw new CliExit(EXIT.USAGE, `rampart: '${v}' is not an ISO 8601 time such as 2025-01-31 or 2025-01-31T09:30:00Z`);
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new CliExit(EXIT.USAGE, `rampart: '${v}' is not a valid time`);
  return t;
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
