/**
 * The injection inspector measured on its corpora (test/fixtures/injection/<family>/{attacks,
 * benign}.txt): per family, attacks detected / total (detection rate), benign samples flagged /
 * total (false-positive rate), and the mean CPU µs per inspected string; plus the fast path on
 * plain strings and the cost of a long hostile value. Optionally (`--sqlmap`, needs Debian's
 * sqlmap on PATH) it runs sqlmap against a deliberately injectable SQLite upstream, directly
 * (it must find the injection: that proves the harness) and through a front that calls
 * inspectValue on every query value the way the gateway's inspect stage does (it must find
 * nothing).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/inspect-corpus.js [--sqlmap] [--misses]
 *   environment for --sqlmap: SQLMAP_LEVEL (3), SQLMAP_RISK (3), SQLMAP_DBMS, SQLMAP_TAMPER
 *   (e.g. space2comment,between,randomcase,charencode), SQLMAP_TARGETS (comma-separated paths)
 *
 * Corpus line format (one sample per line, UTF-8):
 *   - empty lines and lines that are `#` or start with `# ` are comments;
 *   - a line with a TAB: the part before the first TAB is a comma-separated list of flags, the
 *     rest is the sample. Flags: `esc` (the sample uses escapes \n \r \t \0 \\ \xHH \uHHHH),
 *     `key` (inspect as an object key with inspectKey), `host` (a host field: hostField),
 *     and one location `query` (the default), `path`, `header`, `body`, `form`;
 *   - otherwise the whole line is the sample, taken literally.
 * The `common` folder holds only benign samples (realistic brokerage traffic for every family).
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspectKey, inspectValue, isInjectionFamily, type Finding, type InspectOptions, type ValueLocation } from '../src/threat/inspect/index.js';

export interface CorpusSample {
  text: string;
  key: boolean;
  opts: InspectOptions;
  /** 1-based line number in its file. */
  line: number;
}

export interface CorpusReportRow {
  family: string;
  detected: number;
  attacks: number;
  /** Attacks reported under this family itself (the rest were caught by another family). */
  ownFamily: number;
  falsePositives: number;
  benign: number;
  /** Mean CPU µs per inspected string, attacks and benign samples together. */
  usPerString: number;
  /** Mean CPU µs per benign sample alone (what ordinary traffic costs). */
  usPerBenign: number;
}

const LOCATIONS = new Set<ValueLocation>(['query', 'path', 'header', 'body', 'form']);

/** The corpus root: test/fixtures/injection in the source tree (from dist-*, or the working directory). */
export function corpusRoot(): string {
  const cwd = join(process.cwd(), 'test', 'fixtures', 'injection');
  if (existsSync(cwd)) return cwd;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'test', 'fixtures', 'injection');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error('test/fixtures/injection not found');
}

function unescape(s: string): string {
  return s.replace(/\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|(.))/g, (_m, x: string | undefined, u: string | undefined, c: string | undefined) => {
    if (x) return String.fromCharCode(parseInt(x, 16));
    if (u) return String.fromCharCode(parseInt(u, 16));
    return c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c === '0' ? '\0' : (c ?? '');
  });
}

/**
 * Parses one corpus file's text (format in the module comment).
 *
 * @example
 * parseCorpus("# c\nO'Brien\nesc,body\tline\\nNote: x").map((s) => s.text);
 * // ["O'Brien", 'line\nNote: x']
 */
export function parseCorpus(text: string): CorpusSample[] {
  const out: CorpusSample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '' || line === '#' || line.startsWith('# ')) continue;
    let flags: string[] = [];
    const tab = line.indexOf('\t');
    if (tab !== -1) {
      flags = line.slice(0, tab).split(',').map((f) => f.trim());
      line = line.slice(tab + 1);
    }
    let location: ValueLocation = 'query';
    for (const f of flags) {
      if (LOCATIONS.has(f as ValueLocation)) location = f as ValueLocation;
      else if (f !== 'esc' && f !== 'key' && f !== 'host') throw new Error(`line ${i + 1}: unknown flag ${f}`);
    }
    const sample = flags.includes('esc') ? unescape(line) : line;
    out.push({ text: sample, key: flags.includes('key'), opts: { location, ...(flags.includes('host') ? { hostField: true } : {}) }, line: i + 1 });
  }
  return out;
}

/** Loads `<root>/<family>/<kind>.txt`, or [] when the file does not exist. */
export function loadCorpus(family: string, kind: 'attacks' | 'benign', root = corpusRoot()): CorpusSample[] {
  const p = join(root, family, `${kind}.txt`);
  return existsSync(p) ? parseCorpus(readFileSync(p, 'utf8')) : [];
}

/** The corpus folders, in a stable order. */
export function corpusFamilies(root = corpusRoot()): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** Runs one sample the way the gateway would. */
export function inspectSample(s: CorpusSample): Finding | undefined {
  return s.key ? inspectKey(s.text, s.opts) : inspectValue(s.text, s.opts);
}

/** Mean CPU µs per sample, the median of 5 measurements (the machine may be shared and noisy). */
function cpuUsPer(samples: CorpusSample[], rounds: number): number {
  if (samples.length === 0) return 0;
  const per: number[] = [];
  for (let m = 0; m < 5; m++) {
    const t = process.cpuUsage();
    for (let r = 0; r < rounds; r++) for (const s of samples) inspectSample(s);
    const d = process.cpuUsage(t);
    per.push((d.user + d.system) / (rounds * samples.length));
  }
  per.sort((a, b) => a - b);
  return per[2]!;
}

/**
 * Detection and false-positive counts per corpus family, with the mean CPU µs per inspected
 * string (attacks and benign samples together, after a warm-up).
 *
 * @example
 * for (const r of inspectCorpusReport()) console.log(r.family, r.detected / r.attacks);
 */
export function inspectCorpusReport(root = corpusRoot()): CorpusReportRow[] {
  const rows: CorpusReportRow[] = [];
  for (const family of corpusFamilies(root)) {
    const attacks = loadCorpus(family, 'attacks', root);
    const benign = loadCorpus(family, 'benign', root);
    let detected = 0;
    let ownFamily = 0;
    for (const s of attacks) {
      const f = inspectSample(s);
      if (f) detected++;
      if (f && (f.family === family || (family === 'prototype' && f.family === 'prototype-pollution'))) ownFamily++;
    }
    let falsePositives = 0;
    for (const s of benign) if (inspectSample(s)) falsePositives++;
    const all = [...attacks, ...benign];
    for (const s of all) inspectSample(s); // warm-up
    const rounds = (n: number) => Math.max(2, Math.ceil(4_000 / Math.max(1, n)));
    rows.push({ family, detected, attacks: attacks.length, ownFamily, falsePositives, benign: benign.length, usPerString: cpuUsPer(all, rounds(all.length)), usPerBenign: cpuUsPer(benign, rounds(benign.length)) });
  }
  return rows;
}

/** Misses and false positives, for tuning (`--misses`). */
export function corpusMisses(root = corpusRoot()): { family: string; kind: 'missed' | 'flagged'; line: number; text: string; finding?: Finding }[] {
  const out: ReturnType<typeof corpusMisses> = [];
  for (const family of corpusFamilies(root)) {
    for (const s of loadCorpus(family, 'attacks', root)) if (!inspectSample(s)) out.push({ family, kind: 'missed', line: s.line, text: s.text });
    for (const s of loadCorpus(family, 'benign', root)) {
      const f = inspectSample(s);
      if (f) out.push({ family, kind: 'flagged', line: s.line, text: s.text, finding: f });
    }
  }
  return out;
}

const pct = (a: number, b: number): string => (b === 0 ? '   -   ' : `${((100 * a) / b).toFixed(2).padStart(6)}%`);

function printReport(): void {
  const rows = inspectCorpusReport();
  console.log('Injection inspector on its corpora (test/fixtures/injection)');
  console.log('family                detected/attacks   rate    own-family   flagged/benign   FP rate   us/string  us/benign');
  let ta = 0;
  let td = 0;
  let tb = 0;
  let tf = 0;
  for (const r of rows) {
    ta += r.attacks;
    td += r.detected;
    tb += r.benign;
    tf += r.falsePositives;
    console.log(
      `${r.family.padEnd(20)}  ${`${r.detected}/${r.attacks}`.padStart(16)}  ${pct(r.detected, r.attacks)}  ${isInjectionFamily(r.family) ? pct(r.ownFamily, r.attacks) : '   -   '}    ${`${r.falsePositives}/${r.benign}`.padStart(14)}  ${pct(r.falsePositives, r.benign)}  ${r.usPerString.toFixed(2).padStart(9)}  ${r.usPerBenign.toFixed(2).padStart(9)}`,
    );
  }
  console.log(`${'total'.padEnd(20)}  ${`${td}/${ta}`.padStart(16)}  ${pct(td, ta)}               ${`${tf}/${tb}`.padStart(14)}  ${pct(tf, tb)}`);
  // The fast path and the worst case.
  const plain = ['Ann Example', 'acc_alice_1', '2024-05-12', 'Please call me back after 5pm', '1234.50', 'Quarterly rebalancing, moderate risk', 'cus_7f3a9e', 'ann@example.com'];
  const q: InspectOptions = { location: 'query' };
  const N = 200_000;
  for (let i = 0; i < 20_000; i++) inspectValue(plain[i % plain.length]!, q);
  let t = process.cpuUsage();
  for (let i = 0; i < N; i++) inspectValue(plain[i % plain.length]!, q);
  let d = process.cpuUsage(t);
  console.log(`fast path (plain names, ids, dates, sentences): ${((d.user + d.system) / N).toFixed(3)} us per string`);
  const punct = ["O'Brien", 'Smith & Sons, LLC', 'Note (see attached)', 'Q&A; thanks!', 'Re: "March" statement'];
  for (let i = 0; i < 2_000; i++) inspectValue(punct[i % punct.length]!, q);
  t = process.cpuUsage();
  for (let i = 0; i < N / 10; i++) inspectValue(punct[i % punct.length]!, q);
  d = process.cpuUsage(t);
  console.log(`slow path (benign text with quotes, &, parentheses): ${((d.user + d.system) / (N / 10)).toFixed(2)} us per string`);
  // Long values (the cap is MAX_INSPECT_CHARS, 1 MiB): plain prose takes the fast path; prose with
  // punctuation the slow path without a finding; a hostile value with its attack at the very end.
  const mib = 1 << 20;
  const longCases: [string, string][] = [
    ['plain prose', 'Lorem ipsum dolor sit amet consectetur adipiscing elit '.repeat(20_000).slice(0, mib)],
    ['prose with punctuation', "O'Brien (trustee) wrote: sell 100; keep 5% cash & bonds, thanks! ".repeat(17_000).slice(0, mib)],
    ['hostile, attack at the end', `${"x' or 'y <b> a;b (c) %41 &amp; ".repeat(33_000).slice(0, mib - 40)}/../../etc/passwd`],
  ];
  for (const [label, v] of longCases) {
    t = process.cpuUsage();
    const f = inspectValue(v, { location: 'body' });
    d = process.cpuUsage(t);
    console.log(`1 MiB value, ${label}: ${((d.user + d.system) / 1000).toFixed(1)} ms CPU (${f ? f.rule : 'allowed'})`);
  }
  // A reference to scale the figures above to another machine.
  t = process.cpuUsage();
  for (let i = 0; i < 100_000; i++) JSON.parse('{"a":1,"b":[1,2,3]}');
  d = process.cpuUsage(t);
  console.log(`reference: JSON.parse of a 19-byte object on this machine: ${((d.user + d.system) / 100_000).toFixed(3)} us`);
}

// ---------------------------------------------------------------------------------------------
// sqlmap through a front that inspects query values, against a deliberately injectable upstream.

async function sqlmapRun(): Promise<void> {
  const { spawnSync, spawn } = await import('node:child_process');
  if (spawnSync('sqlmap', ['--version'], { encoding: 'utf8' }).status !== 0) {
    console.log('sqlmap: not installed (apt-get install sqlmap); skipped');
    return;
  }
  const http = await import('node:http');
  const { default: Database } = await import('better-sqlite3');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const db = new Database(':memory:');
  db.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance REAL); INSERT INTO accounts VALUES (1,'alice',1234.5),(2,'bob',99.0),(3,'carol',10.25);");
  // Deliberately injectable: values concatenated into SQL, errors answered with the message.
  const upstream = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    let sql: string;
    if (u.pathname === '/accounts') sql = `SELECT id, owner, balance FROM accounts WHERE id = ${u.searchParams.get('id') ?? '1'}`;
    else if (u.pathname === '/search') sql = `SELECT id, owner, balance FROM accounts WHERE owner = '${u.searchParams.get('owner') ?? ''}'`;
    else if (u.pathname === '/sorted') sql = `SELECT id, owner FROM accounts ORDER BY ${u.searchParams.get('by') ?? 'id'}`;
    else {
      res.writeHead(404).end();
      return;
    }
    try {
      const rows = db.prepare(sql).all();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rows));
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`SQL error: ${(err as Error).message}`);
    }
  });
  const stats = { requests: 0, blocked: 0 };
  const rules = new Map<string, number>();
  const front = http.createServer((req, res) => {
    stats.requests++;
    const u = new URL(req.url!, 'http://x');
    for (const [, v] of u.searchParams) {
      const f = inspectValue(v, { location: 'query' });
      if (f) {
        stats.blocked++;
        rules.set(f.rule, (rules.get(f.rule) ?? 0) + 1);
        res.writeHead(400, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ code: 'RAMPART_INJECTION_DETECTED', family: f.family }));
        return;
      }
    }
    const p = http.request({ host: '127.0.0.1', port: (upstream.address() as { port: number }).port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    p.on('error', () => res.writeHead(502).end());
    req.pipe(p);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as { port: number }).port;
  const fr = (front.address() as { port: number }).port;
  const level = process.env.SQLMAP_LEVEL ?? '3';
  const risk = process.env.SQLMAP_RISK ?? '3';
  const targets = (process.env.SQLMAP_TARGETS ?? '/accounts?id=1,/search?owner=alice,/sorted?by=id').split(',');
  const run = (port: number, path: string): Promise<{ injectable: boolean; summary: string; seconds: number }> =>
    new Promise((resolve) => {
      const out = mkdtempSync(join(tmpdir(), 'rampart-sqlmap-'));
      const started = Date.now();
      const args = ['-u', `http://127.0.0.1:${port}${path}`, '--batch', `--level=${level}`, `--risk=${risk}`, '--flush-session', '--disable-coloring', `--output-dir=${out}`, '--timeout=10', '--retries=0', '--time-sec=2', '--threads=1'];
      if (process.env.SQLMAP_DBMS) args.push(`--dbms=${process.env.SQLMAP_DBMS}`);
      if (process.env.SQLMAP_TAMPER) args.push(`--tamper=${process.env.SQLMAP_TAMPER}`);
      // query parameters only: the front inspects query values, as the gateway does with its chosen headers
      args.push('--skip=user-agent,referer,host,cookie');
      const child = spawn('sqlmap', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.on('close', () => {
        rmSync(out, { recursive: true, force: true });
        const injectable = /sqlmap identified the following injection point|is vulnerable|appears to be '.*' injectable/.test(text) && !/do not appear to be injectable/.test(text);
        const summary =
          text
            .split('\n')
            .filter((l) => /injectable|identified the following|Type: |CRITICAL|WAF\/IPS|back-end DBMS/.test(l))
            .slice(0, 8)
            .join('\n    ') || '(no verdict lines)';
        resolve({ injectable, summary, seconds: (Date.now() - started) / 1000 });
      });
    });
  console.log(`sqlmap ${spawnSync('sqlmap', ['--version'], { encoding: 'utf8' }).stdout.trim()} --level=${level} --risk=${risk}${process.env.SQLMAP_DBMS ? ` --dbms=${process.env.SQLMAP_DBMS}` : ''}${process.env.SQLMAP_TAMPER ? ` --tamper=${process.env.SQLMAP_TAMPER}` : ''}`);
  for (const path of targets) {
    const direct = await run(up, path);
    console.log(`  direct  ${path}: ${direct.injectable ? 'INJECTABLE (expected: the upstream is vulnerable)' : 'not found (the harness is not proving anything)'} in ${direct.seconds.toFixed(0)} s`);
    const before = { ...stats };
    const through = await run(fr, path);
    console.log(`  inspect ${path}: ${through.injectable ? 'INJECTABLE: the inspector let an injection through' : 'nothing found'} in ${through.seconds.toFixed(0)} s; ${stats.requests - before.requests} requests, ${stats.blocked - before.blocked} refused`);
    console.log(`    ${through.summary}`);
  }
  console.log(`  rules that refused sqlmap's requests: ${[...rules].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`).join(', ')}`);
  upstream.close();
  front.close();
  db.close();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--misses')) {
    for (const m of corpusMisses()) console.log(`${m.family} ${m.kind} line ${m.line}: ${JSON.stringify(m.text)}${m.finding ? ` -> ${m.finding.family} ${m.finding.rule} via ${m.finding.via}` : ''}`);
  } else {
    printReport();
  }
  if (process.argv.includes('--sqlmap')) {
    sqlmapRun().catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
  }
}
