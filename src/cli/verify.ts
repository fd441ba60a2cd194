/**
 * `rampart verify --target URL [--admin URL] --identities FILE [--config rampart.yaml]`: proves
 * the controls on the live deployment (issue 6; DESIGN.md "validation in the real environment")
 * and writes a table, JUnit XML, SARIF or JSON, plus, with --admin, the gateway's signed
 * attestation of the report (recorded in its ledger). docs/verify.md describes the probes and
 * the identities file.
 *
 * Exit codes: 0 every control passed (skips allowed), 1 a control failed or could not be probed,
 * 2 the run could not be made (bad arguments or identities, budget too small, admin plane refusing).
 */
import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { loadConfig } from '../config/load.js';
import type { RampartConfig } from '../config/types.js';
import { tokenFile } from './admin-client.js';
import { CliExit, positiveInt } from './exit-codes.js';
import { withActivity } from './progress.js';
import { IdentitiesError, loadIdentities } from '../verify/identities.js';
import { DEFAULT_MAX_PROBES, reportBytes, runVerify, VerifyCannotRun, type VerifyOutcome } from '../verify/run.js';
import { toJunit } from '../verify/report/junit.js';
import { toSarif } from '../verify/report/sarif.js';
import { toTable } from '../verify/report/table.js';

/** 2 = could not run (the brief's contract for pipelines; the same number as a usage error). */
export const VERIFY_EXIT = { PASSED: 0, FAILED: 1, CANNOT_RUN: 2 } as const;

const FORMATS = ['table', 'junit', 'sarif', 'json'] as const;
type Format = (typeof FORMATS)[number];

interface VerifyCliOptions {
  target: string;
  admin?: string;
  identities: string;
  config?: string;
  format: string;
  json?: boolean;
  out?: string;
  attestation?: string;
  maxProbes: number;
  ca: string[];
  insecure?: boolean;
  timeout?: number;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('probe the live deployment and report each control with evidence (TLS, headers, authentication, scopes, object access, injection, limits, audit landing, config drift)')
    .requiredOption('--target <url>', 'the data plane, e.g. https://api.example.com')
    .requiredOption('--identities <file>', 'test identities and paths (YAML or JSON; docs/verify.md)')
    .option('--admin <url>', 'the admin plane: probe marker, ledger landing and chain checks, live config hash, signed attestation (needs an admin token with verify.run and audit.read)')
    .option('-c, --config <file>', 'the repository\'s rampart.yaml: body cap, reserved prefix, issuer, and the hash compared with the live one')
    .option('--format <format>', `output: ${FORMATS.join(', ')}`, 'table')
    .option('--json', 'the same as --format json')
    .option('--out <file>', 'write the report here (default: standard output)')
    .option('--attestation <file>', 'write the signed attestation here (default: <out>.attestation.jws)')
    .option('--max-probes <n>', 'connections and requests the target may receive at most', positiveInt, DEFAULT_MAX_PROBES)
    .option('--ca <file>', 'trust this CA certificate (PEM) for the target and the admin plane; repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--insecure', 'send probes even when the target\'s certificate does not verify, or over plain HTTP (tests only)')
    .option('--timeout <ms>', 'per-connection timeout (default 10000)', positiveInt)
    .action(async (opts: VerifyCliOptions) => {
      const format = (opts.json ? 'json' : opts.format) as Format;
      if (!FORMATS.includes(format)) throw new CliExit(VERIFY_EXIT.CANNOT_RUN, `rampart: --format must be one of ${FORMATS.join(', ')}`);
      // Live probes take seconds to minutes (rate-limit budgets, timeouts): a spinner on a
      // terminal, nothing in a pipe or with JSON output (issue 7).
      const outcome = await withActivity(`probing ${opts.target}`, { json: format === 'json' }, () => verifyCommand(opts));
      const text = render(outcome, format);
      if (opts.out) await writeFile(opts.out, text, { mode: 0o644 });
      else process.stdout.write(text);
      if (outcome.attestation) {
        const file = opts.attestation ?? (opts.out ? `${opts.out}.attestation.jws` : undefined);
        if (file) {
          await writeFile(file, `${outcome.attestation.jws}\n`);
          // The attestation signs the canonical JSON report; keep those exact bytes beside it.
          if (format !== 'json' && opts.out) await writeFile(`${opts.out}.report.json`, reportBytes(outcome.report));
          process.stderr.write(`rampart: attestation (run ${outcome.attestation.runId}, key ${outcome.attestation.kid}) written to ${file}; it signs ${outcome.reportDigest}\n`);
        } else process.stderr.write(`rampart: attestation for ${outcome.reportDigest}: ${outcome.attestation.jws}\n`);
      } else if (outcome.attestationError) process.stderr.write(`rampart: no attestation: ${outcome.attestationError}\n`);
      const s = outcome.report.summary;
      if (s.failed > 0 || s.errors > 0) throw new CliExit(VERIFY_EXIT.FAILED, `rampart: ${s.failed} control${s.failed === 1 ? '' : 's'} failed, ${s.errors} could not be probed`);
    });
}

export function render(outcome: VerifyOutcome, format: Format): string {
  switch (format) {
    case 'junit':
      return toJunit(outcome.report);
    case 'sarif':
      return `${JSON.stringify(toSarif(outcome.report), null, 2)}\n`;
    case 'json':
      return reportBytes(outcome.report).toString('utf8');
    default:
      return toTable(outcome.report);
  }
}

async function verifyCommand(opts: VerifyCliOptions): Promise<VerifyOutcome> {
  const cannot = (m: string): never => {
    throw new CliExit(VERIFY_EXIT.CANNOT_RUN, `rampart: ${m}`);
  };
  const identities = await loadIdentities(opts.identities).catch((err: unknown) => (err instanceof IdentitiesError ? cannot(`identities ${err.message}`) : Promise.reject(err)));
  let config: { config: RampartConfig; file: string } | undefined;
  if (opts.config) {
    try {
      config = { config: await loadConfig(opts.config), file: opts.config };
    } catch (err) {
      cannot(`--config ${opts.config}: ${(err as Error).message}`);
    }
  }
  const ca: string[] = [];
  for (const f of opts.ca) ca.push(await readFile(f, 'utf8').catch((err: NodeJS.ErrnoException) => cannot(`--ca ${f}: ${err.code ?? err.message}`)));
  // The configured admin certificate is its own authority for a development certificate.
  if (opts.admin && config?.config.admin) ca.push(await readFile(config.config.admin.tls.cert, 'utf8').catch(() => ''));
  const admin = opts.admin ? { url: opts.admin, token: await adminToken(opts.admin) } : undefined;
  try {
    return await runVerify({
      target: opts.target,
      identities,
      ...(config ? { config } : {}),
      ...(admin ? { admin } : {}),
      ca: ca.filter((c) => c !== ''),
      insecure: opts.insecure === true,
      maxProbes: opts.maxProbes,
      ...(opts.timeout ? { timeoutMs: opts.timeout } : {}),
    });
  } catch (err) {
    if (err instanceof VerifyCannotRun) cannot(err.message);
    throw err;
  }
}

/** RAMPART_ADMIN_TOKEN, else the token `rampart admin login` saved for this admin URL. */
async function adminToken(url: string): Promise<string> {
  if (process.env.RAMPART_ADMIN_TOKEN) return process.env.RAMPART_ADMIN_TOKEN;
  let saved: { url?: string; token?: string; expiresAt?: string };
  try {
    saved = JSON.parse(await readFile(tokenFile(), 'utf8')) as typeof saved;
  } catch {
    throw new CliExit(VERIFY_EXIT.CANNOT_RUN, 'rampart: --admin needs an admin token: set RAMPART_ADMIN_TOKEN or run `rampart admin login` first');
  }
  const norm = (u: string) => u.replace(/\/+$/, '').toLowerCase();
  if (!saved.token || !saved.expiresAt || Date.parse(saved.expiresAt) <= Date.now()) throw new CliExit(VERIFY_EXIT.CANNOT_RUN, 'rampart: the admin token has expired: `rampart admin login` again');
  if (saved.url === undefined || norm(saved.url) !== norm(url)) throw new CliExit(VERIFY_EXIT.CANNOT_RUN, `rampart: the saved admin token is for ${saved.url ?? '(unknown)'}, not ${url}: set RAMPART_ADMIN_TOKEN or log in there`);
  return saved.token;
}
