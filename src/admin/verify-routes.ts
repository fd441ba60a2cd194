/**
 * The admin plane's routes for `rampart verify` (issue 6): a verification run gets an
 * authenticated probe marker (../gateway/probe-marker.ts), the run reads back which ledger
 * records its probes caused (AU-12: each probe landed), and the run's result becomes a signed
 * attestation that is itself a ledger record (R17a4-6: the verification's result is written and
 * signed; AU-10: it names the admin who ran it).
 *
 *   POST /admin/api/verify/runs                      {ttlSeconds?, target?} -> {runId, marker, expiresAt, startSeq, configHash}
 *   GET  /admin/api/verify/runs/:id/records          the records carrying detail.probe = runId since startSeq (bounded scan)
 *   POST /admin/api/verify/runs/:id/attestation      {summary, reportDigest} -> {attestation (compact JWS), kid, ...}
 *
 * All three need `verify.run` (./roles.ts: owner, security, compliance; admin tokens may carry
 * it). The live configuration hash is returned here, behind authentication, so the CLI can compare
 * the repository's configuration with what runs (DESIGN.md: drift is shown); /.rampart/ready also
 * shows it, but without authentication.
 *
 * Runs are kept in memory (bounded): a restarted gateway forgets them, and the CLI then reports
 * the landing check as an error rather than guessing. The attestation is a JWS of type
 * `rampart-verify+jwt` signed with the gateway's signing keys (../identity/compact-jws.ts), so it
 * can never pass for an access or admin token; its public key is in /.rampart/jwks.json.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { RampartConfig } from '../config/types.js';
import { createProbeMarkers, MAX_PROBE_MARKER_TTL_MS, type ProbeMarkers } from '../gateway/probe-marker.js';
import { createCompactJws } from '../identity/compact-jws.js';
import type { Keyset } from '../identity/keyset.js';
import type { Ledger } from '../ledger/writer.js';
import type { Storage } from '../storage/types.js';
import { actorOf, AdminFailure, type AdminRecordInput, type Handler, type Route } from './server.js';

export const ATTESTATION_TYP = 'rampart-verify+jwt';
export const ATTESTATION_AUDIENCE = 'rampart-verify';
/** Default and longest marker lifetime, in seconds. */
const DEFAULT_TTL_S = 900;
/** Records scanned per run read-back, at most (a run makes at most a few hundred requests). */
export const MAX_SCAN_RECORDS = 50_000;
/** Matching records returned, at most. */
const MAX_RETURNED = 2_000;
const PAGE = 1_000;
/** Runs remembered at once; the oldest is forgotten first. */
const MAX_RUNS = 200;

export interface VerifyRouteDeps {
  config: RampartConfig;
  storage: Storage;
  ledger: Ledger;
  /** Rampart's signing keys: the attestation is signed with the active one. */
  keyset: Keyset;
  /** The server secret: the probe marker's key is derived from it. */
  secret: Buffer;
  configHash: () => string;
  json(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void;
  record(o: AdminRecordInput): Promise<void>;
  now: () => number;
  /** Buffered durability: resolves once the journal has drained into the store. */
  drained?: () => Promise<void>;
  /** The markers the data plane checks; by default derived from `secret` (the same key either way). */
  markers?: ProbeMarkers;
}

interface Run {
  runId: string;
  actor: string;
  startSeq: number;
  expiresAt: number;
  target?: string;
  attested: boolean;
}

export function verifyRoutes(d: VerifyRouteDeps): Route[] {
  const markers = d.markers ?? createProbeMarkers(d.secret, { now: d.now });
  const jws = createCompactJws(d.keyset, d.now);
  const runs = new Map<string, Run>();

  const runOf = (id: string): Run => {
    const r = runs.get(id);
    if (!r) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND', 'No such verification run on this gateway (runs are kept in memory until a restart).');
    return r;
  };

  /** Everything appended before now is in the store (strict: awaited appends; buffered: the journal drained). */
  async function settled(): Promise<void> {
    await d.ledger.flush();
    if (d.drained) await d.drained();
  }

  const start: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const ttlSeconds = body.ttlSeconds ?? DEFAULT_TTL_S;
    if (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds * 1000 > MAX_PROBE_MARKER_TTL_MS) {
      throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `ttlSeconds: an integer from 60 to ${MAX_PROBE_MARKER_TTL_MS / 1000}`);
    }
    const target = optionalString(body.target, 'target', 512);
    await settled();
    // Every record after this one's predecessor may be a probe's; the scan starts here.
    const startSeq = (d.ledger.head()?.seq ?? 0) + 1;
    const runId = `vr_${randomBytes(16).toString('base64url')}`;
    const issued = markers.issue(runId, ttlSeconds * 1000);
    while (runs.size >= MAX_RUNS) runs.delete(runs.keys().next().value!);
    runs.set(runId, { runId, actor: caller!.user.username, startSeq, expiresAt: issued.expiresAt, ...(target !== undefined ? { target } : {}), attested: false });
    await d.record({ type: 'admin.action', outcome: 'success', status: 201, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'verify.start', runId, expiresAt: issued.expiresAt, ...(target !== undefined ? { target } : {}) } });
    d.json(res, 201, { runId, marker: issued.marker, expiresAt: new Date(issued.expiresAt).toISOString(), startSeq, configHash: d.configHash() });
  };

  const records: Handler = async (_req, res, { params }) => {
    const run = runOf(params[0]!);
    await settled();
    const head = (await d.storage.ledger.head())?.seq ?? 0;
    const found: { seq: number; type: string; requestId?: string; outcome: string; status?: number; stage?: string; reason?: string; operationId?: string }[] = [];
    let next = run.startSeq;
    let scanned = 0;
    while (next <= head && scanned < MAX_SCAN_RECORDS && found.length < MAX_RETURNED) {
      const page = await d.storage.ledger.read(next, Math.min(PAGE, MAX_SCAN_RECORDS - scanned));
      if (page.length === 0) break;
      for (const { record: r } of page) {
        scanned += 1;
        if (r.detail?.probe !== run.runId) continue;
        found.push({
          seq: r.seq,
          type: r.type,
          outcome: r.outcome,
          ...(r.requestId !== undefined ? { requestId: r.requestId } : {}),
          ...(r.status !== undefined ? { status: r.status } : {}),
          ...(r.stage !== undefined ? { stage: r.stage } : {}),
          ...(r.reason !== undefined ? { reason: r.reason } : {}),
          ...(r.operationId !== undefined ? { operationId: r.operationId } : {}),
        });
        if (found.length >= MAX_RETURNED) break;
      }
      next = page[page.length - 1]!.record.seq + 1;
    }
    d.json(res, 200, { runId: run.runId, startSeq: run.startSeq, headSeq: head, scanned, truncated: next <= head, records: found });
  };

  const attest: Handler = async (_req, res, { params, body, caller, client, requestId }) => {
    const run = runOf(params[0]!);
    if (run.attested) throw new AdminFailure('RAMPART_ADMIN_CONFLICT', 'This run has its attestation already.');
    const reportDigest = body.reportDigest;
    if (typeof reportDigest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(reportDigest)) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'reportDigest: sha256:<64 lower-case hex digits>');
    const s = body.summary as Record<string, unknown> | undefined;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'summary: {passed, failed, skipped, errors}');
    const count = (k: string): number => {
      const v = s[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100_000) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `summary.${k}: a count`);
      return v;
    };
    const summary = { passed: count('passed'), failed: count('failed'), skipped: count('skipped'), errors: count('errors') };
    run.attested = true;
    const iat = Math.floor(d.now() / 1000);
    const configHash = d.configHash();
    const attestation = jws.sign(ATTESTATION_TYP, {
      iss: d.config.identity.issuer,
      aud: ATTESTATION_AUDIENCE,
      sub: caller!.user.username,
      iat,
      jti: run.runId,
      runId: run.runId,
      ...(run.target !== undefined ? { target: run.target } : {}),
      reportDigest,
      summary,
      configHash,
      node: d.config.node,
      startSeq: run.startSeq,
    });
    try {
      await d.record({
        type: 'admin.action', outcome: 'success', status: 201, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!),
        detail: { action: 'verify.attestation', runId: run.runId, reportDigest, passed: summary.passed, failed: summary.failed, skipped: summary.skipped, errors: summary.errors },
      });
    } catch (err) {
      // Not recorded: not attested (the attestation's worth is that the ledger holds it).
      run.attested = false;
      throw err;
    }
    d.json(res, 201, { runId: run.runId, attestation, kid: d.keyset.active().kid, configHash });
  };

  return [
    { method: 'POST', pattern: /^\/admin\/api\/verify\/runs$/, action: 'verify.run', handler: start },
    { method: 'GET', pattern: /^\/admin\/api\/verify\/runs\/(vr_[A-Za-z0-9_-]{16,64})\/records$/, action: 'verify.run', handler: records },
    { method: 'POST', pattern: /^\/admin\/api\/verify\/runs\/(vr_[A-Za-z0-9_-]{16,64})\/attestation$/, action: 'verify.run', handler: attest },
  ];
}

function optionalString(v: unknown, name: string, max: number): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `${name}: a string of 1-${max} characters`);
  return v;
}
