/**
 * C2SP signed notes (https://c2sp.org/signed-note, as implemented by golang.org/x/mod/sumdb/note)
 * with Ed25519 keys: the envelope of Rampart's checkpoints, so that an examiner, a witness or any
 * Go transparency-log tool verifies them with the public verifier key alone (AU-9(3), R17a4-6).
 *
 * A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines
 *
 *   — <key name> base64(4-byte big-endian key ID || 64-byte Ed25519 signature of the text)
 *
 * Keys are strings: a verifier key `<name>+<8 hex key ID>+base64(0x01 || 32-byte public key)` and
 * a signer key `PRIVATE+KEY+<name>+<8 hex key ID>+base64(0x01 || 32-byte seed)`, where the key ID
 * is the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key).
 *
 * What it guarantees:
 * - signNote emits exactly what the Go implementation emits (the PeterNeumann vector is a test);
 * - openNote parses by the spec's rules (valid UTF-8, no control characters but newline, text
 *   split from signatures at the last blank line, well-formed signature lines, at most 100
 *   signatures) and verifies every signature whose (name, key ID) matches a known key; signatures
 *   from unknown keys are reported and otherwise ignored, as the spec requires;
 * - verifyNote returns the text only when at least one known key signed it and no known key's
 *   signature fails (RAMPART_NOTE_UNVERIFIED, RAMPART_NOTE_BAD_SIGNATURE, RAMPART_NOTE_MALFORMED).
 *
 * Signer keys never appear in an error message, and a parsed signer holds its private key as a
 * KeyObject, which does not serialise.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, hash, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export const NOTE_MALFORMED = 'RAMPART_NOTE_MALFORMED';
export const NOTE_UNVERIFIED = 'RAMPART_NOTE_UNVERIFIED';
export const NOTE_BAD_SIGNATURE = 'RAMPART_NOTE_BAD_SIGNATURE';
export const NOTE_KEY_INVALID = 'RAMPART_NOTE_KEY_INVALID';

export type NoteErrorCode = typeof NOTE_MALFORMED | typeof NOTE_UNVERIFIED | typeof NOTE_BAD_SIGNATURE | typeof NOTE_KEY_INVALID;

function noteError(code: NoteErrorCode, message: string): Error & { code: NoteErrorCode } {
  return Object.assign(new Error(message), { code });
}

/** Signature type byte of Ed25519 keys (signed-note §Signature types). */
const ALG_ED25519 = 0x01;
/** The spec lets verifiers cap signatures (they must accept 16); Go's limit is 100. */
export const MAX_NOTE_SIGNATURES = 100;
const SIG_PREFIX = '\u2014 '; // EM DASH, space

// DER wrappers for a raw Ed25519 key (RFC 8410): PKCS#8 around a 32-byte seed, SPKI around a
// 32-byte public key. The raw bytes are the last 32 bytes of each.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/** A parsed verifier key: what openNote checks signatures with. */
export interface NoteVerifier {
  readonly name: string;
  /** The key ID, an unsigned 32-bit integer. */
  readonly keyHash: number;
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  /** The key in note format, `<name>+<hash>+<base64>`. */
  readonly verifierKey: string;
  readonly key: KeyObject;
}

/** A parsed signer key. The private key stays inside a KeyObject. */
export interface NoteSigner {
  readonly name: string;
  readonly keyHash: number;
  /** The matching verifier key in note format (publish this one). */
  readonly verifierKey: string;
  readonly key: KeyObject;
}

/** One signature line of an opened note. */
export interface NoteSignature {
  name: string;
  keyHash: number;
  /** A known verifier has this (name, key ID). */
  known: boolean;
  /** A known verifier checked the signature and it is valid. */
  verified: boolean;
}

export interface OpenedNote {
  /** The signed text, final newline included. */
  text: string;
  /** Distinct signature lines, in note order. */
  sigs: NoteSignature[];
}

// Unicode spaces as Go's unicode.IsSpace sees them (the spec: names contain no Unicode spaces).
const SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
/** An ASCII control character (below U+0020), other than newline when `newlineOk`. */
function hasControl(s: string, newlineOk: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && !(newlineOk && c === 0x0a)) return true;
  }
  return false;
}

// A lone surrogate (only matched when unpaired, in u mode): not encodable as UTF-8.
const LONE_SURROGATE = /[\ud800-\udfff]/u;
// eslint-disable-next-line security/detect-unsafe-regex -- linear: the repeated group has a fixed width of 4, so an input splits into groups one way only, and the optional tail needs '='
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Name rules: non-empty, no Unicode space, no '+', and (for use in a note) no control character. */
function isValidName(name: string): boolean {
  return name.length > 0 && !SPACE.test(name) && !name.includes('+') && !hasControl(name, false) && !LONE_SURROGATE.test(name);
}

/** Standard base64 with padding, canonical only (re-encoding gives the same text), or undefined. */
function decodeBase64(s: string): Buffer | undefined {
  if (s.length === 0 || s.length % 4 !== 0 || !BASE64.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : undefined;
}

/** s up to the first `sep`, and the rest (Go's chop). */
function chop(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/**
 * The note key ID of an Ed25519 key: SHA-256(name || "\n" || 0x01 || publicKey)[:4], big-endian.
 *
 * @example
 * noteKeyHash('PeterNeumann', publicKey).toString(16); // 'c74f20a3'
 */
export function noteKeyHash(name: string, publicKey: Uint8Array): number {
  const digest = hash('sha256', Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), Buffer.of(ALG_ED25519), publicKey]), 'buffer');
  return digest.readUInt32BE(0);
}

function encodeVerifierKey(name: string, publicKey: Buffer): string {
  return `${name}+${hex8(noteKeyHash(name, publicKey))}+${Buffer.concat([Buffer.of(ALG_ED25519), publicKey]).toString('base64')}`;
}

function checkName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || !isValidName(name)) {
    throw noteError(NOTE_KEY_INVALID, `${what}: the key name ${JSON.stringify(name)} is invalid (it must be non-empty, without spaces, '+' or control characters)`);
  }
}

/**
 * Generates an Ed25519 note key pair named `name` (RECOMMENDED by the spec: a schema-less URL
 * such as `rampart.example.com/node-1`). Keep signerKey secret; publish verifierKey.
 *
 * @example
 * const { signerKey, verifierKey } = generateNoteKey('rampart.example.com/ledger');
 */
export function generateNoteKey(name: string): { signerKey: string; verifierKey: string } {
  checkName(name, 'generateNoteKey');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const verifierKey = encodeVerifierKey(name, pub);
  const signerKey = `PRIVATE+KEY+${name}+${hex8(noteKeyHash(name, pub))}+${Buffer.concat([Buffer.of(ALG_ED25519), seed]).toString('base64')}`;
  seed.fill(0);
  return { signerKey, verifierKey };
}

/** Parses the 8-hex-digit key ID (either case, as Go's ParseUint accepts). */
function parseHash(hash16: string): number | undefined {
  return /^[0-9a-fA-F]{8}$/.test(hash16) ? Number.parseInt(hash16, 16) : undefined;
}

/**
 * Parses a verifier key `<name>+<hash>+<base64(0x01 || public key)>`; throws an Error with code
 * RAMPART_NOTE_KEY_INVALID when it is malformed, not Ed25519, or its key ID does not match.
 *
 * @example
 * const v = parseVerifierKey('PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW');
 */
export function parseVerifierKey(verifierKey: string): NoteVerifier {
  if (typeof verifierKey !== 'string') throw noteError(NOTE_KEY_INVALID, 'verifier key: expected a string <name>+<hash>+<base64 key>');
  const [name, rest] = chop(verifierKey, '+');
  const [hash16, key64] = chop(rest, '+');
  const keyHash = parseHash(hash16);
  const raw = decodeBase64(key64);
  if (!isValidName(name) || keyHash === undefined || raw === undefined) {
    throw noteError(NOTE_KEY_INVALID, 'verifier key: malformed (expected <name>+<8 hex digit key ID>+<base64 key>)');
  }
  if (raw[0] !== ALG_ED25519) throw noteError(NOTE_KEY_INVALID, `verifier key ${name}: unknown signature type ${raw[0]} (only 1, Ed25519, is supported)`);
  if (raw.length !== 33) throw noteError(NOTE_KEY_INVALID, `verifier key ${name}: an Ed25519 key is 32 bytes, got ${raw.length - 1}`);
  const publicKey = Buffer.from(raw.subarray(1));
  if (noteKeyHash(name, publicKey) !== keyHash) throw noteError(NOTE_KEY_INVALID, `verifier key ${name}: key ID ${hash16} does not match the key`);
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, publicKey]), format: 'der', type: 'spki' });
  return { name, keyHash, publicKey, verifierKey: encodeVerifierKey(name, publicKey), key };
}

/**
 * Parses a signer key `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`; throws an Error with
 * code RAMPART_NOTE_KEY_INVALID (whose message never repeats the key) when it is malformed or its
 * key ID does not match the public key derived from the seed.
 *
 * @example
 * const s = parseSignerKey(process.env.RAMPART_CHECKPOINT_KEY!);
 * s.verifierKey; // publish this
 */
export function parseSignerKey(signerKey: string): NoteSigner {
  const malformed = (): Error => noteError(NOTE_KEY_INVALID, 'signer key: malformed (expected PRIVATE+KEY+<name>+<8 hex digit key ID>+<base64 seed>)');
  if (typeof signerKey !== 'string') throw malformed();
  const [priv1, r1] = chop(signerKey, '+');
  const [priv2, r2] = chop(r1, '+');
  const [name, r3] = chop(r2, '+');
  const [hash16, key64] = chop(r3, '+');
  const keyHash = parseHash(hash16);
  const raw = decodeBase64(key64);
  if (priv1 !== 'PRIVATE' || priv2 !== 'KEY' || !isValidName(name) || keyHash === undefined || raw === undefined) throw malformed();
  if (raw[0] !== ALG_ED25519) throw noteError(NOTE_KEY_INVALID, `signer key ${name}: unknown signature type ${raw[0]} (only 1, Ed25519, is supported)`);
  if (raw.length !== 33) throw noteError(NOTE_KEY_INVALID, `signer key ${name}: an Ed25519 seed is 32 bytes, got ${raw.length - 1}`);
  const der = Buffer.concat([PKCS8_ED25519, raw.subarray(1)]);
  raw.fill(0);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  der.fill(0);
  const publicKey = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32);
  if (noteKeyHash(name, publicKey) !== keyHash) throw noteError(NOTE_KEY_INVALID, `signer key ${name}: key ID ${hash16} does not match the key`);
  return { name, keyHash, verifierKey: encodeVerifierKey(name, publicKey), key };
}

/** Why `text` cannot be the text of a note, or undefined when it can. */
function textProblem(text: string): string | undefined {
  if (!text.endsWith('\n')) return 'the text must end with a newline';
  if (hasControl(text, true)) return 'the text contains a control character other than newline';
  if (LONE_SURROGATE.test(text)) return 'the text is not valid Unicode (a lone surrogate)';
  return undefined;
}

/**
 * Signs `text` with each signer key and returns the note: the text, a blank line and one
 * signature line per distinct key, in the order given. The text must end with a newline and hold
 * no control character but newline (it may hold blank lines: the last one separates the
 * signatures). Throws RAMPART_NOTE_MALFORMED for such text and RAMPART_NOTE_KEY_INVALID for a bad
 * key or no key.
 *
 * @example
 * const note = signNote('example.com/log\n42\n...\n', [signerKey]);
 */
export function signNote(text: string, signers: readonly (string | NoteSigner)[]): string {
  const problem = typeof text === 'string' ? textProblem(text) : 'the text must be a string';
  if (problem) throw noteError(NOTE_MALFORMED, `cannot sign: ${problem}`);
  if (signers.length === 0) throw noteError(NOTE_KEY_INVALID, 'cannot sign: no signer key given');
  if (signers.length > MAX_NOTE_SIGNATURES) throw noteError(NOTE_KEY_INVALID, `cannot sign: more than ${MAX_NOTE_SIGNATURES} signer keys`);
  const msg = Buffer.from(text, 'utf8');
  const seen = new Set<string>();
  let lines = '';
  for (const s of signers) {
    const signer = typeof s === 'string' ? parseSignerKey(s) : s;
    const id = `${signer.name}+${hex8(signer.keyHash)}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(signer.keyHash);
    lines += `${SIG_PREFIX}${signer.name} ${Buffer.concat([head, sign(null, msg, signer.key)]).toString('base64')}\n`;
  }
  return `${text}\n${lines}`;
}

interface ParsedSig {
  line: string;
  name: string;
  keyHash: number;
  sig: Buffer;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Splits a note into text and signature lines by the spec's rules, or throws MALFORMED. */
function parseNote(input: string | Uint8Array): { text: string; sigs: ParsedSig[] } {
  const malformed = (why: string): Error => noteError(NOTE_MALFORMED, `malformed note: ${why}`);
  let note: string;
  if (typeof input === 'string') {
    if (LONE_SURROGATE.test(input)) throw malformed('not valid Unicode (a lone surrogate)');
    note = input;
  } else {
    try {
      note = utf8.decode(input);
    } catch {
      throw malformed('not valid UTF-8');
    }
  }
  if (hasControl(note, true)) throw malformed('it contains a control character other than newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block.length === 0) throw malformed('no signature lines');
  if (!block.endsWith('\n')) throw malformed('the last signature line does not end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw malformed(`more than ${MAX_NOTE_SIGNATURES} signatures`);
  const sigs = lines.map((line, k): ParsedSig => {
    if (!line.startsWith(SIG_PREFIX)) throw malformed(`signature line ${k + 1} does not start with an em dash and a space`);
    const [name, b64] = chop(line.slice(SIG_PREFIX.length), ' ');
    if (!isValidName(name)) throw malformed(`signature line ${k + 1} has an invalid key name`);
    const raw = decodeBase64(b64);
    if (raw === undefined || raw.length < 5) throw malformed(`signature line ${k + 1} (${name}) is not base64 of a key ID and a signature`);
    return { line, name, keyHash: raw.readUInt32BE(0), sig: raw.subarray(4) };
  });
  return { text, sigs };
}

/** The verifier list keyed by name+hash; two different keys under one name+hash are refused. */
function verifierMap(verifiers: readonly (string | NoteVerifier)[]): Map<string, NoteVerifier> {
  const map = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const ver = typeof v === 'string' ? parseVerifierKey(v) : v;
    const id = `${ver.name}+${hex8(ver.keyHash)}`;
    const prev = map.get(id);
    if (prev && !prev.publicKey.equals(ver.publicKey)) {
      throw noteError(NOTE_KEY_INVALID, `ambiguous verifier keys: two different keys are named ${id}`);
    }
    map.set(id, ver);
  }
  return map;
}

/**
 * Parses a note and checks every signature from a known key (name and key ID both match). Unknown
 * signatures are listed with known: false and otherwise ignored. Does not decide whether the note
 * is trustworthy: see verifyNote. Throws RAMPART_NOTE_MALFORMED for input that breaks the format
 * and RAMPART_NOTE_KEY_INVALID for a bad verifier key.
 *
 * @example
 * const { text, sigs } = openNote(note, [verifierKey]);
 * sigs.filter((s) => s.verified).map((s) => s.name);
 */
export function openNote(note: string | Uint8Array, verifiers: readonly (string | NoteVerifier)[]): OpenedNote {
  const parsed = parseNote(note);
  const known = verifierMap(verifiers);
  const msg = Buffer.from(parsed.text, 'utf8');
  const seen = new Set<string>();
  const sigs: NoteSignature[] = [];
  for (const s of parsed.sigs) {
    if (seen.has(s.line)) continue; // an identical repeated line says nothing new
    seen.add(s.line);
    const v = known.get(`${s.name}+${hex8(s.keyHash)}`);
    // The spec: a signature from a known key MUST be verified (every one, not only the first).
    const verified = v !== undefined && s.sig.length === 64 && verify(null, msg, v.key, s.sig);
    sigs.push({ name: s.name, keyHash: s.keyHash, known: v !== undefined, verified });
  }
  return { text: parsed.text, sigs };
}

/**
 * The strict decision on an opened note (signed-note §Signatures): a failed signature from a known
 * key rejects the whole note (RAMPART_NOTE_BAD_SIGNATURE), and so does the absence of any verified
 * signature from a known key (RAMPART_NOTE_UNVERIFIED). Returns the names of the known keys that
 * signed.
 *
 * @example
 * const signedBy = requireVerified(openNote(note, keys));
 */
export function requireVerified(opened: OpenedNote): string[] {
  const bad = opened.sigs.find((s) => s.known && !s.verified);
  if (bad) throw noteError(NOTE_BAD_SIGNATURE, `the signature of known key ${bad.name}+${hex8(bad.keyHash)} does not verify: the note was altered or forged`);
  const names = [...new Set(opened.sigs.filter((s) => s.verified).map((s) => s.name))];
  if (names.length === 0) {
    const by = opened.sigs.map((s) => `${s.name}+${hex8(s.keyHash)}`).join(', ');
    throw noteError(NOTE_UNVERIFIED, `the note is signed by no known key (signatures from: ${by})`);
  }
  return names;
}

/**
 * Opens a note and returns its text only if a known key signed it and no known key's signature
 * fails. Throws RAMPART_NOTE_MALFORMED, RAMPART_NOTE_UNVERIFIED or RAMPART_NOTE_BAD_SIGNATURE.
 *
 * @example
 * const text = verifyNote(note, ['PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW']);
 */
export function verifyNote(note: string | Uint8Array, verifiers: readonly (string | NoteVerifier)[]): string {
  const opened = openNote(note, verifiers);
  requireVerified(opened);
  return opened.text;
}
