/**
 * `ledger.stream`: where committed records are streamed off the box (AU-9(2), R17a4-9;
 * src/ledger/stream.ts). Kept in a file of its own so the loader and the schema take it in one
 * step each:
 *
 * - schema/rampart.schema.json: `ledger.properties.stream` = STREAM_SCHEMA below;
 * - src/config/types.ts: `LedgerConfig.stream: StreamTargetConfig[]`;
 * - src/config/load.ts: RawConfig `ledger.stream?: unknown[]`, and in ledgerOf
 *   `stream: streamTargetsOf(l.stream, path)`.
 *
 * @example
 * ledger:
 *   stream:
 *     - file: /mnt/siem/rampart-records.jsonl          # chained part only, JSON lines
 *     - storage: { driver: postgres, postgres: { url: "${REPLICA_URL}" } }   # a full replica
 */
import type { StorageConfig } from './types.js';

export type StreamTargetConfig = { file: string } | { storage: StorageConfig };

const SQLITE = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: { path: { type: 'string', minLength: 1, description: 'Database file of the replica (on another volume or machine).' } },
} as const;

const POSTGRES = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', pattern: '^postgres(ql)?://', errorMessage: 'must be a postgres:// or postgresql:// URL' },
    schema: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$', default: 'rampart' },
    poolSize: { type: 'integer', minimum: 1, maximum: 1000, default: 4 },
  },
} as const;

/** The JSON Schema of `ledger.stream` (draft 2020-12, as the rest of schema/rampart.schema.json). */
export const STREAM_SCHEMA = {
  type: 'array',
  description:
    'Where committed records are streamed as they are written (AU-9(2): records also on a physically different system; R17a4-9). ' +
    '`file`: JSON lines of the chained part (seq, ts, canonical, leafHash, chainHash), never private parts. ' +
    '`storage`: a second Rampart store that receives every record with its sealed parts, bodies and index entries, and the data keys (wrapped), signing keys and checkpoints: a full replica that verifies on its own. ' +
    'A target that fails is retried with backoff and raises an alert; one that falls behind catches up from the primary store. Default: none.',
  items: {
    oneOf: [
      {
        type: 'object',
        additionalProperties: false,
        required: ['file'],
        properties: { file: { type: 'string', minLength: 1, description: 'Append-only JSON-lines file, ideally on another volume; each batch appended and fsynced.' } },
      },
      {
        type: 'object',
        additionalProperties: false,
        required: ['storage'],
        properties: {
          storage: {
            type: 'object',
            additionalProperties: false,
            required: ['driver'],
            properties: { driver: { enum: ['sqlite', 'postgres'] }, sqlite: SQLITE, postgres: POSTGRES },
            oneOf: [
              { properties: { driver: { const: 'sqlite' } }, required: ['sqlite'], not: { required: ['postgres'] } },
              { properties: { driver: { const: 'postgres' } }, required: ['postgres'], not: { required: ['sqlite'] } },
            ],
            errorMessage: '`driver: sqlite` needs a `sqlite` section with `path`, `driver: postgres` a `postgres` section with `url` (and not the other)',
          },
        },
      },
    ],
  },
  default: [],
} as const;

type RawTarget = { file?: string; storage?: { driver?: string; sqlite?: { path?: string }; postgres?: { url?: string; schema?: string; poolSize?: number } } };

/**
 * The typed targets of a `ledger.stream` list that passed STREAM_SCHEMA; `path` resolves a file
 * name against the configuration file's folder (as the loader does for every path).
 */
export function streamTargetsOf(raw: unknown, path: (p: string) => string): StreamTargetConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new TypeError('ledger.stream must be a list');
  return (raw as RawTarget[]).map((t, i): StreamTargetConfig => {
    if (typeof t?.file === 'string') return { file: path(t.file) };
    const s = t?.storage;
    if (s?.driver === 'sqlite' && typeof s.sqlite?.path === 'string') return { storage: { driver: 'sqlite', sqlite: { path: path(s.sqlite.path) } } };
    if (s?.driver === 'postgres' && typeof s.postgres?.url === 'string') {
      return { storage: { driver: 'postgres', postgres: { url: s.postgres.url, schema: s.postgres.schema ?? 'rampart', poolSize: s.postgres.poolSize ?? 4 } } };
    }
    throw new TypeError(`ledger.stream[${i}] is neither { file } nor { storage: { driver, sqlite | postgres } }`);
  });
}
