/**
 * C2SP signed notes (src/ledger/signed-note.ts) and Rampart's checkpoint notes
 * (src/ledger/checkpoint-note.ts): AU-9(3), R17a4-6.
 *
 * Known answers come from golang.org/x/mod/sumdb/note (note_test.go): the PeterNeumann key pair,
 * its signature of the Peter Neumann quote, the EnochRoot co-signature, and the test's table of
 * malformed notes. Ed25519 is deterministic (RFC 8032), so signNote must reproduce Go's note byte
 * for byte; if it does, Go tooling and witnesses accept Rampart's checkpoints.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CHECKPOINT_KINDS, formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../../src/ledger/checkpoint-note.js';
import type { Checkpoint } from '../../src/ledger/checkpoint-note.js';
import { GENESIS_HASH } from '../../src/ledger/chain.js';
import { hashLeaf, TreeView, verifyConsistency, verifyInclusion } from '../../src/ledger/merkle.js';
import { generateNoteKey, noteKeyHash, openNote, parseSignerKey, parseVerifierKey, signNote, verifyNote } from '../../src/ledger/signed-note.js';
import type { NoteVerifier } from '../../src/ledger/signed-note.js';

const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG = '\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

const code = (c: string) => (err: any): boolean => err.code === c;

describe('signed-note keys', () => {
  it('parses the Go reference keys, and the signer derives the published verifier key', () => {
    const v = parseVerifierKey(PETER_VKEY);
    assert.equal(v.name, 'PeterNeumann');
    assert.equal(v.keyHash, 0xc74f20a3);
    assert.equal(v.verifierKey, PETER_VKEY);
    assert.equal(v.publicKey.length, 32);
    const s = parseSignerKey(PETER_SKEY);
    assert.equal(s.name, 'PeterNeumann');
    assert.equal(s.keyHash, 0xc74f20a3);
    assert.equal(s.verifierKey, PETER_VKEY);
    assert.equal(parseVerifierKey(ENOCH_VKEY).keyHash, 0xaf0cfe78);
  });

  it('computes the key ID as SHA-256(name || "\\n" || 0x01 || public key)[:4], by hand', () => {
    const pub = Buffer.from(PETER_VKEY.split('+')[2]!, 'base64').subarray(1);
    const digest = createHash('sha256').update('PeterNeumann').update('\n').update(Buffer.of(1)).update(pub).digest();
    assert.equal(digest.subarray(0, 4).toString('hex'), 'c74f20a3');
    assert.equal(noteKeyHash('PeterNeumann', pub), 0xc74f20a3);
  });

  it('refuses every truncation and every single-byte change of the verifier key (Go TestNewVerifier)', () => {
    const b = Buffer.from(PETER_VKEY);
    for (let i = 0; i <= b.length; i++) {
      for (let j = i + 1; j <= b.length; j++) {
        if (i === 0 && j === b.length) continue;
        assert.throws(() => parseVerifierKey(b.subarray(i, j).toString('latin1')), code('RAMPART_NOTE_KEY_INVALID'), `[${i}, ${j})`);
      }
    }
    for (let i = 0; i < b.length; i++) {
      const c = Buffer.from(b);
      c[i]!++;
      assert.throws(() => parseVerifierKey(c.toString('latin1')), code('RAMPART_NOTE_KEY_INVALID'), `byte ${i}`);
    }
    // Wrong key length and unknown algorithm, each with a key ID that matches. (Go's decoder takes
    // the non-canonical "BADKEY==" and then fails on the length; this one refuses the base64.)
    assert.throws(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='), code('RAMPART_NOTE_KEY_INVALID'));
    assert.throws(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEQ=='), /32 bytes/);
    assert.throws(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'), /unknown signature type/);
  });

  it('refuses every truncation and every single-byte change of the signer key (Go TestNewSigner), without echoing it', () => {
    const b = Buffer.from(PETER_SKEY);
    const secret = PETER_SKEY.split('+').slice(4).join('+');
    const refused = (k: string, what: string): void => {
      assert.throws(() => parseSignerKey(k), (err: any) => err.code === 'RAMPART_NOTE_KEY_INVALID' && !String(err.message).includes(secret.slice(0, 12)), what);
    };
    for (let i = 0; i <= b.length; i++) {
      for (let j = i + 1; j <= b.length; j++) if (i !== 0 || j !== b.length) refused(b.subarray(i, j).toString('latin1'), `[${i}, ${j})`);
    }
    for (let i = 0; i < b.length; i++) {
      const c = Buffer.from(b);
      c[i]!++;
      refused(c.toString('latin1'), `byte ${i}`);
    }
  });

  it('generates key pairs in the note formats that sign and verify', () => {
    const { signerKey, verifierKey } = generateNoteKey('rampart.example.com/ledger');
    assert.match(verifierKey, /^rampart\.example\.com\/ledger\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
    assert.match(signerKey, /^PRIVATE\+KEY\+rampart\.example\.com\/ledger\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
    assert.equal(signerKey.split('+')[3], verifierKey.split('+')[1]);
    assert.equal(parseSignerKey(signerKey).verifierKey, verifierKey);
    const v = parseVerifierKey(verifierKey);
    assert.equal(Buffer.from(verifierKey.split('+')[2]!, 'base64')[0], 0x01);
    assert.equal(v.keyHash, noteKeyHash(v.name, v.publicKey));
    assert.equal(verifyNote(signNote('hello\n', [signerKey]), [verifierKey]), 'hello\n');
    assert.notEqual(generateNoteKey('rampart.example.com/ledger').verifierKey, verifierKey);
  });

  it('refuses key names that are empty or hold spaces, plus signs or control characters', () => {
    for (const name of ['', 'a b', 'a+b', 'tab\there', 'nbsp\u00a0x', 'ideo\u3000x', 'ctl\u0001x', 'nl\nx']) {
      assert.throws(() => generateNoteKey(name), code('RAMPART_NOTE_KEY_INVALID'), JSON.stringify(name));
    }
    assert.doesNotThrow(() => generateNoteKey('ünïcødé.example/✓'));
  });
});

describe('signing and opening notes', () => {
  it('signs the Peter Neumann quote exactly as Go does (known answer)', () => {
    assert.equal(signNote(TEXT, [PETER_SKEY]), `${TEXT}\n${PETER_SIG}`);
    assert.equal(signNote(TEXT, [parseSignerKey(PETER_SKEY)]), `${TEXT}\n${PETER_SIG}`);
  });

  it('verifies Go\'s notes: one known key of two, both known, none known', () => {
    const note = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    const peter = { name: 'PeterNeumann', keyHash: 0xc74f20a3 };
    const enoch = { name: 'EnochRoot', keyHash: 0xaf0cfe78 };

    assert.deepEqual(openNote(note, [PETER_VKEY]), { text: TEXT, sigs: [{ ...peter, known: true, verified: true }, { ...enoch, known: false, verified: false }] });
    assert.equal(verifyNote(note, [PETER_VKEY]), TEXT);

    assert.deepEqual(openNote(note, [PETER_VKEY, ENOCH_VKEY]).sigs, [{ ...peter, known: true, verified: true }, { ...enoch, known: true, verified: true }]);
    assert.equal(verifyNote(note, [ENOCH_VKEY]), TEXT);

    assert.deepEqual(openNote(note, []).sigs, [{ ...peter, known: false, verified: false }, { ...enoch, known: false, verified: false }]);
    assert.throws(() => verifyNote(note, []), code('RAMPART_NOTE_UNVERIFIED'));
  });

  it('accepts the same key twice in the verifier list, refuses two keys that share a name and ID', () => {
    assert.equal(verifyNote(`${TEXT}\n${ENOCH_SIG}`, [ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY]), TEXT);
    const real = parseVerifierKey(ENOCH_VKEY);
    const impostor: NoteVerifier = { ...parseVerifierKey(PETER_VKEY), name: real.name, keyHash: real.keyHash };
    assert.throws(() => openNote(`${TEXT}\n${ENOCH_SIG}`, [real, impostor]), /ambiguous/);
  });

  it('drops repeated identical lines, and reports unknown signatures without trusting them', () => {
    const enochABCD = `${ENOCH_SIG.slice(0, 60)}ABCD${ENOCH_SIG.slice(60)}`;
    const opened = openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}${enochABCD}`, [PETER_VKEY]);
    assert.deepEqual(
      opened.sigs.map((s) => [s.name, s.known, s.verified]),
      [['PeterNeumann', true, true], ['EnochRoot', false, false], ['EnochRoot', false, false]],
    );
  });

  it('rejects a note whose known-key signature is bad, even beside a good one', () => {
    const broken = `${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`;
    assert.throws(() => verifyNote(`${TEXT}\n${broken}`, [PETER_VKEY]), code('RAMPART_NOTE_BAD_SIGNATURE'));
    assert.equal(openNote(`${TEXT}\n${broken}`, [PETER_VKEY]).sigs[0]!.verified, false);
    // A signature from the right key over other bytes (same length, flipped bit).
    const raw = Buffer.from(PETER_SIG.slice(15, -1), 'base64');
    raw[10]! ^= 1;
    const flipped = `\u2014 PeterNeumann ${raw.toString('base64')}\n`;
    assert.throws(() => verifyNote(`${TEXT}\n${flipped}`, [PETER_VKEY]), code('RAMPART_NOTE_BAD_SIGNATURE'));
    // Known key signed twice, once badly: every known-key signature is checked (the spec's MUST).
    const other = parseSignerKey(PETER_SKEY);
    const both = `${TEXT}\n${PETER_SIG}${signNote('other text\n', [other]).split('\n\n')[1]}`;
    assert.throws(() => verifyNote(both, [PETER_VKEY]), code('RAMPART_NOTE_BAD_SIGNATURE'));
    assert.throws(() => verifyNote(`${TEXT}\n${ENOCH_SIG}${broken}`, [PETER_VKEY, ENOCH_VKEY]), code('RAMPART_NOTE_BAD_SIGNATURE'));
  });

  it('rejects tampered text and a key that merely shares the name', () => {
    const note = `${TEXT}\n${PETER_SIG}`;
    assert.throws(() => verifyNote(note.replace('cryptography', 'cryptographY'), [PETER_VKEY]), code('RAMPART_NOTE_BAD_SIGNATURE'));
    assert.throws(() => verifyNote(note.replace('problem,', 'problem;'), [PETER_VKEY]), code('RAMPART_NOTE_BAD_SIGNATURE'));
    const namesake = generateNoteKey('PeterNeumann');
    assert.throws(() => verifyNote(note, [namesake.verifierKey]), code('RAMPART_NOTE_UNVERIFIED'));
    // Verifier and note from different keys with the same name: unknown, not bad (the ID differs).
    assert.deepEqual(openNote(signNote(TEXT, [namesake.signerKey]), [PETER_VKEY]).sigs.map((s) => s.known), [false]);
  });

  it('ignores extra signatures from unknown keys', () => {
    const stranger = generateNoteKey('stranger.example/witness');
    const note = signNote(TEXT, [PETER_SKEY, stranger.signerKey]);
    assert.equal(note.split('\n\n')[1]!.split('\n')[0], PETER_SIG.slice(0, -1));
    assert.equal(verifyNote(note, [PETER_VKEY]), TEXT);
    assert.throws(() => verifyNote(note, []), /signed by no known key \(signatures from: PeterNeumann\+c74f20a3, stranger/);
  });

  it('refuses Go\'s malformed notes, too many signatures, and bad signature lines', () => {
    const bad: [string, string | Uint8Array][] = [
      ['no signatures', TEXT],
      ['blank line, no signatures', `${TEXT}\n`],
      ['last line unterminated', `${TEXT}\n${PETER_SIG.slice(0, -1)}`],
      ['control character', `\u0001${TEXT}\n${PETER_SIG}`],
      ['carriage return', `${TEXT.replace('\n', '\r\n')}\n${PETER_SIG}`],
      ['invalid UTF-8', Buffer.concat([Buffer.of(0xff), Buffer.from(`${TEXT}\n${PETER_SIG}`)])],
      ['lone surrogate', `\ud800${TEXT}\n${PETER_SIG}`],
      ['space in name', `${TEXT}\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`],
      ['line after signatures', `${TEXT}\n${PETER_SIG}Unexpected line.\n`],
      ['101 signatures', `${TEXT}\n${PETER_SIG.repeat(101)}`],
      ['hyphen, not em dash', `${TEXT}\n- PeterNeumann ${PETER_SIG.slice(15)}`],
      ['no base64', `${TEXT}\n\u2014 PeterNeumann\n`],
      ['base64 too short', `${TEXT}\n\u2014 PeterNeumann AAAA\n`],
      ['not base64', `${TEXT}\n\u2014 PeterNeumann !!!!${PETER_SIG.slice(19)}`],
      ['unpadded base64', `${TEXT}\n${PETER_SIG.slice(0, -2)}\n`],
      ['plus in name', `${TEXT}\n\u2014 Peter+Neumann ${PETER_SIG.slice(15)}`],
    ];
    for (const [what, note] of bad) {
      assert.throws(() => openNote(note, [PETER_VKEY]), code('RAMPART_NOTE_MALFORMED'), what);
      assert.throws(() => verifyNote(note, []), code('RAMPART_NOTE_MALFORMED'), what);
    }
    assert.equal(verifyNote(`${TEXT}\n${PETER_SIG.repeat(100)}`, [PETER_VKEY]), TEXT, '100 signatures are fine');
  });

  it('opens UTF-8 bytes exactly like the string', () => {
    const note = `${TEXT}\n${PETER_SIG}`;
    assert.equal(verifyNote(Buffer.from(note, 'utf8'), [PETER_VKEY]), TEXT);
    assert.equal(verifyNote(new Uint8Array(Buffer.from(note, 'utf8')), [PETER_VKEY]), TEXT);
  });

  it('round-trips texts with non-ASCII characters and blank lines (the last blank line separates)', () => {
    const k = generateNoteKey('rampart.example/x');
    for (const text of ['ünïcødé — ✓ 😀\n', 'a\n\nb\n', 'ends blank\n\n', '\n', 'a\n\n\n\nb\n']) {
      const note = signNote(text, [k.signerKey, PETER_SKEY]);
      assert.equal(verifyNote(note, [k.verifierKey]), text, JSON.stringify(text));
      assert.equal(verifyNote(note, [PETER_VKEY]), text, JSON.stringify(text));
    }
  });

  it('signs each distinct key once and refuses text it could not open again', () => {
    assert.equal(signNote(TEXT, [PETER_SKEY, PETER_SKEY]), `${TEXT}\n${PETER_SIG}`);
    for (const text of ['', 'no newline', 'tab\there\n', 'cr\r\n', 'bad \ud800\n']) {
      assert.throws(() => signNote(text, [PETER_SKEY]), code('RAMPART_NOTE_MALFORMED'), JSON.stringify(text));
    }
    assert.throws(() => signNote(TEXT, []), code('RAMPART_NOTE_KEY_INVALID'));
    assert.throws(() => signNote(TEXT, ['PRIVATE+KEY+x']), code('RAMPART_NOTE_KEY_INVALID'));
  });
});

describe('checkpoint notes', () => {
  const root = Buffer.from('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328', 'hex');
  const cp: Checkpoint = { origin: 'rampart.example.com/ledger', size: 8, rootHash: root, chainHash: 'ab'.repeat(32), ts: 1_700_000_000_123, kind: 'periodic' };
  const BODY = `rampart.example.com/ledger\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\nrampart-chain ${'ab'.repeat(32)}\nrampart-time 1700000000123\nrampart-kind periodic\n`;

  it('formats the C2SP body with the three Rampart extension lines, and parses it back', () => {
    assert.equal(formatCheckpoint(cp), BODY);
    assert.deepEqual(parseCheckpoint(BODY), cp);
    for (const kind of CHECKPOINT_KINDS) assert.deepEqual(parseCheckpoint(formatCheckpoint({ ...cp, kind })), { ...cp, kind });
    const empty: Checkpoint = { origin: 'o', size: 0, rootHash: Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'), chainHash: GENESIS_HASH, ts: 0, kind: 'manual' };
    assert.deepEqual(parseCheckpoint(formatCheckpoint(empty)), empty);
    const big = { ...cp, size: Number.MAX_SAFE_INTEGER, origin: 'ünïcødé origin with spaces' };
    assert.deepEqual(parseCheckpoint(formatCheckpoint(big)), big);
  });

  it('rejects malformed bodies', () => {
    const lines = BODY.slice(0, -1).split('\n');
    const withLine = (k: number, v: string): string => `${lines.map((l, i) => (i === k ? v : l)).join('\n')}\n`;
    const bad: [string, string][] = [
      ['no final newline', BODY.slice(0, -1)],
      ['CRLF', BODY.replace(/\n/g, '\r\n')],
      ['empty origin', withLine(0, '')],
      ['leading zero', withLine(1, '08')],
      ['negative size', withLine(1, '-8')],
      ['exponent', withLine(1, '8e0')],
      ['plus sign', withLine(1, '+8')],
      ['size beyond 2^53', withLine(1, '9007199254740993')],
      ['empty size', withLine(1, '')],
      ['root of 31 bytes', withLine(2, Buffer.alloc(31).toString('base64'))],
      ['root of 33 bytes', withLine(2, Buffer.alloc(33).toString('base64'))],
      ['root in hex', withLine(2, root.toString('hex'))],
      ['root base64url', withLine(2, Buffer.alloc(32, 0xfb).toString('base64url'))],
      ['root non-canonical base64', withLine(2, `${root.toString('base64').slice(0, 42)}h=`)],
      ['uppercase chain hash', withLine(3, `rampart-chain ${'AB'.repeat(32)}`)],
      ['short chain hash', withLine(3, `rampart-chain ${'ab'.repeat(31)}`)],
      ['missing chain line', withLine(3, `rampart-chainx ${'ab'.repeat(32)}`)],
      ['time with leading zero', withLine(4, 'rampart-time 01700000000123')],
      ['time not a number', withLine(4, 'rampart-time soon')],
      ['unknown kind', withLine(5, 'rampart-kind hourly')],
      ['extension lines swapped', `${[lines[0], lines[1], lines[2], lines[4], lines[3], lines[5]].join('\n')}\n`],
      ['extension lines missing', `${lines.slice(0, 3).join('\n')}\n`],
      ['extra line', `${BODY}another\n`],
      ['blank line', `${BODY}\n`],
    ];
    for (const [what, body] of bad) assert.throws(() => parseCheckpoint(body), code('RAMPART_CHECKPOINT_MALFORMED'), what);
  });

  it('refuses to format a checkpoint that would not parse back', () => {
    const bad: [string, Checkpoint][] = [
      ['origin with newline', { ...cp, origin: 'a\nb' }],
      ['empty origin', { ...cp, origin: '' }],
      ['fractional size', { ...cp, size: 1.5 }],
      ['negative size', { ...cp, size: -1 }],
      ['short root', { ...cp, rootHash: Buffer.alloc(31) }],
      ['chain hash not hex', { ...cp, chainHash: 'zz'.repeat(32) }],
      ['negative time', { ...cp, ts: -1 }],
      ['unknown kind', { ...cp, kind: 'hourly' as never }],
    ];
    for (const [what, c] of bad) assert.throws(() => formatCheckpoint(c), code('RAMPART_CHECKPOINT_MALFORMED'), what);
  });

  it('signs and opens checkpoints through signed-note, naming the keys that signed', () => {
    const k = generateNoteKey(cp.origin);
    const note = signCheckpoint(cp, k.signerKey);
    assert.ok(note.startsWith(`${BODY}\n\u2014 ${cp.origin} `));
    assert.deepEqual(openCheckpoint(note, [k.verifierKey]), { checkpoint: cp, signedBy: [cp.origin] });
    assert.deepEqual(openCheckpoint(note, [parseVerifierKey(k.verifierKey), PETER_VKEY]).signedBy, [cp.origin]);
    // A rotated key history: the old key still verifies what it signed.
    const next = generateNoteKey(cp.origin);
    assert.deepEqual(openCheckpoint(note, [next.verifierKey, k.verifierKey]).checkpoint, cp);

    assert.throws(() => openCheckpoint(note.replace('\n8\n', '\n9\n'), [k.verifierKey]), code('RAMPART_NOTE_BAD_SIGNATURE'));
    assert.throws(() => openCheckpoint(note.replace('rampart-kind periodic', 'rampart-kind shutdown'), [k.verifierKey]), code('RAMPART_NOTE_BAD_SIGNATURE'));
    assert.throws(() => openCheckpoint(note, [next.verifierKey]), code('RAMPART_NOTE_UNVERIFIED'));
    assert.throws(() => openCheckpoint(note.slice(0, -1), [k.verifierKey]), code('RAMPART_NOTE_MALFORMED'));
    // A validly signed note that is not a Rampart checkpoint.
    assert.throws(() => openCheckpoint(signNote('just text\n', [k.signerKey]), [k.verifierKey]), code('RAMPART_CHECKPOINT_MALFORMED'));
  });

  it('lets an examiner check a record against a checkpoint with the verifier key alone', () => {
    const leaves = Array.from({ length: 21 }, (_, i) => hashLeaf(Buffer.from(`{"seq":${i + 1}}`)));
    const view = new TreeView({ leaves });
    const k = generateNoteKey('rampart.example.com/node-1');
    const older = signCheckpoint({ ...cp, origin: 'rampart.example.com/node-1', size: 13, rootHash: view.root(13) }, k.signerKey);
    const latest = signCheckpoint({ ...cp, origin: 'rampart.example.com/node-1', size: 21, rootHash: view.root() }, k.signerKey);
    // Examiner side: the notes, the proofs and the verifier key; no store.
    const a = openCheckpoint(older, [k.verifierKey]).checkpoint;
    const b = openCheckpoint(latest, [k.verifierKey]).checkpoint;
    assert.ok(verifyInclusion(leaves[16]!, 16, b.size, view.inclusionProof(16), b.rootHash));
    assert.ok(verifyConsistency(a.size, b.size, a.rootHash, b.rootHash, view.consistencyProof(13)));
    assert.equal(verifyInclusion(hashLeaf(Buffer.from('{"seq":17,"edited":true}')), 16, b.size, view.inclusionProof(16), b.rootHash), false);
  });
});
