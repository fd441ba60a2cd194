/**
 * `rampart evidence export|verify`: packages for examiners (R17a4-8, R17a4-10) and their offline
 * verification with the checkpoint public key alone. With an admin plane configured the export is
 * built by the gateway (its writer records the export, its checkpointer covers every record) and
 * downloaded with the operator's admin token; without one it is built here, with the gateway
 * stopped (./local-ledger.ts).
 */
import type { Command } from 'commander';
import { exportEvidence, type EvidenceQuery } from '../evidence/export.js';
import { verifyEvidencePackage } from '../evidence/verify-package.js';
import { adminDownload, operatorToken } from './admin-client.js';
import { loadCliConfig, output, withConfigOption } from './common.js';
import { CliExit, EXIT } from './exit-codes.js';
import { osUser, withLocalLedger } from './local-ledger.js';
import { isoTime, readKeyArg } from './cli-util.js';
import { createProgress } from './progress.js';

interface ExportOpts {
  config: string;
  from: number;
  to: number;
  principal?: string;
  subject?: string;
  object?: string;
  operation?: string;
  purpose?: string;
  out: string;
  json?: boolean;
}

export function register(program: Command): void {
  const evidence = program.command('evidence').description('evidence packages for examiners: export and offline verification');

  withConfigOption(
    evidence
      .command('export')
      .description('build one package: records (JSONL, CSV), inclusion proofs, signed checkpoints, holds, purge receipts, report, signed manifest')
      .requiredOption('--from <iso>', 'records at or after this time (ISO 8601)', isoTime)
      .requiredOption('--to <iso>', 'records at or before this time (ISO 8601)', isoTime)
      .option('--principal <p>', 'only records of this principal')
      .option('--subject <s>', 'only records about this data subject')
      .option('--object <id>', 'only records naming this object id')
      .option('--operation <id>', 'only this OpenAPI operationId')
      .option('--purpose <text>', 'why (an examination request number); shown in the report')
      .requiredOption('--out <file>', 'the package to write (.tar.gz); must not exist')
      .option('--json', 'print JSON'),
  ).action(async (opts: ExportOpts) => {
    const { config, file } = await loadCliConfig(opts);
    if (opts.from > opts.to) throw new CliExit(EXIT.USAGE, 'rampart: --from is after --to');
    const q: EvidenceQuery = { fromTs: opts.from, toTs: opts.to };
    if (opts.principal !== undefined) q.principal = opts.principal;
    if (opts.subject !== undefined) q.subject = opts.subject;
    if (opts.object !== undefined) q.objectId = opts.object;
    if (opts.operation !== undefined) q.operationId = opts.operation;
    if (config.admin) {
      const body = { from: q.fromTs, to: q.toTs, ...(q.principal ? { principal: q.principal } : {}), ...(q.subject ? { subject: q.subject } : {}), ...(q.objectId ? { objectId: q.objectId } : {}), ...(q.operationId ? { operationId: q.operationId } : {}), ...(opts.purpose ? { purpose: opts.purpose } : {}) };
      const r = await adminDownload(config, '/admin/api/evidence/export', { token: await operatorToken(config), body }, opts.out);
      const info = { out: opts.out, bytes: r.bytes, records: Number(r.headers['x-rampart-records'] ?? 0), manifestSha256: String(r.headers['x-rampart-manifest-sha256'] ?? '') };
      output(opts.json, info, () => `${info.records} records exported to ${info.out} (${info.bytes} bytes, manifest sha256 ${info.manifestSha256})`);
      return;
    }
    const bar = createProgress('exporting records', { json: opts.json === true });
    const info = await withLocalLedger(config, file, async (s, l, hash) => {
      await l.checkpointer.checkpoint('manual');
      const who = osUser();
      const r = await exportEvidence({ storage: s, sealer: l.crypto.sealer, ring: l.crypto.ring, signerKey: l.checkpointKey.signer, exporter: who, ...(opts.purpose ? { purpose: opts.purpose } : {}), includePersonal: true, includeBodies: true, onProgress: bar.update }, q, opts.out);
      await l.ledger.append({ type: 'admin.action', outcome: 'success', reason: 'RAMPART_OK', stage: 'admin', configHash: hash, detail: { action: 'evidence.export', records: r.records, manifestSha256: r.manifestSha256, proofTreeSize: r.proofTreeSize, fromTs: q.fromTs, toTs: q.toTs }, personal: { principal: who } });
      return { out: opts.out, bytes: r.bytes, records: r.records, manifestSha256: r.manifestSha256 };
    }).finally(() => bar.done());
    output(opts.json, info, () => `${info.records} records exported to ${info.out} (${info.bytes} bytes, manifest sha256 ${info.manifestSha256})`);
  });

  evidence
    .command('verify')
    .description('check a package offline with the checkpoint public key: manifest, signatures, every record and its inclusion proof')
    .argument('<file>', 'the package (.tar.gz)')
    .requiredOption('--public-key <key>', 'checkpoint verifier key (name+hash+base64) or a file holding it; repeatable', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--json', 'print JSON')
    .action(async (pkg: string, opts: { publicKey: string[]; json?: boolean }) => {
      const keys = await Promise.all(opts.publicKey.map(readKeyArg));
      const bar = createProgress('verifying records', { json: opts.json === true });
      let r;
      try {
        r = await verifyEvidencePackage(pkg, keys, { onProgress: bar.update });
      } catch (err) {
        bar.done();
        throw new CliExit(EXIT.FAILED, `rampart: ${pkg} is not a readable evidence package: ${(err as Error).message}`);
      }
      bar.done();
      output(opts.json, r, () => {
        const lines = [`${r.records} records, ${r.recordsProved} proved against the signed checkpoint at size ${r.proofTreeSize}; ${r.checkpoints} checkpoints verified; ${r.privateChecked} private parts and ${r.bodiesChecked} bodies matched their commitments`];
        for (const f of r.findings) lines.push(`FAIL ${f.where}: ${f.problem}`);
        lines.push(r.ok ? 'package verified' : `package NOT verified: ${r.findings.length} problem${r.findings.length === 1 ? '' : 's'}`);
        return lines.join('\n');
      });
      if (!r.ok) throw new CliExit(EXIT.FAILED, '');
    });
}
