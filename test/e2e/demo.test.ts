/**
 * `rampart demo` end to end, as a person would run it: start the real CLI, read what it prints,
 * paste its curl lines into a shell (real curl, real TLS against the development certificate),
 * check each status, run the printed audit verification, then stop it with SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticator } from 'otplib';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';

const BIN = fileURLToPath(new URL('../../../bin/rampart', import.meta.url));

test('the demo starts in one command and its printed curl lines show allow, tokens, 401, 403 (scope and object), 400, 404, an upstream that refuses bypass, an admin login with TOTP, and a verified audit trail', { timeout: 120_000 }, async () => {
  const tmp = tempDir('rampart-demo-');
  const child = spawn(process.execPath, [BIN, 'demo', '--port', '0', '--admin-port', '0', '--dir', 'demo-state'], { cwd: tmp.path, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Press Ctrl-C to stop.')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`demo exited early with ${code}: ${err}`)));
    });
    const keys = [...out.matchAll(/^\s+(ALICE|BOB|OPERATOR|EXPIRED)=((?:rmpk_|eyJ)\S+)/gm)].map((m) => `${m[1]}=${m[2]}`);
    assert.equal(keys.length, 4, out);
    const adminPassword = /^\s+ADMIN_PASSWORD=('[^']+')/m.exec(out)?.[1];
    assert.ok(adminPassword, out);
    keys.push(`ADMIN_PASSWORD=${adminPassword}`);
    // What a person reads off the authenticator app after scanning the printed QR code.
    const secret = /otpauth:\/\/totp\/\S*[?&]secret=([A-Z2-7]+)/.exec(out)?.[1];
    assert.ok(secret, out);
    keys.push(`CODE=${authenticator.generate(secret)}`);
    const curls = out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('curl '));
    assert.ok(curls.length >= 11, out);
    const statuses = curls.map((line) => {
      const script = `${keys.join('\n')}\n${line} -o /dev/null -w '%{http_code}'`;
      return Number(execFileSync('bash', ['-c', script], { cwd: tmp.path, encoding: 'utf8' }).trim());
    });
    assert.deepEqual(statuses, [200, 200, 401, 401, 403, 403, 400, 404, 400, 401, 200]);
    const verifyLine = out.split('\n').map((l) => l.trim()).find((l) => l.startsWith('npx rampart audit verify'))!;
    const args = verifyLine.replace(/^npx rampart /, '').split(/\s+/);
    const verify = execFileSync(process.execPath, [BIN, ...args], { cwd: tmp.path, encoding: 'utf8' });
    assert.match(verify, /intact|ok/i);
  } finally {
    const code = child.exitCode !== null ? child.exitCode : await new Promise<number | null>((r) => {
      child.once('exit', r);
      child.kill('SIGTERM');
    });
    tmp.remove();
    assert.equal(code, 0, `demo exits cleanly on SIGTERM: ${err}`);
  }
});
