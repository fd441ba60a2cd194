/**
 * The running gateway's view of the signing keyset: a Keyset that follows the file, so that
 * `rampart identity rotate` (another process) takes effect without a restart. The file's change
 * time is checked every `pollMs`; a file that fails to load keeps the previous keys in use and
 * reports the error (a half-written file never replaces good keys: rotation renames atomically).
 */
import { stat } from 'node:fs/promises';
import { loadKeyset, loadOrCreateKeyset, type Keyset, type SigningKey } from './keyset.js';

export interface KeysetHolder extends Keyset {
  /** Reloads now if the file changed (tests; the poll does the same). */
  refresh(): Promise<void>;
  close(): void;
}

export async function holdKeyset(file: string, o: { pollMs?: number; onError?: (err: unknown) => void } = {}): Promise<KeysetHolder> {
  let current = await loadOrCreateKeyset(file);
  let stamp = await stampOf(file);
  let refreshing: Promise<void> | undefined;

  async function reload(): Promise<void> {
    const s = await stampOf(file);
    if (s === stamp) return;
    current = await loadKeyset(file);
    stamp = s;
  }

  function refresh(): Promise<void> {
    refreshing ??= reload().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  const timer = setInterval(() => {
    refresh().catch((err: unknown) => o.onError?.(err));
  }, o.pollMs ?? 5000);
  timer.unref();

  return {
    file,
    active: (): SigningKey => current.active(),
    all: () => current.all(),
    jwks: (now?: number) => current.jwks(now),
    refresh,
    close: () => clearInterval(timer),
  };
}

async function stampOf(file: string): Promise<string> {
  const s = await stat(file);
  return `${s.mtimeMs}:${s.ctimeMs}:${s.size}:${s.ino}`;
}
