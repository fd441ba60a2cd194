/**
 * The `rampart` CLI: one file per subcommand, each thin over the services (STYLE: oathkeeper's
 * cmd/). This file only wires them and turns errors into exit codes.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { CliExit, EXIT } from './exit-codes.js';
import { register as registerInit } from './init.js';
import { register as registerStart } from './start.js';
import { register as registerKeys } from './keys.js';
import { register as registerAudit } from './audit.js';
import { register as registerDemo } from './demo.js';
import { register as registerIdentity } from './identity.js';
import { register as registerAdmin, registerUsers } from './admin.js';
import { register as registerEvidence } from './evidence.js';
import { register as registerLedger } from './ledger.js';
import { register as registerDb } from './db.js';
import { registerCheck } from './check.js';
import { registerConfigCommands } from './config-cmds.js';
import { registerVerify } from './verify.js';

export function buildProgram(): Command {
  const program = new Command('rampart')
    .description('Security and compliance gateway for financial APIs')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerDemo(program);
  registerInit(program);
  registerStart(program);
  registerKeys(program);
  registerAudit(program);
  registerIdentity(program);
  registerAdmin(program);
  registerUsers(program);
  registerEvidence(program);
  registerLedger(program);
  registerDb(program);
  registerCheck(program);
  registerConfigCommands(program);
  registerVerify(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version end through here with exit code 0.
    return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  }
  if (err instanceof CliExit) {
    if (err.message) process.stderr.write(`${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`rampart: invalid configuration\n${err.message}\n`);
    return EXIT.CONFIG;
  }
  const e = err as NodeJS.ErrnoException;
  // The environment, not Rampart: a service that is down, a port that is taken or not permitted.
  if (e && (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.code === 'ETIMEDOUT' || e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES')) {
    process.stderr.write(`rampart: service unavailable: ${e.message}\n`);
    return EXIT.UNAVAILABLE;
  }
  process.stderr.write(`rampart: ${e && e.message ? e.message : String(err)}\n`);
  return EXIT.SOFTWARE;
}
