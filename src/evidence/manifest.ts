/**
 * The evidence package's index and integrity root (R17a4-8: "together with the information
 * needed to locate the record"; AU-9(3): cryptographic integrity protection).
 *
 * manifest.json lists every file of the package with its SHA-256 and size, plus the export's
 * metadata (scope, who, when), in canonical JSON (RFC 8785 style: sorted keys, no whitespace;
 * files sorted by name), so the same export always gives the same bytes. What gets signed is not
 * the manifest itself but a short text naming its digest:
 *
 *     rampart-evidence/1
 *     sha256 <hex of SHA-256(manifest.json bytes)>
 *
 * The integrator wraps that body in a C2SP signed note (Ed25519, the key that signs checkpoints)
 * stored beside the manifest, so an examiner needs only the public key: check the note, then the
 * manifest's digest, then each file against the manifest. This module takes and returns strings
 * and knows nothing of keys.
 */
import { hash } from 'node:crypto';
import { canonicalize } from '../ledger/canonical.js';
import { EvidenceError, checkEntryName, quoteName } from './tar.js';

/** The package format named in the manifest and the signed body. */
export const EVIDENCE_FORMAT = 'rampart-evidence/1';
/** The manifest's name in the package. */
export const MANIFEST_NAME = 'manifest.json';
/** The signed note's name in the package (not listed in the manifest: it covers it). */
export const SIGNATURE_NAME = 'manifest.sig';

/** One file of the package as the manifest lists it. */
export interface ManifestFile {
  /** The archive entry name (checked by checkEntryName). */
  name: string;
  /** SHA-256 of the contents, 64 lowercase hex digits. */
  sha256: string;
  /** Size of the contents in bytes. */
  bytes: number;
}

/** A parsed manifest: the format, the caller's metadata as exported, and the file list. */
export interface Manifest {
  format: typeof EVIDENCE_FORMAT;
  meta: Record<string, unknown>;
  files: ManifestFile[];
}

export type ManifestProblemKind = 'missing' | 'extra' | 'digest-mismatch' | 'size-mismatch';

export interface ManifestProblem {
  file: string;
  problem: ManifestProblemKind;
  /** One sentence for the examiner, with the expected and actual values. */
  detail: string;
}

export interface ManifestCheck {
  ok: boolean;
  /** Sorted by file name; empty when ok. */
  problems: ManifestProblem[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const RESERVED = new Set(['format', 'files']);

const sha256Hex = (data: string | Buffer): string => hash('sha256', data, 'hex');

/**
 * The manifest as canonical JSON: `meta`'s members, `format: 'rampart-evidence/1'` and `files`
 * sorted by name. `meta` must be plain JSON data and may not use the keys `format` or `files`.
 * Throws TypeError on malformed input and RAMPART_EVIDENCE_BAD_NAME on an unsafe file name.
 *
 * @example
 * buildManifest({ exportedBy: 'alice' }, [{ name: 'records.csv', sha256: 'ab'.repeat(32), bytes: 10 }]);
 * // '{"exportedBy":"alice","files":[{"bytes":10,"name":"records.csv","sha256":"abab…"}],"format":"rampart-evidence/1"}'
 */
export function buildManifest(meta: Record<string, unknown>, files: readonly ManifestFile[]): string {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new TypeError('buildManifest: meta must be a plain object');
  for (const k of Object.keys(meta)) {
    if (RESERVED.has(k)) throw new TypeError(`buildManifest: meta may not set '${k}'; the manifest owns it`);
  }
  const seen = new Set<string>();
  const list: ManifestFile[] = files.map((f) => {
    checkEntryName(f.name);
    if (f.name === MANIFEST_NAME || f.name === SIGNATURE_NAME) throw new TypeError(`buildManifest: ${f.name} cannot list itself or its signature`);
    if (seen.has(f.name)) throw new TypeError(`buildManifest: ${quoteName(f.name)} is listed twice`);
    seen.add(f.name);
    if (typeof f.sha256 !== 'string' || !HEX64.test(f.sha256)) throw new TypeError(`buildManifest: sha256 of ${quoteName(f.name)} must be 64 lowercase hex digits`);
    if (!Number.isSafeInteger(f.bytes) || f.bytes < 0) throw new TypeError(`buildManifest: bytes of ${quoteName(f.name)} must be a non-negative integer`);
    return { name: f.name, sha256: f.sha256, bytes: f.bytes };
  });
  // UTF-16 code-unit order, the same order canonical JSON uses for keys.
  list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return canonicalize({ ...meta, format: EVIDENCE_FORMAT, files: list });
}

/**
 * The text to sign: the format line and the SHA-256 of the manifest's exact bytes. Pass the
 * bytes read from a package as a Buffer, so nothing is re-encoded before hashing.
 *
 * @example
 * manifestNoteBody('{"files":[],"format":"rampart-evidence/1"}');
 * // 'rampart-evidence/1\nsha256 3f…\n'
 */
export function manifestNoteBody(manifestJson: string | Buffer): string {
  return `${EVIDENCE_FORMAT}\nsha256 ${sha256Hex(manifestJson)}\n`;
}

const NOTE_BODY = /^rampart-evidence\/1\nsha256 ([0-9a-f]{64})\n$/;

/**
 * Checks a verified signed-note body against the manifest's bytes: throws
 * RAMPART_EVIDENCE_BAD_MANIFEST if the body is not in the expected form or names another digest.
 *
 * @example
 * const body = verifyNote(noteText, keys);          // from src/ledger/signed-note.ts
 * checkManifestNoteBody(body, files.get(MANIFEST_NAME)!);
 */
export function checkManifestNoteBody(body: string, manifestJson: string | Buffer): void {
  const m = NOTE_BODY.exec(body);
  if (!m) throw new EvidenceError('RAMPART_EVIDENCE_BAD_MANIFEST', `the signed note's body is not a ${EVIDENCE_FORMAT} manifest digest`, { entry: SIGNATURE_NAME });
  const actual = sha256Hex(manifestJson);
  if (m[1] !== actual) {
    throw new EvidenceError('RAMPART_EVIDENCE_BAD_MANIFEST', `the signed note covers a manifest with sha256 ${m[1]!}, but ${MANIFEST_NAME} hashes to ${actual}`, { entry: MANIFEST_NAME });
  }
}

/**
 * Parses and validates a manifest: UTF-8, JSON, canonical form (so duplicate keys, reordering or
 * reformatting are refused), the format, and every file entry. Throws
 * RAMPART_EVIDENCE_BAD_MANIFEST naming what is wrong.
 *
 * @example
 * const { meta, files } = parseManifest(files.get('manifest.json')!);
 */
export function parseManifest(manifestJson: string | Buffer): Manifest {
  const bad = (why: string, cause?: unknown): never => {
    throw new EvidenceError('RAMPART_EVIDENCE_BAD_MANIFEST', `${MANIFEST_NAME}: ${why}`, cause === undefined ? { entry: MANIFEST_NAME } : { entry: MANIFEST_NAME, cause });
  };
  let text: string;
  if (typeof manifestJson === 'string') text = manifestJson;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(manifestJson);
    } catch (err) {
      return bad('is not valid UTF-8', err);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return bad(`is not valid JSON (${(err as Error).message})`, err);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return bad('is not a JSON object');
  let canonical: string;
  try {
    canonical = canonicalize(parsed);
  } catch (err) {
    return bad(`cannot be put in canonical form (${(err as Error).message})`, err);
  }
  if (canonical !== text) return bad('is not in canonical form (sorted keys, no whitespace, no repeated keys)');
  const { format, files, ...meta } = parsed as Record<string, unknown>;
  if (format !== EVIDENCE_FORMAT) return bad(`format is ${JSON.stringify(format)}, expected ${JSON.stringify(EVIDENCE_FORMAT)}`);
  if (!Array.isArray(files)) return bad('has no files list');
  const list: ManifestFile[] = [];
  let prev: string | undefined;
  files.forEach((f: unknown, i) => {
    const where = `files[${i}]`;
    if (f === null || typeof f !== 'object' || Array.isArray(f)) return bad(`${where} is not an object`);
    const keys = Object.keys(f).sort().join(',');
    if (keys !== 'bytes,name,sha256') return bad(`${where} must have exactly bytes, name and sha256 (has ${keys || 'nothing'})`);
    const { name, sha256, bytes } = f as Record<string, unknown>;
    if (typeof name !== 'string') return bad(`${where}.name is not a string`);
    try {
      checkEntryName(name);
    } catch (err) {
      return bad(`${where}.name: ${(err as Error).message}`, err);
    }
    if (name === MANIFEST_NAME || name === SIGNATURE_NAME) return bad(`${where} lists ${name} itself`);
    if (prev !== undefined && !(prev < name)) return bad(`${where}: files are not sorted by name, or ${quoteName(name)} is listed twice`);
    prev = name;
    if (typeof sha256 !== 'string' || !HEX64.test(sha256)) return bad(`${where}.sha256 is not 64 lowercase hex digits`);
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) return bad(`${where}.bytes is not a non-negative integer`);
    list.push({ name, sha256, bytes });
  });
  return { format: EVIDENCE_FORMAT, meta, files: list };
}

export interface CheckManifestOptions {
  /** Package files that are legitimately not listed (default: the manifest and its signature). */
  unlisted?: readonly string[];
}

/**
 * Compares a package's files with its manifest, file by file: every listed file must be present
 * with the listed size and SHA-256, and nothing else may be present. Throws
 * RAMPART_EVIDENCE_BAD_MANIFEST if the manifest itself is malformed (see parseManifest).
 *
 * @example
 * const files = await readTarGzAll('evidence.tar.gz', limits);
 * const { ok, problems } = checkManifest(files.get(MANIFEST_NAME)!, files);
 * for (const p of problems) console.log(`${p.file}: ${p.problem}: ${p.detail}`);
 */
export function checkManifest(manifestJson: string | Buffer, files: ReadonlyMap<string, Buffer>, options: CheckManifestOptions = {}): ManifestCheck {
  const manifest = parseManifest(manifestJson);
  const unlisted = new Set(options.unlisted ?? [MANIFEST_NAME, SIGNATURE_NAME]);
  const problems: ManifestProblem[] = [];
  const listed = new Set<string>();
  for (const f of manifest.files) {
    listed.add(f.name);
    const data = files.get(f.name);
    if (data === undefined) {
      problems.push({ file: f.name, problem: 'missing', detail: `listed in the manifest (${f.bytes} bytes, sha256 ${f.sha256}) but not in the package` });
      continue;
    }
    if (data.length !== f.bytes) {
      // A different size implies a different digest; the size is the clearer finding.
      problems.push({ file: f.name, problem: 'size-mismatch', detail: `the manifest says ${f.bytes} bytes, the package holds ${data.length} bytes` });
      continue;
    }
    const actual = sha256Hex(data);
    if (actual !== f.sha256) {
      problems.push({ file: f.name, problem: 'digest-mismatch', detail: `the manifest says sha256 ${f.sha256}, the contents hash to ${actual}` });
    }
  }
  for (const [name, data] of files) {
    if (!listed.has(name) && !unlisted.has(name)) {
      problems.push({ file: name, problem: 'extra', detail: `in the package (${data.length} bytes) but not listed in the manifest` });
    }
  }
  problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { ok: problems.length === 0, problems };
}
