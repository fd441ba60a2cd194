/**
 * Rampart's signed checkpoints: a C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) body in a
 * C2SP signed note (./signed-note.ts). The checkpoint binds the RFC 9162 Merkle root over every
 * record's leaf hash (./merkle.ts) at a tree size, so that an examiner holding only the verifier
 * key checks any record's inclusion and any two checkpoints' consistency offline (AU-9(3),
 * R17a4-6, R17a4-8).
 *
 * Body (every line ends with a newline; the first three are the C2SP checkpoint proper):
 *
 *   <origin>                       the log's identity, e.g. rampart.example.com/ledger/node-1
 *   <tree size>                    decimal, no leading zeros: the number of records (head seq)
 *   <root hash>                    standard base64 of the 32-byte Merkle root at that size
 *   rampart-chain <hex>            the chain hash of record seq = size (./chain.ts; 64 zeros for
 *                                  size 0): binds the linear hash chain to the same signature
 *   rampart-time <ms>              when the checkpoint was made, UTC milliseconds since the epoch,
 *                                  decimal without leading zeros (R17a4-7 time-dating)
 *   rampart-kind <kind>            why: periodic | shutdown | prune | verify | manual
 *
 * These three extension lines, in this order, are part of the format and must stay stable: a
 * change invalidates every published checkpoint's parser. Generic checkpoint tools ignore them
 * (C2SP: extension lines are opaque); parseCheckpoint requires exactly them.
 */
import { openNote, requireVerified, signNote } from './signed-note.js';
import type { NoteSigner, NoteVerifier } from './signed-note.js';

export const CHECKPOINT_MALFORMED = 'RAMPART_CHECKPOINT_MALFORMED';

/** Why a checkpoint was signed. */
export type CheckpointKind = 'periodic' | 'shutdown' | 'prune' | 'verify' | 'manual';
export const CHECKPOINT_KINDS: readonly CheckpointKind[] = Object.freeze(['periodic', 'shutdown', 'prune', 'verify', 'manual']);

export interface Checkpoint {
  /** The log identity (first line); non-empty, no newline or control character. */
  origin: string;
  /** Tree size = number of records = seq of the last record covered. */
  size: number;
  /** RFC 9162 Merkle tree hash over leaves 0..size-1 (32 bytes). */
  rootHash: Buffer;
  /** Hex chain hash of record seq = size (GENESIS_HASH for size 0). */
  chainHash: string;
  /** UTC milliseconds since the epoch. */
  ts: number;
  kind: CheckpointKind;
}

function malformed(why: string): Error & { code: typeof CHECKPOINT_MALFORMED } {
  return Object.assign(new Error(`malformed checkpoint: ${why}`), { code: CHECKPOINT_MALFORMED } as const);
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const CHAIN_HASH = /^[0-9a-f]{64}$/;
const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;
const LONE_SURROGATE = /[\ud800-\udfff]/u;

function originProblem(origin: unknown): string | undefined {
  if (typeof origin !== 'string' || origin.length === 0) return 'the origin is empty';
  for (let i = 0; i < origin.length; i++) {
    if (origin.charCodeAt(i) < 0x20) return 'the origin contains a newline or control character';
  }
  if (LONE_SURROGATE.test(origin)) return 'the origin is not valid Unicode';
  return undefined;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * The checkpoint body (the note text). Throws RAMPART_CHECKPOINT_MALFORMED for a value that would
 * not parse back to the same checkpoint.
 *
 * @example
 * formatCheckpoint({ origin: 'rampart.example.com/ledger', size: 42, rootHash, chainHash, ts: Date.now(), kind: 'periodic' });
 * // 'rampart.example.com/ledger\n42\n<base64 root>\nrampart-chain <hex>\nrampart-time 1700000000000\nrampart-kind periodic\n'
 */
export function formatCheckpoint(cp: Checkpoint): string {
  const problem =
    originProblem(cp.origin) ??
    (!isCount(cp.size) ? `the tree size ${String(cp.size)} is not a non-negative safe integer` : undefined) ??
    (!Buffer.isBuffer(cp.rootHash) || cp.rootHash.length !== 32 ? 'the root hash is not 32 bytes' : undefined) ??
    (typeof cp.chainHash !== 'string' || !CHAIN_HASH.test(cp.chainHash) ? 'the chain hash is not 64 lowercase hex digits' : undefined) ??
    (!isCount(cp.ts) ? `the time ${String(cp.ts)} is not a non-negative safe integer of milliseconds` : undefined) ??
    (!CHECKPOINT_KINDS.includes(cp.kind) ? `the kind ${JSON.stringify(cp.kind)} is not one of ${CHECKPOINT_KINDS.join(', ')}` : undefined);
  if (problem) throw malformed(problem);
  return `${cp.origin}\n${cp.size}\n${cp.rootHash.toString('base64')}\nrampart-chain ${cp.chainHash}\nrampart-time ${cp.ts}\nrampart-kind ${cp.kind}\n`;
}

/** `prefix <value>` -> value, or throws naming the line. */
function extension(line: string | undefined, key: string, n: number): string {
  if (line === undefined || !line.startsWith(`${key} `)) throw malformed(`line ${n} must be "${key} <value>"`);
  return line.slice(key.length + 1);
}

function decimal(s: string, what: string): number {
  if (!DECIMAL.test(s)) throw malformed(`the ${what} ${JSON.stringify(s)} is not a decimal without leading zeros`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw malformed(`the ${what} ${s} is too large`);
  return n;
}

/**
 * Parses a checkpoint body strictly: exactly the six lines formatCheckpoint writes, decimals
 * without leading zeros, a canonical base64 root of 32 bytes, a known kind. Throws
 * RAMPART_CHECKPOINT_MALFORMED otherwise.
 *
 * @example
 * const cp = parseCheckpoint(verifyNote(note, verifierKeys));
 */
export function parseCheckpoint(body: string): Checkpoint {
  if (typeof body !== 'string' || !body.endsWith('\n')) throw malformed('the body must end with a newline');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length !== 6) throw malformed(`expected 6 lines (origin, size, root, rampart-chain, rampart-time, rampart-kind), got ${lines.length}`);
  const [origin, sizeLine, rootLine] = lines as [string, string, string];
  const originBad = originProblem(origin);
  if (originBad) throw malformed(originBad);
  const size = decimal(sizeLine, 'tree size');
  const rootHash = Buffer.from(rootLine, 'base64');
  if (!BASE64_32.test(rootLine) || rootHash.toString('base64') !== rootLine) throw malformed('the root hash is not the standard base64 of 32 bytes');
  const chainHash = extension(lines[3], 'rampart-chain', 4);
  if (!CHAIN_HASH.test(chainHash)) throw malformed('the rampart-chain value is not 64 lowercase hex digits');
  const ts = decimal(extension(lines[4], 'rampart-time', 5), 'rampart-time');
  const kind = extension(lines[5], 'rampart-kind', 6);
  if (!(CHECKPOINT_KINDS as readonly string[]).includes(kind)) throw malformed(`the rampart-kind ${JSON.stringify(kind)} is not one of ${CHECKPOINT_KINDS.join(', ')}`);
  return { origin, size, rootHash, chainHash, ts, kind: kind as CheckpointKind };
}

/**
 * The signed checkpoint note. The key name SHOULD equal the origin (tlog-checkpoint §Signatures).
 *
 * @example
 * const note = signCheckpoint({ origin, size: range.size, rootHash: range.root(), chainHash, ts: Date.now(), kind: 'shutdown' }, signerKey);
 */
export function signCheckpoint(cp: Checkpoint, signerKey: string | NoteSigner): string {
  return signNote(formatCheckpoint(cp), [signerKey]);
}

/**
 * Verifies a checkpoint note against the known verifier keys and parses it. Throws like
 * verifyNote (RAMPART_NOTE_MALFORMED, RAMPART_NOTE_UNVERIFIED, RAMPART_NOTE_BAD_SIGNATURE) and
 * RAMPART_CHECKPOINT_MALFORMED for a signed body that is not a Rampart checkpoint. `signedBy`
 * lists the names of the known keys whose signatures verified.
 *
 * @example
 * const { checkpoint, signedBy } = openCheckpoint(note, await keyHistory());
 * verifyInclusion(leaf, seq - 1, checkpoint.size, proof, checkpoint.rootHash);
 */
export function openCheckpoint(noteText: string | Uint8Array, verifierKeys: readonly (string | NoteVerifier)[]): { checkpoint: Checkpoint; signedBy: string[] } {
  const opened = openNote(noteText, verifierKeys);
  const signedBy = requireVerified(opened);
  return { checkpoint: parseCheckpoint(opened.text), signedBy };
}
