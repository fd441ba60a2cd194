/**
 * The Ed25519 key that signs this node's checkpoints (C2SP signed-note keys, ./signed-note.ts):
 * a 0600 file created on first start, never committed, never logged. Every verifier key that
 * ever signed is also kept in the store's key history (ledger_signing_keys) for the whole
 * retention period, and exported with evidence, so an examiner can verify old checkpoints after
 * a rotation (AU-9(3), R17a4-6).
 *
 * File format: { "v": 1, "keys": [{ "signer": "PRIVATE+KEY+...", "verifier": "...", "createdAt": ms }] }
 * — the last key signs; earlier ones are kept for reference.
 */
import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createPrivateFileOnce, fileError, replacePrivateFile } from '../core/private-file.js';
import { generateNoteKey, parseSignerKey, parseVerifierKey } from './signed-note.js';

export interface CheckpointKey {
  /** PRIVATE+KEY+... (never leaves this process). */
  signer: string;
  /** name+hash+base64: published, exported, kept in the store. */
  verifier: string;
  createdAt: number;
}

interface KeyFile {
  v: 1;
  keys: CheckpointKey[];
}

const WHAT = 'checkpoint signing key';

/** Reads the key file, creating it with a new key named `name` when it does not exist. */
export async function loadCheckpointKey(file: string, name: string): Promise<CheckpointKey> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(file, `cannot read the ${WHAT}`, err);
  }
  if (text === undefined) {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const k = generateNoteKey(name);
    const body: KeyFile = { v: 1, keys: [{ signer: k.signerKey, verifier: k.verifierKey, createdAt: Date.now() }] };
    await createPrivateFileOnce(file, `${JSON.stringify(body, null, 2)}\n`, WHAT);
    // Another process may have won the race: read what is there.
    text = await readFile(file, 'utf8');
  }
  return current(parse(file, text));
}

/** Adds a new key (named `name`) that signs from now on; returns it. */
export async function rotateCheckpointKey(file: string, name: string): Promise<CheckpointKey> {
  const f = parse(file, await readFile(file, 'utf8'));
  const k = generateNoteKey(name);
  const next: CheckpointKey = { signer: k.signerKey, verifier: k.verifierKey, createdAt: Date.now() };
  f.keys.push(next);
  await replacePrivateFile(file, `${JSON.stringify(f, null, 2)}\n`, WHAT);
  return next;
}

/** Every verifier key in the file, oldest first. */
export async function checkpointVerifierKeys(file: string): Promise<string[]> {
  return parse(file, await readFile(file, 'utf8')).keys.map((k) => k.verifier);
}

function parse(file: string, text: string): KeyFile {
  let f: KeyFile;
  try {
    f = JSON.parse(text) as KeyFile;
  } catch (err) {
    throw fileError(file, `the ${WHAT} file is not JSON`, err);
  }
  if (f?.v !== 1 || !Array.isArray(f.keys) || f.keys.length === 0) throw fileError(file, `the ${WHAT} file has no keys (expected {"v":1,"keys":[...]})`, undefined);
  for (const k of f.keys) {
    try {
      parseSignerKey(k.signer);
      parseVerifierKey(k.verifier);
    } catch (err) {
      throw fileError(file, `the ${WHAT} file holds a malformed key`, err);
    }
  }
  return f;
}

function current(f: KeyFile): CheckpointKey {
  return f.keys[f.keys.length - 1]!;
}
