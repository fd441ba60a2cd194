/**
 * The configuration version a gateway starts with (issue 6): "every configuration the gateway
 * runs is stored with its hash, time, who applied it and its approvers", and "the gateway refuses
 * an unapproved version under such a profile". `rampart apply` covers versions activated live;
 * this covers the other way a version comes to run, a start from the file on disk.
 *
 * - The version hash is computed over the same bundle `rampart apply` would send
 *   (src/config/bundle.ts), so a gateway started from a checkout names the hash `rampart plan`
 *   computes over that checkout. A configuration whose files cannot travel as a bundle (one
 *   outside its folder) runs under hash.ts's hash, with a warning, unless approvals are required.
 * - Restarting the version that ran last, or a first start (nothing was ever activated here), is
 *   always allowed: a deployment must be able to come up.
 * - Starting ANOTHER version while `changes.approvals` asks for approvals (the higher of the
 *   last activated version's setting and the file's, as for apply) needs that version submitted
 *   and approved through the admin plane first; otherwise the start is refused, naming both
 *   versions. Without this rule, a restart with an edited file would bypass approval.
 * - The started version is stored (author `startup:<OS user>` unless someone submitted it) and
 *   its activation recorded (by `startup`), beside the `gateway.started` ledger record.
 */
import { userInfo } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { approvalStatus, requiredApprovals } from '../config/approval-policy.js';
import { bundleText, decodeStoredBundle, encodeStoredBundle, filesOf, makeBundle, versionHash, type ConfigBundle } from '../config/bundle.js';
import { parseConfigWithWarnings } from '../config/load.js';
import type { RampartConfig } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Storage } from '../storage/types.js';

export interface StartedVersion {
  hash: string;
  bundle: ConfigBundle;
  file: string;
}

/** The version hash of `config`, loaded from `configFile`, over its bundle. */
export async function localVersionOf(config: RampartConfig, configFile: string): Promise<StartedVersion> {
  const bundle = await makeBundle(configFile);
  return { hash: versionHash(config, dirname(resolve(configFile)), filesOf(bundle), bundle.root), bundle, file: configFile };
}

/**
 * The started version, or undefined when its files cannot travel as a bundle (a document or
 * certificate outside the configuration's folder): then the gateway runs with hash.ts's hash and
 * says why `rampart plan` and `apply` will refuse it. Under `changes.approvals` that is refused
 * instead: a version that cannot be stored cannot be shown to be the approved one.
 */
export async function startedVersion(config: RampartConfig, configFile: string, logger: Logger): Promise<StartedVersion | undefined> {
  try {
    return await localVersionOf(config, configFile);
  } catch (err) {
    if (!(err instanceof ConfigError) || config.changes.approvals > 0) throw err;
    logger.warn({ reason: err.message }, 'this configuration cannot be stored as a version (rampart plan and apply will refuse it); it runs under its plain configuration hash');
    return undefined;
  }
}

/** The `changes.approvals` of a stored version (0 when it cannot be read back). */
function approvalsOf(bundleBytes: Buffer, file: string): number {
  try {
    const b = decodeStoredBundle(bundleBytes);
    const text = bundleText(b, b.root);
    if (text === undefined) return 0;
    return parseConfigWithWarnings(text, file).config.changes.approvals;
  } catch {
    return 0;
  }
}

/**
 * Refuses (ConfigError, nothing started) a start of a version that needs approvals it does not
 * have; see the file comment for the rule.
 */
export async function checkStartAllowed(storage: Storage, config: RampartConfig, started: StartedVersion): Promise<void> {
  const [last] = await storage.configs.activations(1);
  if (!last || last.hash === started.hash) return;
  const previous = await storage.configs.getVersion(last.hash);
  const required = requiredApprovals(previous ? { changes: { ...config.changes, approvals: approvalsOf(previous.bundle, started.file) } } : undefined, config);
  if (required === 0) return;
  const mine = await storage.configs.getVersion(started.hash);
  const enabled = new Set((await storage.admin.listUsers()).filter((u) => !u.disabled).map((u) => u.username.toLowerCase()));
  const status = mine
    ? approvalStatus({ author: mine.author, approvals: await storage.configs.approvals(started.hash), required, active: (a) => enabled.has(a) })
    : undefined;
  if (status?.satisfied) return;
  throw new ConfigError([
    {
      file: started.file,
      pointer: '/changes/approvals',
      message:
        `this file is configuration version ${started.hash}, which ${mine ? `has ${status!.approvers.length} of the ${required} approval(s) it needs` : 'was never submitted for approval'}; ` +
        `the version applied here last is ${last.hash}. Start with that version's files, then submit this one (rampart apply) and have it approved (rampart approve) while it runs.`,
    },
  ]);
}

/** Stores the started version (if new) and records its activation. Failures are logged, not fatal: the ledger record already names the hash. */
export async function recordStartedVersion(storage: Storage, config: RampartConfig, started: StartedVersion, logger: Logger): Promise<void> {
  const now = Date.now();
  try {
    await storage.configs.putVersion({
      hash: started.hash,
      createdAt: now,
      author: `startup:${osUser()}`,
      bundle: encodeStoredBundle(started.bundle),
      profile: config.profile,
      message: `started from ${basename(started.file)}`,
    });
    await storage.configs.recordActivation({ hash: started.hash, at: now, by: 'startup', node: config.node });
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'the started configuration version could not be stored');
  }
}

function osUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}
