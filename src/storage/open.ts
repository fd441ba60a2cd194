/**
 * The one place that knows the concrete storage backends (DESIGN.md: the composition root knows
 * implementations; everything else sees the interfaces in ./types.ts).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { StorageConfig } from '../config/types.js';
import { openPostgresStorage } from './postgres/store.js';
import { openSqliteStorage } from './sqlite/store.js';
import type { Storage } from './types.js';

export interface OpenOptions {
  /**
   * Open for reading only: nothing is created or migrated and every write is refused (by the
   * driver, and for PostgreSQL by the server too). The audit CLI opens storage this way, so it
   * works with read-only access and can never append to the ledger.
   */
  readOnly?: boolean;
}

/**
 * Opens the configured storage, creating the SQLite folder or the PostgreSQL schema and running
 * migrations as needed. The caller closes it.
 *
 * @example
 * const storage = await openStorage({ driver: 'sqlite', sqlite: { path: './data/rampart.db' } });
 * try { ... } finally { await storage.close(); }
 */
export async function openStorage(cfg: StorageConfig, opts: OpenOptions = {}): Promise<Storage> {
  const readOnly = opts.readOnly ?? false;
  switch (cfg.driver) {
    case 'sqlite': {
      const path = resolve(cfg.sqlite.path);
      if (!readOnly) await mkdir(dirname(path), { recursive: true });
      return openSqliteStorage(path, { readOnly });
    }
    case 'postgres':
      return openPostgresStorage({
        url: cfg.postgres.url,
        schema: cfg.postgres.schema,
        poolSize: cfg.postgres.poolSize,
        readOnly,
        // A read-only open (the audit CLI) never does retention work.
        ...(cfg.postgres.retentionUrl !== undefined && !readOnly ? { retentionUrl: cfg.postgres.retentionUrl } : {}),
      });
    default:
      throw new TypeError(`storage: unknown driver '${(cfg as { driver?: unknown }).driver as string}'`);
  }
}
