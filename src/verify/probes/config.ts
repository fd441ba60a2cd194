/**
 * Configuration drift: the hash of the configuration that runs (returned, behind the admin
 * plane's authentication, by POST /admin/api/verify/runs) equals the hash of the repository's
 * rampart.yaml and OpenAPI documents (src/config/hash.ts, paths relative to the file's folder).
 * Each ledger record names the configuration hash that decided it (R17a4-3 (4), AU-3), so the
 * records mean what the repository says only when the two agree (DESIGN.md: drift is shown).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { configHash } from '../../config/hash.js';
import type { RampartConfig } from '../../config/types.js';
import { result, type ControlResult } from '../types.js';

export const CONFIG_CONTROL = { id: 'config.hash-matches', family: 'config', title: 'The live configuration hash equals the repository\'s', requirements: ['R17a4-3', 'AU-3'] } as const;

export async function repositoryHash(config: RampartConfig, file: string): Promise<string> {
  const docs = await Promise.all(config.apis.map((a) => readFile(a.openapi)));
  return configHash(config, docs, { baseDir: dirname(resolve(file)) });
}

export async function configHashProbe(i: { live?: string; config?: { config: RampartConfig; file: string } }): Promise<ControlResult> {
  if (!i.config) return result(CONFIG_CONTROL, 'skipped', 'no repository configuration: give --config rampart.yaml');
  if (i.live === undefined) return result(CONFIG_CONTROL, 'skipped', 'the live hash is read through the admin plane: give --admin');
  let repo: string;
  try {
    repo = await repositoryHash(i.config.config, i.config.file);
  } catch (err) {
    return result(CONFIG_CONTROL, 'error', `the repository's hash cannot be computed: ${(err as Error).message}`, { file: i.config.file });
  }
  const evidence = { repository: repo, live: i.live, file: i.config.file };
  if (repo === i.live) return result(CONFIG_CONTROL, 'pass', `${repo}`, evidence);
  return result(CONFIG_CONTROL, 'fail', `live ${i.live} differs from the repository's ${repo} (rampart plan shows the drift)`, evidence);
}
