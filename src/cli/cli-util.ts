/**
 * Small things several commands share: ISO time arguments, verifier key arguments, and a progress
 * bar that draws in a terminal and stays silent in a pipe (issue 7: long CLI work shows progress).
 */
import { readFile } from 'node:fs/promises';
import { CliExit, EXIT } from './exit-codes.js';

export function isoTime(v: string): number {
  // Date-only or date-time with an explicit zone; a bare local time would be ambiguous (AU-8 is UTC).
  // eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored and every quantifier is bounded ({n}, {1,3}, ?); the nested groups are optional, not repeated; input is one CLI argument
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v)) {
    throw new CliExit(EXIT.USAGE, `rampart: '${v}' is not an ISO 8601 time such as 2025-01-31 or 2025-01-31T09:30:00Z`);
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new CliExit(EXIT.USAGE, `rampart: '${v}' is not a valid time`);
  return t;
}

/** A verifier key given inline (name+hash+base64) or as a file holding one. */
export async function readKeyArg(v: string): Promise<string> {
  if (/^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/.test(v)) return v;
  try {
    return (await readFile(v, 'utf8')).trim();
  } catch (err) {
    throw new CliExit(EXIT.USAGE, `rampart: --public-key: '${v}' is neither a verifier key nor a readable file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

