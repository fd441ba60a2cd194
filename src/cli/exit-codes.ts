/**
 * Exit codes every command uses, so scripts can branch on them (sysexits.h where one fits).
 */
export const EXIT = {
  OK: 0,
  /** The command ran and found a problem (e.g. `audit verify` found tampering). */
  FAILED: 1,
  /** Bad usage: unknown option, missing argument. */
  USAGE: 2,
  /** A record, key or file that was asked for does not exist. */
  NOT_FOUND: 3,
  /** A needed service (database, upstream) is unavailable. */
  UNAVAILABLE: 69,
  /** An internal error. */
  SOFTWARE: 70,
  /** The configuration is invalid (the message names the file and line). */
  CONFIG: 78,
} as const;

/** Thrown by a command to end with a given exit code and a message on stderr. */
export class CliExit extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
    this.name = 'CliExit';
  }
}

/** Option parser for positive integers (`--limit 10`); anything else is a usage error (exit 2). */
export function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new CliExit(EXIT.USAGE, `rampart: '${v}' is not a positive integer`);
  return n;
}
