/**
 * One verification run (issue 6; DESIGN.md "validation in the real environment"): plans the
 * probes and refuses to start when they would exceed the budget, asks the admin plane for a probe
 * marker, runs the probe families against the target, reads back the ledger, and has the gateway
 * sign an attestation of the report that it records in the ledger.
 *
 * Order matters only for the rate-limit probe, which runs last among the data-plane probes: it
 * spends the test customer's bucket, which the other probes must not find empty.
 */
import { createHash } from 'node:crypto';
import type { RampartConfig } from '../config/types.js';
import { VERSION } from '../core/version.js';
import { canonicalize } from '../ledger/canonical.js';
import { createAdminApi, type AdminApi } from './admin.js';
import { createBudget, createProbeClient, type Exchange } from './http.js';
import type { Identities } from './identities.js';
import { authenticationProbes } from './probes/authentication.js';
import { authorizationProbes, BASELINE_CONTROL } from './probes/authorization.js';
import { configHashProbe, CONFIG_CONTROL } from './probes/config.js';
import { headerResults } from './probes/headers.js';
import { injectionProbe } from './probes/injection.js';
import { AUDIT_CONTROLS, chainProbe, landedProbe } from './probes/ledger.js';
import { oversizedBodyProbe, rateLimitProbe } from './probes/limits.js';
import { unknownRouteProbe } from './probes/routing.js';
import { plainHttpResults, tlsProbes } from './probes/tls.js';
import { result, summarize, type ControlResult, type VerifyReport } from './types.js';

export const DEFAULT_MAX_PROBES = 60;

/** The run could not be made (bad target, budget too small, admin plane refusing): exit 2. */
export class VerifyCannotRun extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyCannotRun';
  }
}

export interface VerifyOptions {
  target: string;
  identities: Identities;
  /** The repository's configuration: limits, reserved prefix, issuer, and the hash to compare. */
  config?: { config: RampartConfig; file: string };
  admin?: { url: string; token: string };
  /** Extra trusted CA certificates (PEM) for the target and the admin plane. */
  ca?: readonly string[];
  insecure?: boolean;
  maxProbes?: number;
  timeoutMs?: number;
  /** Where `openssl` is, for the TLS fallback client. */
  openssl?: string;
  now?: () => number;
}

export interface VerifyOutcome {
  report: VerifyReport;
  /** sha256:<hex> of the canonical JSON of the report (what the attestation signs). */
  reportDigest: string;
  attestation?: { jws: string; kid: string; runId: string };
  /** Why no attestation was made, when --admin was given. */
  attestationError?: string;
}

/** Connections and requests the plan needs at most, before any is made. */
export function plannedProbes(ids: Identities, tls: boolean): number {
  let n = tls ? 5 + 2 : 0; // five handshakes, and the openssl fallback for 1.0 and 1.1
  if (ids.customer) n += 1 + 4; // baseline; no credential, JWKS, forged, expired
  if (ids.missingScope) n += 1;
  if (ids.customer && ids.otherObject !== undefined) n += 1;
  if (ids.injection) n += 1;
  if (ids.oversizedBody) n += 1;
  n += 1; // unknown route
  if (ids.rateLimit) n += ids.rateLimit.budget + 1;
  return n;
}

export async function runVerify(o: VerifyOptions): Promise<VerifyOutcome> {
  const now = o.now ?? Date.now;
  const startedAt = new Date(now()).toISOString();
  let target: URL;
  try {
    target = new URL(o.target);
  } catch {
    throw new VerifyCannotRun(`--target ${o.target} is not a URL`);
  }
  if ((target.protocol !== 'https:' && target.protocol !== 'http:') || target.search !== '' || target.hash !== '' || target.username !== '' || target.password !== '') {
    throw new VerifyCannotRun(`--target must be an http(s) URL without credentials, query or fragment: ${o.target}`);
  }
  const tls = target.protocol === 'https:';
  const maxProbes = o.maxProbes ?? DEFAULT_MAX_PROBES;
  const planned = plannedProbes(o.identities, tls);
  if (planned > maxProbes) {
    throw new VerifyCannotRun(`the plan needs up to ${planned} connections and requests, over --max-probes ${maxProbes} (lower rateLimit.budget, or raise --max-probes knowingly)`);
  }
  const ca = o.ca ?? [];
  const insecure = o.insecure === true;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const cfg = o.config?.config;
  const reservedPrefix = cfg?.reservedPrefix ?? '/.rampart';
  const basePath = target.pathname.replace(/\/+$/, '');

  let admin: AdminApi | undefined;
  let run: { runId: string; marker: string; expiresAt: string; startSeq: number; configHash: string } | undefined;
  if (o.admin) {
    admin = createAdminApi({ url: o.admin.url, token: o.admin.token, ca, insecure, timeoutMs });
    try {
      run = await admin.call('POST', '/admin/api/verify/runs', { target: target.origin + basePath, ttlSeconds: 900 });
    } catch (err) {
      await admin.close();
      throw new VerifyCannotRun(`the admin plane refused the verification run: ${(err as Error).message}`);
    }
  }

  try {
    const budget = createBudget(maxProbes);
    const client = createProbeClient({ target, budget, ca, insecure, timeoutMs, ...(run ? { marker: run.marker } : {}) });
    const ids = o.identities;
    const results: ControlResult[] = [];

    // -- TLS ------------------------------------------------------------------------------------
    if (tls) {
      results.push(...(await tlsProbes({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port || 443), ca, timeoutMs, budget, ...(o.openssl ? { openssl: o.openssl } : {}), now })));
    } else {
      results.push(...plainHttpResults(target.origin));
    }

    // -- the customer's own object: the baseline the refusals are judged against -----------------
    let baseline: Exchange | undefined;
    let baselineError: string | undefined;
    if (ids.customer) {
      try {
        baseline = await client.request(BASELINE_CONTROL, { method: 'GET', path: ids.customer.ownObject, credential: ids.customer.credential });
      } catch (err) {
        baselineError = (err as Error).message;
      }
    }

    const authn = await authenticationProbes({ client, identities: ids, reservedPrefix, ...(cfg ? { issuer: cfg.identity.issuer } : {}), ...(cfg && cfg.apis.length === 1 ? { audience: cfg.apis[0]!.name } : {}) });
    results.push(...headerResults({ tls, ...(baseline ? { apiAnswer: baseline } : {}), ...(authn.denial ? { denial: authn.denial } : {}) }));
    results.push(...authn.results);
    results.push(...(await authorizationProbes({ client, identities: ids, ...(baseline ? { baseline } : {}), ...(baselineError ? { baselineError } : {}) })));
    results.push(await injectionProbe({ client, identities: ids }));
    results.push(await oversizedBodyProbe({ client, identities: ids, ...(cfg ? { maxBodyBytes: cfg.limits.maxBodyBytes } : {}) }));
    results.push(await unknownRouteProbe({ client, identities: ids }));
    results.push(await rateLimitProbe({ client, identities: ids }));

    // -- through the admin plane -----------------------------------------------------------------
    if (admin && run) {
      results.push(await landedProbe({ admin, runId: run.runId, exchanges: client.exchanges, reservedPrefix, basePath }));
      results.push(await chainProbe({ admin }));
    } else {
      for (const c of AUDIT_CONTROLS) results.push(result(c, 'skipped', 'the ledger is read through the admin plane: give --admin'));
    }
    results.push(o.config || run ? await configHashProbe({ ...(run ? { live: run.configHash } : {}), ...(o.config ? { config: o.config } : {}) }) : result(CONFIG_CONTROL, 'skipped', 'give --config and --admin'));

    const built: VerifyReport = {
      tool: 'rampart verify',
      version: VERSION,
      target: target.origin + basePath,
      ...(admin ? { admin: admin.url } : {}),
      ...(run ? { runId: run.runId } : {}),
      startedAt,
      finishedAt: new Date(now()).toISOString(),
      probes: budget.used,
      summary: summarize(results),
      results,
    };
    // Plain JSON from here on (certificate fields and headers come as null-prototype objects,
    // a failed date as NaN): what is written is exactly what is digested.
    const report = JSON.parse(JSON.stringify(built)) as VerifyReport;
    const reportDigest = digestOf(report);
    if (!admin || !run) return { report, reportDigest };
    try {
      const a = await admin.call<{ attestation: string; kid: string; runId: string }>('POST', `/admin/api/verify/runs/${run.runId}/attestation`, { summary: report.summary, reportDigest });
      return { report, reportDigest, attestation: { jws: a.attestation, kid: a.kid, runId: a.runId } };
    } catch (err) {
      return { report, reportDigest, attestationError: (err as Error).message };
    }
  } finally {
    await admin?.close();
  }
}

/** The bytes the attestation covers: the report's canonical JSON (src/ledger/canonical.ts). */
export function reportBytes(report: VerifyReport): Buffer {
  return Buffer.from(canonicalize(report), 'utf8');
}

export function digestOf(report: VerifyReport): string {
  return `sha256:${createHash('sha256').update(reportBytes(report)).digest('hex')}`;
}
