/**
 * Compliance as code from the CLI (issue 6), every step through the admin API with the
 * operator's own identity, so the ledger names who submitted, approved and applied (R17a4-3,
 * AU-10; never git metadata):
 *
 *   rampart apply [-c FILE] [--message M] [--wait SECONDS] | --hash H
 *   rampart approve HASH --as USER [--comment C]       a person with both factors, never the author
 *   rampart plan [-c FILE] [--target ADMIN_URL]         drift between the repository and the live gateway
 *   rampart config versions                             submitted versions
 *
 * The bundle (src/config/bundle.ts) holds the configuration, its OpenAPI documents with the files
 * they reference, and public certificates; keys and secrets stay on the gateway's disk.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { bundleText, hashOfBundle, localVersion, makeBundle, type ConfigBundle } from '../config/bundle.js';
import { unifiedDiff } from '../config/line-diff.js';
import type { RampartConfig } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import { adminBase, adminCall, asPerson, operatorToken, tokenFile } from './admin-client.js';
import { loadCliConfig, output, withConfigOption } from './common.js';
import { CliExit, EXIT, positiveInt } from './exit-codes.js';

interface Submitted {
  hash: string;
  created: boolean;
  author: string;
  approvalsRequired: number;
  approvals: number;
  approvers: string[];
  missing: number;
  warnings: string[];
}

interface Applied {
  hash: string;
  previous: string;
  appliedBy: string;
  approvers: string[];
  warnings: string[];
}

interface LiveAnswer {
  hash: string;
  node: string;
  since: string | null;
  appliedBy: string | null;
  approvers: string[];
  source: 'version' | 'disk' | 'unknown';
  root: string | null;
  files: { path: string; sha256: string }[];
  configText: string | null;
  bundle?: ConfigBundle;
}

const enc = encodeURIComponent;

export function registerConfigCommands(program: Command): void {
  registerApply(program);
  registerApprove(program);
  registerPlan(program);
  const config = program.command('config').description('configuration versions on the live gateway');
  withConfigOption(config.command('versions').description('list submitted configuration versions, newest first').option('--limit <n>', 'how many', positiveInt, 20).option('--json', 'print JSON')).action(
    async (opts: { config: string; limit: number; json?: boolean }) => {
      const { config: c } = await loadCliConfig(opts);
      needAdmin(c);
      const r = await adminCall(c, 'GET', `/admin/api/config/versions?limit=${opts.limit}`, { token: await operatorToken(c) });
      const b = r.body as { live: string; versions: { hash: string; createdAt: string; author: string; message: string; live: boolean }[] };
      output(opts.json, b, () => (b.versions.length === 0 ? 'no versions submitted yet' : b.versions.map((v) => `${v.live ? '*' : ' '} ${v.hash}  ${v.createdAt}  ${v.author}  ${v.message}`).join('\n')));
    },
  );
}

function needAdmin(config: RampartConfig): void {
  if (!config.admin) throw new CliExit(EXIT.USAGE, 'rampart: no admin plane in this configuration (add `admin:` to rampart.yaml); configuration versions go through the admin API');
}

/** A refused submission or application names its cause; an invalid configuration exits 78 like `start`. */
function asConfigExit(err: unknown): never {
  if (err instanceof CliExit && /\(RAMPART_CONFIG_INVALID\)/.test(err.message)) throw new CliExit(EXIT.CONFIG, err.message.replace('the admin API refused: ', 'the gateway refused the configuration: '));
  throw err;
}

function registerApply(program: Command): void {
  withConfigOption(
    program
      .command('apply')
      .description('send the repository\'s configuration to the live gateway: submitted as a version, applied once it has the approvals its profile needs (exit 1 when some are missing)')
      .option('-m, --message <text>', 'one line saying what changes and why', '')
      .option('--hash <hash>', 'apply a version submitted earlier (once approved) instead of the local files')
      .option('--wait <seconds>', 'wait this long for the missing approvals, then apply', positiveInt)
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; message: string; hash?: string; wait?: number; json?: boolean }) => {
    const { config, file } = await loadCliConfig(opts);
    needAdmin(config);
    const token = await operatorToken(config);
    let versionId = opts.hash;
    let submitted: Submitted | undefined;
    let localHash: string | undefined;
    if (versionId === undefined) {
      const local = await localVersion(file);
      localHash = local.hash;
      const r = await adminCall(config, 'POST', '/admin/api/config/versions', { token, body: { bundle: local.bundle, message: opts.message } }).catch(asConfigExit);
      submitted = r.body as Submitted;
      versionId = submitted.hash;
      if (!opts.json) {
        process.stdout.write(`${submitted.created ? 'submitted' : 'already submitted'} ${versionId}${submitted.created ? '' : ` (by ${submitted.author})`}\n`);
        for (const w of submitted.warnings) process.stdout.write(`warning: ${w}\n`);
        if (local.hash !== versionId) process.stdout.write(`note: computed here the version is ${local.hash}; the gateway resolves \${ENV} with its own environment\n`);
      }
      let missing = submitted.missing;
      if (missing > 0 && opts.wait !== undefined) missing = await waitForApprovals(config, token, versionId, opts.wait);
      if (missing > 0) {
        const msg = `${versionId} needs ${submitted.approvalsRequired} approval${submitted.approvalsRequired === 1 ? '' : 's'} by admins other than ${submitted.author}; ${missing} missing.\nAsk another admin to run: rampart approve ${versionId} --as THEIR_NAME\nthen: rampart apply --hash ${versionId}`;
        if (opts.json) output(true, { ...submitted, applied: false, localHash }, () => '');
        throw new CliExit(EXIT.FAILED, opts.json ? '' : msg);
      }
    } else if (!/^sha256:[0-9a-f]{64}$/.test(versionId)) {
      throw new CliExit(EXIT.USAGE, 'rampart: --hash: a version hash, sha256:<64 hex digits>');
    }
    const a = (await adminCall(config, 'POST', `/admin/api/config/versions/${enc(versionId)}/apply`, { token }).catch(asConfigExit)).body as Applied;
    output(opts.json, { ...(submitted ?? {}), ...a, applied: true, ...(localHash ? { localHash } : {}) }, () =>
      [`applied ${a.hash} (was ${a.previous}) by ${a.appliedBy}${a.approvers.length ? `, approved by ${a.approvers.join(', ')}` : ''}`, ...a.warnings.map((w) => `warning: ${w}`)].join('\n'),
    );
  });
}

async function waitForApprovals(config: RampartConfig, token: string, hash: string, seconds: number): Promise<number> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const v = (await adminCall(config, 'GET', `/admin/api/config/versions/${enc(hash)}`, { token })).body as { missing: number };
    if (v.missing === 0 || Date.now() >= until) return v.missing;
    await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(0, until - Date.now()))));
  }
}

function registerApprove(program: Command): void {
  withConfigOption(
    program
      .command('approve')
      .description('approve a submitted configuration version: you log in with your password and second factor for it; the author cannot approve their own version')
      .argument('<hash>', 'the version hash (rampart apply prints it)')
      .requiredOption('--as <username>', 'your admin username')
      .option('--comment <text>', 'what you reviewed', '')
      .option('--json', 'print JSON'),
  ).action(async (hash: string, opts: { config: string; as: string; comment: string; json?: boolean }) => {
    if (!/^sha256:[0-9a-f]{64}$/.test(hash)) throw new CliExit(EXIT.USAGE, 'rampart: HASH: a version hash, sha256:<64 hex digits>');
    const { config } = await loadCliConfig(opts);
    needAdmin(config);
    const r = await asPerson(config, opts.as, (s) => adminCall(config, 'POST', `/admin/api/config/versions/${enc(hash)}/approve`, { ...s, body: { comment: opts.comment } }));
    const b = r.body as { duplicate: boolean; approvals: number; approvalsRequired: number; missing: number };
    output(opts.json, b, () => `${b.duplicate ? 'you had approved' : 'approved'} ${hash}: ${b.approvals} of ${b.approvalsRequired} approval${b.approvalsRequired === 1 ? '' : 's'}${b.missing === 0 ? '; it can be applied (rampart apply --hash ' + hash + ')' : `; ${b.missing} missing`}`);
  });
}



// -- plan -----------------------------------------------------------------------------------------

/** Exit codes of `rampart plan` (said in --help): scripts branch on them. */
const PLAN_EXIT = { SAME: 0, DIFFER: 1, ERROR: 2 } as const;

function registerPlan(program: Command): void {
  withConfigOption(
    program
      .command('plan')
      .description('show the drift between the repository\'s configuration and the live gateway\'s as a diff. Exit codes: 0 no drift, 1 they differ, 2 error')
      .option('--target <url>', 'the admin API of the live gateway (default: admin.listen of the configuration)')
      .option('--ca <file>', 'a PEM bundle to trust for --target (default: admin.tls.cert of the configuration), besides the system roots')
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; target?: string; ca?: string; json?: boolean }) => {
    let drift: boolean;
    try {
      drift = await plan(opts);
    } catch (err) {
      // Everything that is not an answer is exit 2, whatever its kind: plan's contract.
      const message = err instanceof CliExit ? err.message : err instanceof ConfigError ? `rampart: invalid configuration\n${err.message}` : `rampart: ${(err as Error).message}`;
      throw new CliExit(PLAN_EXIT.ERROR, message);
    }
    if (drift) throw new CliExit(PLAN_EXIT.DIFFER, '');
  });
}

async function plan(opts: { config: string; target?: string; ca?: string; json?: boolean }): Promise<boolean> {
  const file = opts.config;
  // The files need no ${ENV}; the configuration (for the admin URL and the local hash) may.
  const localBundle = await makeBundle(file);
  let config: RampartConfig | undefined;
  let localHash: string | undefined;
  let localHashError: string | undefined;
  try {
    const v = await localVersion(file);
    config = v.config;
    localHash = v.hash;
  } catch (err) {
    localHashError = err instanceof ConfigError ? err.message : (err as Error).message;
  }
  const live = await fetchLive(config, opts);
  const lb = live.bundle;
  const localRoot = bundleText(localBundle, localBundle.root) ?? '';
  const liveRoot = live.configText ?? '';
  const localFiles = new Map(localBundle.files.filter((f) => f.path !== localBundle.root).map((f) => [f.path, f]));
  const liveFiles = new Map(live.files.filter((f) => f.path !== live.root).map((f) => [f.path, f]));
  const changes: { path: string; change: 'added' | 'removed' | 'changed'; diff?: string }[] = [];
  for (const [p, f] of localFiles) {
    const other = liveFiles.get(p);
    if (!other) changes.push({ path: p, change: 'added' });
    else if (other.sha256 !== f.sha256) changes.push({ path: p, change: 'changed', ...(lb ? { diff: fileDiff(lb, localBundle, p) } : {}) });
  }
  for (const p of liveFiles.keys()) if (!localFiles.has(p)) changes.push({ path: p, change: 'removed' });
  changes.sort((a, b) => (a.path < b.path ? -1 : 1));
  const rootDiff = live.configText === null ? '' : unifiedDiff(liveRoot, localRoot, { from: `live/${live.root ?? 'rampart.yaml'}`, to: localBundle.root });
  const rootBytesDiffer = live.configText === null || liveRoot !== localRoot;
  // Same files but other text: comments or formatting only, when the meaning hashes alike here.
  let sameMeaning = false;
  if (rootBytesDiffer && lb && changes.length === 0 && localHash !== undefined) {
    try {
      sameMeaning = hashOfBundle(lb) === localHash;
    } catch {
      sameMeaning = false;
    }
  }
  const unknownLive = live.source === 'unknown';
  const drift = unknownLive ? localHash === undefined || localHash !== live.hash : changes.length > 0 || (rootBytesDiffer && !sameMeaning);
  const notes: string[] = [];
  if (unknownLive) notes.push('the gateway cannot show its files; compared by hash only');
  if (!drift && localHash !== undefined && localHash !== live.hash) notes.push(`the files are the same, but the hashes differ: the gateway resolves \${ENV} (and its own paths) in its environment; ${live.source === 'disk' ? 'it also runs a version it started with, hashed before any apply' : 'apply would not change what runs'}`);
  if (rootBytesDiffer && sameMeaning) notes.push(`${localBundle.root} differs in comments or formatting only: the same configuration`);
  if (localHashError) notes.push(`the local hash cannot be computed here: ${localHashError.split('\n')[0]}`);
  const result = { drift, live: { hash: live.hash, node: live.node, since: live.since, appliedBy: live.appliedBy, approvers: live.approvers, source: live.source }, local: { hash: localHash ?? null }, config: rootBytesDiffer ? (sameMeaning ? 'formatting' : 'changed') : 'same', files: changes.map(({ path, change }) => ({ path, change })), notes };
  output(opts.json, result, () => {
    const out: string[] = [];
    out.push(`live   ${live.hash}${live.appliedBy ? `  applied by ${live.appliedBy}${live.since ? ` at ${live.since}` : ''}` : live.source === 'disk' ? '  (started from its own files)' : ''}${live.approvers.length ? `, approved by ${live.approvers.join(', ')}` : ''}`);
    out.push(`local  ${localHash ?? '(not computed)'}`);
    if (rootDiff) out.push('', rootDiff.trimEnd());
    for (const c of changes) {
      out.push('', `${c.change.padEnd(7)} ${c.path}`);
      if (c.diff) out.push(c.diff.trimEnd());
    }
    for (const n of notes) out.push(`note: ${n}`);
    out.push('', drift ? `drift: the live gateway differs from ${file} (rampart apply -c ${file} to change it)` : 'no drift: the live gateway runs this configuration');
    return out.join('\n');
  });
  return drift;
}

/** A bounded line diff of one file, or a one-line note for binary files. */
function fileDiff(live: ConfigBundle, local: ConfigBundle, path: string): string {
  const a = live.files.find((f) => f.path === path);
  const b = local.files.find((f) => f.path === path);
  if (!a || !b) return '';
  const ab = Buffer.from(a.data, 'base64');
  const bb = Buffer.from(b.data, 'base64');
  const text = (x: Buffer) => !x.includes(0) && Buffer.from(x.toString('utf8'), 'utf8').equals(x);
  if (!text(ab) || !text(bb)) return `(binary: ${ab.length} bytes live, ${bb.length} here)`;
  const d = unifiedDiff(ab.toString('utf8'), bb.toString('utf8'), { from: `live/${path}`, to: path, maxLines: 200 });
  return d || '(only line endings or the final newline differ)';
}

/** GET /admin/api/config/live?bundle=1 from the configured admin listener or --target. */
async function fetchLive(config: RampartConfig | undefined, opts: { target?: string; ca?: string }): Promise<LiveAnswer> {
  if (!opts.target) {
    if (!config) throw new CliExit(PLAN_EXIT.ERROR, 'rampart: the configuration does not load here, so its admin URL is unknown: pass --target ADMIN_URL');
    needAdmin(config);
    return (await adminCall(config, 'GET', '/admin/api/config/live?bundle=1', { token: await operatorToken(config) })).body as LiveAnswer;
  }
  let base: URL;
  try {
    base = new URL(opts.target);
  } catch {
    throw new CliExit(PLAN_EXIT.ERROR, 'rampart: --target: an https:// URL of the admin API');
  }
  if (base.protocol !== 'https:') throw new CliExit(PLAN_EXIT.ERROR, 'rampart: --target: the admin API is TLS only (https://)');
  const origin = base.origin;
  const token = await tokenFor(origin, config);
  // --ca replaces the configured certificate: two self-signed development certificates share a
  // subject name, and OpenSSL would try the wrong one as the issuer.
  const ca = [...rootCertificates];
  if (opts.ca) ca.push(await readFile(opts.ca, 'utf8'));
  else if (config?.admin) ca.push(await readFile(config.admin.tls.cert, 'utf8').catch(() => ''));
  const dispatcher = new Agent({ connect: { ca: ca.filter(Boolean) } });
  try {
    const r = await request(`${origin}/admin/api/config/live?bundle=1`, { method: 'GET', dispatcher, headers: { authorization: `Bearer ${token}` } });
    const text = await r.body.text();
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    if (r.statusCode >= 400) {
      const p = body as { title?: string; detail?: string; code?: string } | undefined;
      throw new CliExit(PLAN_EXIT.ERROR, `rampart: the admin API refused: ${p?.title ?? r.statusCode}${p?.detail ? `: ${p.detail}` : ''}${p?.code ? ` (${p.code})` : ''}`);
    }
    return body as LiveAnswer;
  } catch (err) {
    if (err instanceof CliExit) throw err;
    throw new CliExit(PLAN_EXIT.ERROR, `rampart: the admin API at ${origin} cannot be reached: ${(err as Error).message}`);
  } finally {
    await dispatcher.close();
  }
}

/** RAMPART_ADMIN_TOKEN, else the saved token when it was minted for this admin URL. */
async function tokenFor(origin: string, config: RampartConfig | undefined): Promise<string> {
  if (process.env.RAMPART_ADMIN_TOKEN) return process.env.RAMPART_ADMIN_TOKEN;
  if (config?.admin && adminBase(config) === origin) return operatorToken(config);
  let saved: { url?: string; token?: string; expiresAt?: string } = {};
  try {
    saved = JSON.parse(await readFile(tokenFile(), 'utf8')) as typeof saved;
  } catch {
    // no saved token
  }
  if (saved.url === origin && saved.token && saved.expiresAt && Date.parse(saved.expiresAt) > Date.now()) return saved.token;
  throw new CliExit(PLAN_EXIT.ERROR, `rampart: no admin token for ${origin}: set RAMPART_ADMIN_TOKEN, or \`rampart admin login\` with a configuration whose admin listener is ${origin}`);
}
