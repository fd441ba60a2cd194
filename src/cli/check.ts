/**
 * `rampart check [-c FILE] [--profile default|finra] [--format human|json|sarif] [--out FILE]`:
 * lints rampart.yaml and every API's OpenAPI document against the compliance profile
 * (src/compliance/check). Reads files only: no storage, no network, no secrets, so it runs in
 * CI on the repository as committed.
 *
 * Exit codes (issue 6): 0 no error finding, 1 at least one error finding, 2 the configuration
 * (or an OpenAPI document it names) cannot be read at all; the report says why.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatHuman, formatJson, summaryLine } from '../compliance/check/format.js';
import { isProfile, PROFILES, type Profile } from '../compliance/check/profiles.js';
import { runCheck, type CheckResult } from '../compliance/check/run-check.js';
import { toSarif } from '../compliance/check/sarif.js';
import { withConfigOption } from './common.js';
import { CliExit, EXIT } from './exit-codes.js';

export const CHECK_FORMATS = ['human', 'json', 'sarif'] as const;
export type CheckFormat = (typeof CHECK_FORMATS)[number];

/** Exit codes of `rampart check`: an unreadable config or document is EXIT.CONFIG (78), as for every command. */
export const CHECK_EXIT = { CLEAN: EXIT.OK, ERRORS: EXIT.FAILED, UNREADABLE: EXIT.CONFIG } as const;

export interface CheckCommandOptions {
  config: string;
  profile?: Profile;
  format?: CheckFormat;
  /** Same as format json (every data command has --json). */
  json?: boolean;
  out?: string;
}

/**
 * Runs the check and writes the report to `--out` or through `write`; returns the exit code.
 *
 * @example
 * const code = await checkCommand({ config: 'rampart.yaml', format: 'sarif', out: 'rampart.sarif' }, (s) => process.stdout.write(s));
 */
export async function checkCommand(opts: CheckCommandOptions, write: (text: string) => void): Promise<{ code: number; result: CheckResult }> {
  const result = await runCheck({ configFile: opts.config, ...(opts.profile !== undefined ? { profile: opts.profile } : {}) });
  const format: CheckFormat = opts.json ? 'json' : (opts.format ?? 'human');
  const text = format === 'sarif' ? `${JSON.stringify(toSarif(result), null, 2)}\n` : format === 'json' ? formatJson(result) : formatHuman(result);
  if (opts.out !== undefined) await writeFile(opts.out, text);
  else write(text);
  const code = result.unreadable ? CHECK_EXIT.UNREADABLE : result.errors > 0 ? CHECK_EXIT.ERRORS : CHECK_EXIT.CLEAN;
  return { code, result };
}

/**
 * Registers `rampart check` on the program.
 *
 * @example
 * const program = new Command('rampart');
 * registerCheck(program);
 */
export function registerCheck(program: Command): void {
  withConfigOption(
    program
      .command('check')
      .description('lint rampart.yaml and the OpenAPI documents against the compliance profile; exit 1 on an error finding, 78 when the files cannot be read')
      .option('--profile <profile>', `compliance profile (${PROFILES.join(' or ')}); overrides the file's profile`, parseProfile)
      .option('--format <format>', `report format: ${CHECK_FORMATS.join(', ')}`, parseFormat, 'human')
      .option('--json', 'same as --format json')
      .option('--out <file>', 'write the report to this file instead of standard output'),
  ).action(async (opts: CheckCommandOptions) => {
    const { code, result } = await checkCommand(opts, (s) => process.stdout.write(s));
    // With --out the report is in the file: say on stderr what it holds.
    if (opts.out !== undefined) process.stderr.write(`rampart check: ${summaryLine(result)}; report written to ${opts.out}\n`);
    if (code !== CHECK_EXIT.CLEAN) throw new CliExit(code, '');
  });
}

function parseProfile(v: string): Profile {
  if (!isProfile(v)) throw new CliExit(EXIT.USAGE, `rampart: --profile must be one of ${PROFILES.join(', ')}`);
  return v;
}

function parseFormat(v: string): CheckFormat {
  if (!(CHECK_FORMATS as readonly string[]).includes(v)) throw new CliExit(EXIT.USAGE, `rampart: --format must be one of ${CHECK_FORMATS.join(', ')}`);
  return v as CheckFormat;
}
