/**
 * The admin plane's configuration routes (issue 6, compliance as code): versions are submitted,
 * approved by people other than their author, and applied to the live gateway, each step a
 * ledger record naming the admin (R17a4-3, AU-10). Identities come from the admin plane (the
 * session or admin token), never from git metadata.
 *
 *   GET  /admin/api/config/live                       the running version: hash, since, who applied it, approvers, files, text
 *   GET  /admin/api/config/versions                   submitted versions, newest first
 *   GET  /admin/api/config/versions/:hash             one version with its approvals (?bundle=1: the files too)
 *   POST /admin/api/config/versions                   {bundle, message}: validated by loading it, stored with author = caller
 *   POST /admin/api/config/versions/:hash/approve     {comment}: a person with a fresh second factor, never the author
 *   POST /admin/api/config/versions/:hash/apply       refused while approvals are missing; otherwise swapped in live
 *
 * The number of approvals a version needs is src/config/approval-policy.ts's rule: the larger of
 * the running version's and its own `changes.approvals`.
 */
import type { ServerResponse } from 'node:http';
import { join, resolve as resolvePath, dirname } from 'node:path';
import { approvalStatus, mayApprove, requiredApprovals, type ApprovalStatus } from '../config/approval-policy.js';
import { bundleText, checkBundle, decodeStoredBundle, encodeStoredBundle, loadBundle, makeBundle, type ConfigBundle, type LoadedBundle } from '../config/bundle.js';
import { parseConfigWithWarnings } from '../config/load.js';
import type { RampartConfig } from '../config/types.js';
import { ConfigError, ERRORS, formatConfigIssue, type ConfigIssue, type ErrorCode } from '../core/errors.js';
import { PROBLEM_TYPE_BASE } from '../core/problem.js';
import { applySecurityHeaders } from '../gateway/respond.js';
import { loadApi } from '../openapi/load.js';
import type { ConfigVersionRow, Storage } from '../storage/types.js';
import { actorOf, AdminFailure, type AdminRecordInput, type Handler, type Route } from './server.js';

/** The registry entries these routes answer with (src/core/errors.ts). */
const CONFIG_CODES = [
  'RAMPART_CONFIG_INVALID', 'RAMPART_CONFIG_BUNDLE_TOO_LARGE', 'RAMPART_CONFIG_VERSION_UNKNOWN', 'RAMPART_CONFIG_SELF_APPROVAL',
  'RAMPART_CONFIG_APPROVALS_MISSING', 'RAMPART_CONFIG_HASH_MISMATCH', 'RAMPART_CONFIG_ACTIVATION_UNAVAILABLE',
] as const satisfies readonly ErrorCode[];
export type ConfigErrorCode = (typeof CONFIG_CODES)[number];
export const CONFIG_ERRORS: Readonly<Record<ConfigErrorCode, (typeof ERRORS)[ConfigErrorCode]>> = Object.fromEntries(CONFIG_CODES.map((c) => [c, ERRORS[c]])) as never;


/** The version the gateway runs now. */
export interface LiveVersion {
  hash: string;
  config: RampartConfig;
  /** The gateway's own configuration folder: keys, secrets and storage resolve against it. */
  configDir: string;
  /** The configuration file it started from (default `<configDir>/rampart.yaml`). */
  configFile?: string;
}

/** What the composition root gives these routes (src/gateway/start.ts). */
export interface ConfigVersionDeps {
  live(): LiveVersion;
  /** Swaps a loaded version in atomically (src/gateway/start.ts); throws ConfigError when it cannot. */
  activate?(loaded: LoadedBundle): Promise<{ hash: string; warnings: readonly string[] }>;
  /** Versions are written under `<stateDir>/config-versions/`; default: the secrets file's folder. */
  stateDir?: string;
  /** `${NAME}` values for versions (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface ConfigRouteDeps extends ConfigVersionDeps {
  storage: Storage;
  configHash: () => string;
  /** Security headers for the answers. */
  headers: RampartConfig['headers'];
  /** Largest submission body (submissionBodyLimit of the configuration the admin listener started with). */
  maxSubmissionBytes: number;
  json(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void;
  /** The admin plane's ledger writer (./server.ts): submissions, approvals, applications and refusals. */
  record(o: AdminRecordInput): Promise<void>;
  now: () => number;
}

const HASH = '(sha256(?::|%3[Aa])[0-9a-f]{64})';
const MAX_MESSAGE = 500;

/** Largest request body for a submission: the bundle in base64 plus room for the JSON around it. */
export function submissionBodyLimit(config: RampartConfig): number {
  return Math.ceil((config.changes.maxBundleBytes * 4) / 3) + 64 * 1024;
}

export function configRoutes(d: ConfigRouteDeps): Route[] {
  const { storage } = d;
  const configs = storage.configs;
  const stateDir = () => d.stateDir ?? dirname(d.live().config.secretsFile);
  const env = () => d.env ?? process.env;

  /** An answer with one of CONFIG_ERRORS (RFC 9457 problem+json), with optional issues. */
  class ConfigFailure extends Error {
    constructor(
      readonly code: ConfigErrorCode,
      readonly detailText?: string,
      readonly extra: Record<string, unknown> = {},
    ) {
      super(code);
    }
  }

  function problem(res: ServerResponse, f: ConfigFailure, requestId: string): void {
    const spec = CONFIG_ERRORS[f.code];
    const body = {
      type: PROBLEM_TYPE_BASE + f.code.toLowerCase().replace(/^rampart_/, '').replace(/_/g, '-'),
      title: spec.title,
      status: spec.status,
      detail: f.detailText ?? spec.detail,
      code: f.code,
      requestId,
      ...f.extra,
    };
    applySecurityHeaders(res, d.headers, true, 'no-store');
    const text = JSON.stringify(body);
    res.setHeader('content-type', 'application/problem+json');
    res.setHeader('content-length', Buffer.byteLength(text));
    res.writeHead(spec.status);
    res.end(text);
  }

  /** Runs a handler, answering its ConfigFailures itself (the server knows only registered codes). */
  const guarded =
    (h: Handler): Handler =>
    async (req, res, ctx) => {
      try {
        await h(req, res, ctx);
      } catch (err) {
        if (err instanceof ConfigFailure) return problem(res, err, ctx.requestId);
        throw err;
      }
    };

  /** A ConfigError as a 422 answer: every file:line message, none echoing a configured value. */
  const invalid = (err: ConfigError): ConfigFailure =>
    new ConfigFailure('RAMPART_CONFIG_INVALID', err.issues.slice(0, 20).map(formatConfigIssue).join('\n'), {
      issues: err.issues.slice(0, 100).map((i: ConfigIssue) => ({ file: i.file, ...(i.line !== undefined ? { line: i.line } : {}), ...(i.column !== undefined ? { column: i.column } : {}), ...(i.pointer !== undefined ? { pointer: i.pointer } : {}), message: i.message, text: formatConfigIssue(i) })),
    });



  const hashParam = (p: string | undefined): string => (p ?? '').replace(/%3a/i, ':');

  async function versionOr404(hash: string): Promise<ConfigVersionRow> {
    const v = await configs.getVersion(hash);
    if (!v) throw new ConfigFailure('RAMPART_CONFIG_VERSION_UNKNOWN');
    return v;
  }

  /** A version's own configuration, parsed from its text alone (enough to read `changes`). */
  function versionConfig(b: ConfigBundle): RampartConfig {
    const text = bundleText(b, b.root) ?? '';
    const base = resolvePath('/', 'rampart-version');
    return parseConfigWithWarnings(text, b.root, { env: env(), resolveFile: (_p, p) => resolvePath(base, p) }).config;
  }

  /** Approvals that count for `v`: distinct, not the author, from admins who are still enabled (FC-2). */
  async function statusOf(v: ConfigVersionRow, required: number): Promise<ApprovalStatus> {
    const rows = await configs.approvals(v.hash);
    const enabled = new Set<string>();
    for (const r of rows) {
      const u = await storage.admin.getUserByName(r.approver);
      if (u && !u.disabled) enabled.add(r.approver.toLowerCase());
    }
    return approvalStatus({ author: v.author, approvals: rows, required, active: (a) => enabled.has(a) });
  }

  function requiredFor(b: ConfigBundle): number {
    let own: RampartConfig | undefined;
    try {
      own = versionConfig(b);
    } catch {
      own = undefined;
    }
    // A version that cannot be read here cannot lower the bar either.
    return own ? requiredApprovals(d.live().config, own) : d.live().config.changes.approvals;
  }

  /** Everything a submission must pass before it is stored: the bundle loads and its APIs build. */
  async function loadChecked(bundle: unknown): Promise<LoadedBundle> {
    const live = d.live();
    const max = live.config.changes.maxBundleBytes;
    try {
      checkBundle(bundle, { maxBytes: max });
    } catch (err) {
      if (err instanceof ConfigError && /maxBundleBytes/.test(err.message)) throw new ConfigFailure('RAMPART_CONFIG_BUNDLE_TOO_LARGE', `The bundle exceeds changes.maxBundleBytes (${max} bytes) of the running version.`);
      throw err;
    }
    const loaded = await loadBundle(bundle, { configDir: live.configDir, stateDir: stateDir(), env: env(), maxBytes: max });
    // The documents as the runtime will build them (src/gateway/runtime.ts): a broken document
    // or an override for an operationId it does not have is refused now, not at apply.
    const qualify = loaded.config.apis.length > 1;
    const issues: ConfigIssue[] = [];
    for (const a of loaded.config.apis) {
      const model = await loadApi({ name: a.name, file: a.openapi, qualifyScopes: qualify, closedObjects: a.closedObjects, reservedPrefix: loaded.config.reservedPrefix });
      const known = new Set(model.operations.map((o) => o.id));
      for (const id of Object.keys(a.operations)) if (!known.has(id)) issues.push({ file: loaded.file, pointer: `/apis/${a.name}/operations/${id}`, message: `operationId '${id}' is not in the API document` });
    }
    if (issues.length > 0) throw new ConfigError(issues);
    return loaded;
  }

  const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());

  // -- handlers -------------------------------------------------------------------------------

  const liveH: Handler = async (req, res) => {
    const live = d.live();
    const [version, activations] = await Promise.all([configs.getVersion(live.hash), configs.activations(1000)]);
    const act = activations.find((a) => a.hash === live.hash);
    let bundle: ConfigBundle | undefined;
    let source: 'version' | 'disk' | 'unknown' = 'unknown';
    if (version) {
      bundle = decodeStoredBundle(version.bundle);
      source = 'version';
    } else {
      // Started from its own folder and not applied since: the files as they are on its disk.
      bundle = await makeBundle(live.configFile ?? join(live.configDir, 'rampart.yaml')).catch(() => undefined);
      if (bundle) source = 'disk';
    }
    const status = version ? await statusOf(version, 0) : undefined;
    const wantBundle = new URL(req.url ?? '/', 'https://x').searchParams.get('bundle') === '1';
    d.json(res, 200, {
      hash: live.hash,
      node: live.config.node,
      since: iso(act?.at),
      appliedBy: act?.by ?? null,
      author: version?.author ?? null,
      approvers: status?.approvers ?? [],
      source,
      root: bundle?.root ?? null,
      files: bundle ? bundle.files.map((f) => ({ path: f.path, sha256: f.sha256 })) : [],
      configText: bundle ? bundleText(bundle, bundle.root) ?? null : null,
      ...(wantBundle && bundle ? { bundle } : {}),
    });
  };

  const listH: Handler = async (req, res) => {
    const q = new URL(req.url ?? '/', 'https://x').searchParams;
    const limit = Math.min(Math.max(Number.parseInt(q.get('limit') ?? '50', 10) || 50, 1), 1000);
    const live = d.live().hash;
    const versions = await configs.listVersions(limit);
    d.json(res, 200, { live, versions: versions.map((v) => ({ hash: v.hash, createdAt: iso(v.createdAt), author: v.author, profile: v.profile, message: v.message, live: v.hash === live })) });
  };

  const getH: Handler = async (req, res, { params }) => {
    const v = await versionOr404(hashParam(params[0]));
    const bundle = decodeStoredBundle(v.bundle);
    const status = await statusOf(v, requiredFor(bundle));
    const rows = await configs.approvals(v.hash);
    const acts = (await configs.activations(1000)).filter((a) => a.hash === v.hash);
    const wantBundle = new URL(req.url ?? '/', 'https://x').searchParams.get('bundle') === '1';
    d.json(res, 200, {
      hash: v.hash,
      createdAt: iso(v.createdAt),
      author: v.author,
      profile: v.profile,
      message: v.message,
      live: v.hash === d.live().hash,
      approvalsRequired: status.required,
      approvals: rows.map((r) => ({ approver: r.approver, at: iso(r.at), comment: r.comment, counts: status.approvers.includes(r.approver.toLowerCase()) })),
      missing: status.missing,
      activations: acts.map((a) => ({ at: iso(a.at), by: a.by, node: a.node })),
      files: bundle.files.map((f) => ({ path: f.path, sha256: f.sha256 })),
      ...(wantBundle ? { bundle } : {}),
    });
  };

  const submitH: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const message = body.message === undefined ? '' : body.message;
    if (typeof message !== 'string' || message.length > MAX_MESSAGE || /[\r\n\0]/.test(message)) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `message: one line of at most ${MAX_MESSAGE} characters`);
    if (body.bundle === undefined) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'bundle: the configuration bundle (rampart apply makes it)');
    let loaded: LoadedBundle;
    try {
      loaded = await loadChecked(body.bundle);
    } catch (err) {
      const f = err instanceof ConfigFailure ? err : err instanceof ConfigError ? invalid(err) : undefined;
      if (!f) throw err;
      // A refused change is a record too (AU-2): who tried, and why in general terms.
      await d.record({ ...actorOf(caller!), type: 'admin.action', outcome: 'deny', status: CONFIG_ERRORS[f.code].status, reason: f.code, requestId, client, detail: { action: 'config.submit', issues: err instanceof ConfigError ? err.issues.length : 0 } }).catch(() => {});
      throw f;
    }
    const author = caller!.user.username;
    const created = await configs.putVersion({ hash: loaded.hash, createdAt: d.now(), author, bundle: encodeStoredBundle(loaded.bundle), profile: loaded.config.profile, message });
    const stored = (await configs.getVersion(loaded.hash))!;
    const status = await statusOf(stored, requiredApprovals(d.live().config, loaded.config));
    await d.record({
      ...actorOf(caller!),
      type: 'admin.action',
      outcome: 'success',
      status: created ? 201 : 200,
      reason: 'RAMPART_OK',
      requestId,
      client,
      detail: { action: 'config.submit', hash: loaded.hash, created, files: loaded.bundle.files.length, approvalsRequired: status.required },
      ...(message ? { extra: { message } } : {}),
    });
    d.json(res, created ? 201 : 200, {
      hash: loaded.hash,
      created,
      author: stored.author,
      approvalsRequired: status.required,
      approvals: status.approvers.length,
      approvers: status.approvers,
      missing: status.missing,
      live: loaded.hash === d.live().hash,
      warnings: loaded.warnings.map(formatConfigIssue),
    });
  };

  const approveH: Handler = async (_req, res, { params, body, caller, client, requestId }) => {
    const comment = body.comment === undefined ? '' : body.comment;
    if (typeof comment !== 'string' || comment.length > MAX_MESSAGE || /[\0]/.test(comment)) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `comment: at most ${MAX_MESSAGE} characters`);
    const v = await versionOr404(hashParam(params[0]));
    const approver = caller!.user.username;
    const allowed = mayApprove(v.author, approver);
    if (!allowed.ok) {
      // AU-10: an attempt to approve one's own change is a security event naming who tried.
      await d.record({ ...actorOf(caller!), type: 'security.event', outcome: 'deny', status: 403, reason: 'RAMPART_CONFIG_SELF_APPROVAL', requestId, client, detail: { event: 'config.approve', hash: v.hash, cause: 'author' } }).catch(() => {});
      throw new ConfigFailure('RAMPART_CONFIG_SELF_APPROVAL');
    }
    const added = await configs.addApproval({ hash: v.hash, approver, at: d.now(), comment });
    const status = await statusOf(v, requiredFor(decodeStoredBundle(v.bundle)));
    await d.record({
      ...actorOf(caller!),
      type: 'admin.action',
      outcome: 'success',
      status: 200,
      reason: 'RAMPART_OK',
      requestId,
      client,
      detail: { action: 'config.approve', hash: v.hash, duplicate: !added, approvals: status.approvers.length, approvalsRequired: status.required },
      ...(comment ? { extra: { comment } } : {}),
    });
    d.json(res, 200, { hash: v.hash, approved: true, duplicate: !added, approvalsRequired: status.required, approvals: status.approvers.length, approvers: status.approvers, missing: status.missing });
  };

  const applyH: Handler = async (_req, res, { params, caller, client, requestId }) => {
    const v = await versionOr404(hashParam(params[0]));
    const by = caller!.user.username;
    const deny = (code: ConfigErrorCode, detail: Record<string, string | number | boolean>) =>
      d.record({ ...actorOf(caller!), type: 'admin.action', outcome: 'deny', status: CONFIG_ERRORS[code].status, reason: code, requestId, client, detail: { action: 'config.apply', hash: v.hash, ...detail } }).catch(() => {});
    if (!d.activate) throw new ConfigFailure('RAMPART_CONFIG_ACTIVATION_UNAVAILABLE');
    let loaded: LoadedBundle;
    try {
      loaded = await loadChecked(decodeStoredBundle(v.bundle));
    } catch (err) {
      if (!(err instanceof ConfigError) && !(err instanceof ConfigFailure)) throw err;
      const f = err instanceof ConfigFailure ? err : invalid(err);
      await deny(f.code, { stage: 'load' });
      throw f;
    }
    if (loaded.hash !== v.hash) {
      await deny('RAMPART_CONFIG_HASH_MISMATCH', { loadedAs: loaded.hash });
      throw new ConfigFailure('RAMPART_CONFIG_HASH_MISMATCH', `Loaded on this gateway the version hashes to ${loaded.hash}, not ${v.hash}: an \${ENV} value it uses differs from when it was submitted. Submit it again.`);
    }
    const live = d.live();
    const status = await statusOf(v, requiredApprovals(live.config, loaded.config));
    if (!status.satisfied) {
      await deny('RAMPART_CONFIG_APPROVALS_MISSING', { approvals: status.approvers.length, approvalsRequired: status.required });
      throw new ConfigFailure('RAMPART_CONFIG_APPROVALS_MISSING', `This version needs ${status.required} approval${status.required === 1 ? '' : 's'} by admins other than its author (${v.author}); it has ${status.approvers.length}.`, {
        approvalsRequired: status.required,
        approvals: status.approvers.length,
        missing: status.missing,
      });
    }
    const previous = live.hash;
    let result: { hash: string; warnings: readonly string[] };
    try {
      result = await d.activate(loaded);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      await deny('RAMPART_CONFIG_INVALID', { stage: 'activate', issues: err.issues.length });
      throw invalid(err);
    }
    const at = d.now();
    await configs.recordActivation({ hash: v.hash, at, by, node: live.config.node });
    // Approver user ids (pseudonymous, like userId elsewhere) in the chained part; their names sealed.
    const ids: string[] = [];
    for (const a of status.approvers) ids.push((await storage.admin.getUserByName(a))?.id ?? 'unknown');
    await d.record({
      ...actorOf(caller!),
      type: 'admin.action',
      outcome: 'success',
      status: 200,
      reason: 'RAMPART_OK',
      requestId,
      client,
      detail: { action: 'config.apply', hash: v.hash, previous, approvals: status.approvers.length, approvalsRequired: status.required, approvers: ids.join(' ') },
      extra: { author: v.author, ...(status.approvers.length > 0 ? { approvers: status.approvers.join(' ') } : {}) },
    });
    d.json(res, 200, { hash: result.hash, previous, appliedBy: by, author: v.author, approvers: status.approvers, warnings: [...result.warnings] });
  };

  return [
    { method: 'GET', pattern: /^\/admin\/api\/config\/live$/, action: 'config.read', handler: guarded(liveH) },
    { method: 'GET', pattern: /^\/admin\/api\/config\/versions$/, action: 'config.read', handler: guarded(listH) },
    { method: 'GET', pattern: new RegExp(`^/admin/api/config/versions/${HASH}$`), action: 'config.read', handler: guarded(getH) },
    { method: 'POST', pattern: /^\/admin\/api\/config\/versions$/, action: 'config.submit', maxBodyBytes: d.maxSubmissionBytes, handler: guarded(submitH) },
    // AU-10, FC-1: an approval is a person's act with both factors proved just now, never a token's.
    { method: 'POST', pattern: new RegExp(`^/admin/api/config/versions/${HASH}/approve$`), action: 'config.approve', sessionOnly: true, reauth: true, handler: guarded(approveH) },
    { method: 'POST', pattern: new RegExp(`^/admin/api/config/versions/${HASH}/apply$`), action: 'config.apply', handler: guarded(applyH) },
  ];
}
