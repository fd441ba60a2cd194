/**
 * The configuration hash: the version id every ledger record carries (`configHash`), so that each
 * decision names the configuration that made it (R17a4-3 (4), AU-3; DESIGN.md "which
 * configuration version decided it").
 *
 * Definition (stable; anyone can recompute it offline from the repository):
 *
 *   sha256( "rampart-config-hash/1" 0x00
 *           || u64be(len(C)) || C
 *           || for each document D, in `apis` order: u64be(len(D)) || D )
 *
 * where C is the canonical JSON of the loaded configuration (src/ledger/canonical.ts, RFC 8785
 * style: keys sorted by UTF-16 code units, no whitespace, `undefined` members omitted) and D are the
 * raw bytes of each referenced OpenAPI document. Length prefixes keep part boundaries
 * unambiguous: moving bytes from one part to the next changes the hash.
 *
 * Some fields are normalised before hashing, because they are not part of what decides a
 * request and would otherwise make the "same" configuration hash differently:
 * - `node` is left out: every node of a cluster runs the same version (the record names its
 *   node separately); the default checkpoint origin `rampart/<node name>` is hashed as
 *   `rampart/<node>` for the same reason;
 * - the password of `storage.postgres.url` is replaced by `***`: a secret must never reach a
 *   ledger record, and a hash over otherwise-public text is a dictionary-attack oracle for it;
 * - with `baseDir` (the configuration file's folder), file paths under it are written relative
 *   to it with '/' separators, so that checkouts in different folders hash alike (needed to
 *   compare the repository with the live gateway).
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative, sep } from 'node:path';
import { canonicalize } from '../ledger/canonical.js';
import type { RampartConfig } from './types.js';

const DOMAIN = Buffer.from('rampart-config-hash/1\0', 'utf8');

export interface ConfigHashOptions {
  /** Folder of the configuration file; paths under it are hashed relative to it. */
  baseDir?: string;
}

/**
 * Returns `sha256:<hex>` over the configuration and the bytes of its OpenAPI documents.
 *
 * @example
 * const docs = await Promise.all(config.apis.map((a) => readFile(a.openapi)));
 * const hash = configHash(config, docs); // 'sha256:3f1c...'
 */
export function configHash(config: RampartConfig, extraFiles: readonly Buffer[], options: ConfigHashOptions = {}): string {
  const h = createHash('sha256');
  h.update(DOMAIN);
  const part = (bytes: Buffer) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(BigInt(bytes.length));
    h.update(len);
    h.update(bytes);
  };
  part(Buffer.from(canonicalize(hashView(config, options.baseDir)), 'utf8'));
  for (const doc of extraFiles) {
    if (!Buffer.isBuffer(doc)) throw new TypeError('configHash: extraFiles must be Buffers');
    part(doc);
  }
  return `sha256:${h.digest('hex')}`;
}

function hashView(config: RampartConfig, baseDir: string | undefined): unknown {
  const path = (p: string): string => {
    if (baseDir === undefined) return p;
    const rel = relative(baseDir, p);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return p;
    return rel.split(sep).join('/');
  };
  const { node: _node, ...rest } = config;
  const tls = config.listen.tls;
  return {
    ...rest,
    listen: {
      ...config.listen,
      tls: tls ? { ...tls, cert: path(tls.cert), key: path(tls.key), ca: tls.ca === undefined ? undefined : path(tls.ca) } : undefined,
    },
    secretsFile: path(config.secretsFile),
    ledger: ledgerView(config, path),
    identity: { ...config.identity, signingKeysFile: path(config.identity.signingKeysFile) },
    admin: config.admin ? { ...config.admin, tls: { cert: path(config.admin.tls.cert), key: path(config.admin.tls.key) } } : undefined,
    storage:
      config.storage.driver === 'sqlite'
        ? { driver: 'sqlite', sqlite: { path: path(config.storage.sqlite.path) } }
        : {
            driver: 'postgres',
            postgres: {
              ...config.storage.postgres,
              url: redactPassword(config.storage.postgres.url),
              ...(config.storage.postgres.retentionUrl !== undefined ? { retentionUrl: redactPassword(config.storage.postgres.retentionUrl) } : {}),
            },
          },
    apis: config.apis.map((a) => ({
      ...a,
      openapi: path(a.openapi),
      upstream: {
        ...a.upstream,
        ca: a.upstream.ca === undefined ? undefined : path(a.upstream.ca),
        clientCertificate: a.upstream.clientCertificate === undefined ? undefined : { cert: path(a.upstream.clientCertificate.cert), key: path(a.upstream.clientCertificate.key) },
      },
    })),
  };
}

/**
 * The ledger section with its paths relative like the others, and the default checkpoint origin
 * (which names the node) written without the node, for the same reason as `node` itself.
 */
function ledgerView(config: RampartConfig, path: (p: string) => string): unknown {
  const l = config.ledger;
  const kek = l.encryption.kek;
  return {
    ...l,
    spill: { ...l.spill, dir: path(l.spill.dir) },
    encryption: { kek: kek.provider === 'file' ? { ...kek, file: path(kek.file) } : kek.provider === 'pkcs11' ? { ...kek, module: path(kek.module) } : kek },
    checkpoints: {
      ...l.checkpoints,
      origin: l.checkpoints.origin === `rampart/${config.node}` ? 'rampart/<node>' : l.checkpoints.origin,
      signingKeyFile: path(l.checkpoints.signingKeyFile),
      publish: l.checkpoints.publish.map((t) => ('file' in t ? { file: path(t.file) } : t)),
    },
    // A replica's database password never enters the hash, as for storage itself.
    stream: l.stream.map((t) =>
      'file' in t
        ? { file: path(t.file) }
        : t.storage.driver === 'sqlite'
          ? { storage: { driver: 'sqlite', sqlite: { path: path(t.storage.sqlite.path) } } }
          : { storage: { driver: 'postgres', postgres: { ...t.storage.postgres, url: redactPassword(t.storage.postgres.url) } } },
    ),
  };
}

function redactPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    // The loader refuses URLs that do not parse; never hash one that might hold a secret.
    return '<unparseable>';
  }
}
