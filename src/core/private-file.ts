/**
 * Owner-only files that hold secrets (the key-hash secret, Rampart's signing keys, an operator's
 * admin token): written to a private temporary file beside the target (0600 whatever the umask,
 * fsynced), then put in place atomically, with the folder entry made durable. One place, so the
 * care these files need (no half-written file ever visible, no window with wider permissions) is
 * taken the same way everywhere.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from './errors.js';

/** A ConfigError naming the file, with the underlying error as its cause (for ENOENT checks). */
export function fileError(file: string, message: string, cause: unknown): ConfigError {
  const e = new ConfigError([{ file, message }]);
  e.cause = cause;
  return e;
}

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code ?? 'error';

/** A finished, fsynced, owner-only temporary file beside `file`; `what` names it in errors. */
async function writePrivateTemp(file: string, body: string, what: string): Promise<string> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600).catch((err: unknown) => {
    throw fileError(file, `cannot write the ${what} (${codeOf(err)})`, err);
  });
  try {
    await fh.chmod(0o600); // exactly 0600 whatever the umask
    await fh.writeFile(body, 'utf8');
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw fileError(file, `cannot write the ${what} (${codeOf(err)})`, err);
  }
  await fh.close();
  return tmp;
}

/**
 * Creates `file` with `body` unless it exists: false when another writer got there first (its
 * file is kept). link() fails when the name exists, so racing processes end up with one file and
 * nobody sees a half-written one.
 */
export async function createPrivateFileOnce(file: string, body: string, what: string): Promise<boolean> {
  const tmp = await writePrivateTemp(file, body, what);
  try {
    await link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fileError(file, `cannot create the ${what} (${codeOf(err)})`, err);
  } finally {
    await unlink(tmp).catch(() => {});
  }
  await syncDir(dirname(file));
  return true;
}

/** Replaces `file` with `body` atomically (rename over it). */
export async function replacePrivateFile(file: string, body: string, what: string): Promise<void> {
  const tmp = await writePrivateTemp(file, body, what);
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw fileError(file, `cannot replace the ${what} (${codeOf(err)})`, err);
  }
  await syncDir(dirname(file));
}

/** Makes a new directory entry durable too (best effort: not every platform allows it). */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  if (!fh) return;
  await fh.sync().catch(() => {});
  await fh.close();
}
