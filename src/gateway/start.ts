/**
 * The composition root (STYLE point 10): the only place that knows the concrete storage, ledger,
 * key cache, stages and server. Everything else receives what it needs.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RampartConfig, TracingConfig } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import { loadSecrets } from '../config/secrets.js';
import { createLogger, subscribeAccessLog, type Logger } from '../core/log.js';
import { channels } from '../core/diagnostics.js';
import { DEFAULT_MAX_QUEUE, type Ledger } from '../ledger/writer.js';
import { createTracer, type Tracer } from '../core/tracing.js';
import { createOtlpExporter, type OtlpExporter } from '../core/tracing-otlp.js';
import { traceStages } from '../core/tracing-stages.js';
import { openRunningLedger, type RunningLedger } from '../ledger/open-ledger.js';
import { createNullLedgerForBenchmark } from '../ledger/null-ledger.js';
import { KeyCache } from '../keys/cache.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import { tlsServerOptions } from '../tls/server-options.js';
import { createAuthThrottle } from '../pipeline/auth-throttle.js';
import { createParseStage } from '../pipeline/parse.js';
import { createAddressLimitStage } from '../pipeline/address-limit.js';
import { createRouteStage } from '../pipeline/route.js';
import { createAuthenticateStage } from '../pipeline/authenticate.js';
import { createScopeStage } from '../pipeline/scope.js';
import { createAuthorizeStage } from '../pipeline/authorize.js';
import { holdKeyset, type KeysetHolder } from '../identity/keyset-holder.js';
import { createUpstreamIdentity } from '../identity/upstream-identity.js';
import { createAccessTokens, MAX_TOKEN_LIFETIME_SECONDS } from '../identity/access-tokens.js';
import { restoreRevocations } from '../identity/revocations.js';
import { createTokenEndpoint } from '../identity/token-endpoint.js';
import { createClientCertificates } from '../identity/client-certs.js';
import { startAdminServer, type AdminServer } from '../admin/server.js';
import { createExternalIssuers, type ExternalIssuers } from '../identity/external-issuers.js';
import { createValidateStage } from '../pipeline/validate.js';
import { createPrincipalLimitStage } from '../pipeline/principal-limit.js';
import { createInspectStage } from '../pipeline/inspect.js';
import { createThreatServices, type ThreatServices } from '../threat/services.js';
import { createLimitsRuntime } from '../threat/limits-runtime.js';
import { compileDlpPolicies } from './response-controls.js';
import { buildRuntime, type GatewayRuntime, type StageFactory } from './runtime.js';
import { restartOnlyChanges } from './restart-only.js';
import { createProbeMarkers } from './probe-marker.js';
import { checkStartAllowed, recordStartedVersion, startedVersion } from './started-version.js';
import { createHandler } from './handler.js';
import { createClientErrorHandler } from './client-error.js';
import { createMetrics } from './metrics.js';
import { createReadiness, type Readiness } from './readiness.js';
import { createReservedHandler } from './reserved.js';
import { errSummary } from './proxy.js';
import { VERSION } from '../core/version.js';


export interface StartOptions {
  config: RampartConfig;
  /** Folder of the configuration file: paths are hashed relative to it (portable version hash). */
  configDir?: string;
  /**
   * The configuration file `config` was loaded from. With it the version hash covers every file
   * of the version (src/config/bundle.ts: the documents, the files they reference and the
   * certificates), so it equals what `rampart plan` and `rampart apply` compute over the
   * repository, and the version is stored with its bundle (issue 6: every configuration the
   * gateway runs is stored). Without it (tests, benchmarks) the hash is hash.ts's alone.
   */
  configFile?: string;
  logger?: Logger;
  /** Key-cache poll interval (ms); how soon a key created or revoked elsewhere takes effect. */
  keyPollMs?: number;
  /** Grace period for in-flight requests at shutdown. */
  shutdownGraceMs?: number;
  /**
   * Benchmark baseline only (bench/): parse and route, no controls, no ledger, so the cost of the
   * controls can be printed as a ratio. Not reachable from configuration or the CLI.
   */
  benchmarkPassThrough?: boolean;
  /**
   * Benchmark only: every control, but a ledger that records nothing, so that the benchmark can
   * split what the controls cost into the request checks and the ledger. Not reachable from
   * configuration or the CLI.
   */
  benchmarkNullLedger?: boolean;
  /**
   * Tests only: the admin plane's clock (session idle and absolute timeouts, re-authentication),
   * so a browser test can let a session expire without waiting for minutes. Not reachable from
   * configuration or the CLI.
   */
  adminClockForTests?: () => number;
}

/** A loaded configuration version to activate. */
export interface ActivationInput {
  config: RampartConfig;
  /** The folder its relative paths hash against (the version's folder): the hash `plan` compares. */
  configDir: string;
  /** The configuration file's name, for error messages. */
  file?: string;
  /** The version hash computed over its bundle (src/config/bundle.ts); default hash.ts's over config and documents. */
  hash?: string;
}

export interface ActivationResult {
  hash: string;
  previous: string;
  warnings: string[];
}

export interface GatewayHandle {
  readonly url: string;
  readonly port: number;
  readonly storage: Storage;
  readonly ledger: Ledger;
  /** Encryption, checkpoints and self-verification of the ledger (absent in benchmark baselines). */
  readonly ledgerParts: RunningLedger | undefined;
  readonly keys: KeyCache;
  readonly readiness: Readiness;
  /** Rampart's signing keys, as the running gateway follows them. */
  readonly keyset: KeysetHolder;
  /** The admin plane's listener, when `admin` is configured. */
  readonly admin: AdminServer | undefined;
  runtime(): GatewayRuntime;
  /**
   * Activates another configuration version live (issue 6, `rampart apply`): the new runtime
   * is built and the TLS material read first; then requests that start afterwards get it, those
   * in flight finish on theirs, and no connection is dropped. Throws ConfigError (nothing
   * swapped) when the version cannot be built or changes a restart-only field (./restart-only.ts).
   */
  activate(next: ActivationInput): Promise<ActivationResult>;
  /** Graceful: stop accepting, finish in-flight requests, flush the ledger, close storage. */
  close(): Promise<void>;
}

export async function startGateway(opts: StartOptions): Promise<GatewayHandle> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger();
  const tls = config.listen.tls !== undefined && !config.listen.plainHttp;
  if (!tls) {
    logger.warn({ host: config.listen.host }, 'plain HTTP listener: only for loopback or behind a trusted TLS-terminating proxy (ENC-1)');
  }
  const secrets = await loadSecrets(config.secretsFile);
  const storage = await openStorage(config.storage);
  const cleanup: (() => Promise<void> | void)[] = [() => storage.close()];
  try {
    // The configuration hash, once the runtime exists (records written before it say 'starting').
    let hashNow = (): string => 'starting';
    const running: RunningLedger | undefined = opts.benchmarkPassThrough || opts.benchmarkNullLedger
      ? undefined
      : await openRunningLedger(config, storage, {
          configHash: () => hashNow(),
          onWarning: (m) => logger.warn(m),
          onAlert: (err: unknown) => {
            logger.error({ err: errSummary(err) }, 'ledger alert (AU-5)');
            // Counted in rampart_ledger_alerts_total by kind: publication, journal, stream, verification.
            channels.ledgerAlert.publish({ kind: alertKind(err), error: err });
          },
          onCommit: (c) => {
            if (channels.ledgerCommit.hasSubscribers) channels.ledgerCommit.publish(c);
          },
        });
    const ledger = running ? running.ledger : createNullLedgerForBenchmark();
    cleanup.unshift(() => (running ? running.close() : ledger.close()));
    const keys = await KeyCache.start(storage.keys, secrets.keyHashSecret, {
      pollMs: opts.keyPollMs ?? 250,
      onError: (err) => logger.warn({ err: errSummary(err) }, 'key refresh failed'),
    });
    cleanup.unshift(() => keys.close());
    const keyset = await holdKeyset(config.identity.signingKeysFile, { onError: (err) => logger.warn({ err: errSummary(err) }, 'signing keys could not be reloaded; the previous keys stay in use') });
    cleanup.unshift(() => keyset.close());
    const identity = opts.benchmarkPassThrough ? undefined : createUpstreamIdentity(keyset, config.identity);
    const tokens = createAccessTokens(keyset, { issuer: config.identity.issuer, lifetimeSeconds: config.identity.tokens.lifetimeSeconds });
    await restoreRevocations(storage.ledger, tokens, MAX_TOKEN_LIFETIME_SECONDS * 1000);
    const external = externalIssuersOf(config);
    const throttle = createAuthThrottle(config.authThrottle);
    // Counters and baselines outlive a configuration version; the rules are per version.
    const threat: ThreatServices | undefined = opts.benchmarkPassThrough ? undefined : createThreatServices({ config, ledger, logger, secret: secrets.keyHashSecret });
    if (threat) {
      cleanup.unshift(() => threat.close());
      await threat.ready();
    }
    // Issue 7: traces only when configured (restart-only: the exporter lives with the process);
    // without it no stage is wrapped and no tracing channel has a subscriber.
    const tracing = config.observability.tracing && !opts.benchmarkPassThrough ? startTracing(config, config.observability.tracing) : undefined;
    if (tracing) cleanup.unshift(() => tracing.close());
    // The stages of one configuration version: everything a version may change is read from
    // `rt.config`; what the process holds for its life (keys, throttle, tokens, identity, threat
    // services) is shared by every version (./restart-only.ts says which fields that fixes).
    const stagesOf: StageFactory = (rt) => {
      const c = rt.config;
      if (opts.benchmarkPassThrough || !threat) return [createParseStage(c.limits), createRouteStage(rt)];
      const limits = createLimitsRuntime(c.rateLimits.rules, threat);
      compileDlpPolicies(c);
      const stages = [
        createParseStage(c.limits),
        createAddressLimitStage(throttle, limits),
        createRouteStage(rt),
        createAuthenticateStage(keys, throttle, tokens, external, c.listen.tls?.ca !== undefined ? createClientCertificates(c.identity.clientCertificates) : undefined),
        createScopeStage(c.apis.length > 1),
        createPrincipalLimitStage(limits),
        createValidateStage(c.limits),
        createInspectStage(c.inspection, c.responses),
        createAuthorizeStage(rt, identity),
      ];
      return tracing ? traceStages(stages, tracing.tracer) : stages;
    };
    // The version as started: its hash over every file of the version when the file is known.
    const started = opts.configFile && !opts.benchmarkPassThrough && !opts.benchmarkNullLedger ? await startedVersion(config, opts.configFile, logger) : undefined;
    if (started) await checkStartAllowed(storage, config, started);
    const runtime = await buildRuntime(config, stagesOf, { ...(opts.configDir ? { configDir: opts.configDir } : {}), ...(started ? { hash: started.hash } : {}) });
    for (const w of runtime.warnings) logger.warn(w);
    // Swapped atomically by activate() below; each request keeps the runtime it started with
    // (the handler reads current() once per request).
    let current = runtime;
    /** Runtimes swapped out, closed once no request can still be on them. */
    const retiring = new Set<GatewayRuntime>();
    cleanup.unshift(async () => {
      await Promise.all([current, ...retiring].map((r) => r.close()));
    });
    const getRuntime = () => current;
    hashNow = () => current.hash;

    const readiness = createReadiness({
      store: storage.ledger,
      current: getRuntime,
      keysFresh: () => keys.fresh,
      ledgerHealthy: () => ledger.healthy,
      ledgerPending: () => ledger.pending,
      // open-ledger.ts leaves the writer's bound at its default (never below a batch).
      ledgerMaxQueue: Math.max(DEFAULT_MAX_QUEUE, config.ledger.maxBatch),
    });
    cleanup.unshift(() => readiness.close());
    const metrics = createMetrics({
      ledgerHealthy: () => ledger.healthy,
      keysCount: () => keys.size,
      ledgerPending: () => ledger.pending,
      upstreams: () => readiness.state().upstreams,
      ...(tracing ? { tracing: () => tracing.exporter.stats() } : {}),
    });
    cleanup.unshift(() => metrics.close());
    // One debug line per exchange with its request id (only when the level shows debug).
    cleanup.unshift(subscribeAccessLog(logger));

    let closing = false;
    const handler = createHandler({
      current: getRuntime,
      ledger,
      identity,
      logger,
      tls,
      closing: () => closing,
      reserved: createReservedHandler({ metrics, readiness, tls, jwks: () => keyset.jwks(), oauth: createTokenEndpoint({ keys, tokens, throttle, ledger, tls }) }),
      ...(threat ? { threat } : {}),
      probes: createProbeMarkers(secrets.keyHashSecret),
    });
    const serverOpts: http.ServerOptions = {
      maxHeaderSize: config.limits.maxHeaderBytes,
      requestTimeout: config.limits.requestTimeoutMs + 1000,
      headersTimeout: config.limits.headersTimeoutMs,
      keepAliveTimeout: config.limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: 1000,
      // Host is checked by the parse stage so the refusal is a problem+json with a record.
      requireHostHeader: false,
      joinDuplicateHeaders: false,
      insecureHTTPParser: false,
      noDelay: true,
    };
    const server = tls
      ? https.createServer({ ...serverOpts, ...(await tlsServerOptions(config.listen.tls!)) }, handler)
      : http.createServer(serverOpts, handler);
    server.on('clientError', createClientErrorHandler({ current: getRuntime, ledger, tls }));
    if (tls) {
      // Failed handshakes (TLS 1.1 offered, no shared cipher) are counted, not recorded per attempt.
      server.on('tlsClientError', (err: NodeJS.ErrnoException) => logger.debug({ code: err.code }, 'TLS handshake refused'));
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `${tls ? 'https' : 'http'}://${hostForUrl}:${addr.port}`;
    // The admin plane: its own TLS listener (never the data plane's port).
    const admin = config.admin
      ? await startAdminServer({
          config,
          storage,
          keys,
          ledger,
          secret: secrets.keyHashSecret,
          throttle: createAuthThrottle(config.authThrottle),
          logger,
          configHash: () => current.hash,
          keyset,
          ...(running ? { ledgerParts: running } : {}),
          ...(opts.adminClockForTests ? { now: opts.adminClockForTests } : {}),
          // The console masks stored bodies by the live documents' classifications (DLP).
          operationModel: (api: string, op: string) => current.apis.find((a) => a.name === api)?.model.operations.find((o) => o.id === op),
          configVersions: {
            live: () => ({ hash: current.hash, config: current.config, configDir: opts.configDir ?? process.cwd(), ...(opts.configFile ? { configFile: opts.configFile } : {}) }),
            // Called only after start (an admin's request), when activate below exists.
            activate: (l) => activate({ config: l.config, configDir: l.dir, file: l.file, hash: l.hash }),
          },
        })
      : undefined;
    if (admin) {
      cleanup.unshift(() => admin.close());
      logger.info({ url: admin.url }, 'rampart admin plane listening');
    }
    await readiness.check().catch(() => {});
    await ledger.append({ type: 'system.event', outcome: 'info', configHash: runtime.hash, reason: 'RAMPART_OK', detail: { event: 'gateway.started', version: VERSION, listen: url } });
    if (started) await recordStartedVersion(storage, config, started, logger);
    logger.info({ url, configHash: runtime.hash, apis: config.apis.map((a) => a.name) }, 'rampart gateway listening');

    /** One activation at a time: a second waits, so versions are never interleaved. */
    let activating: Promise<unknown> = Promise.resolve();
    const activate = (next: ActivationInput): Promise<ActivationResult> => {
      const run = activating.then(async (): Promise<ActivationResult> => {
        if (closing) throw new Error('the gateway is shutting down');
        const live = current;
        const refused = restartOnlyChanges(live.config, next.config);
        if (refused.length > 0) throw new ConfigError(refused.map((r) => ({ file: next.file ?? 'rampart.yaml', pointer: r.pointer, message: r.message })));
        // Everything that can fail is done before the swap: the new runtime (documents, upstreams,
        // stages) and the TLS material (read and checked by tlsServerOptions).
        const secure = tls && next.config.listen.tls ? await tlsServerOptions(next.config.listen.tls) : undefined;
        // The admin listener's pair is read and checked now too (tlsServerOptions), applied below.
        const adminTls = admin && next.config.admin ? { cert: next.config.admin.tls.cert, key: next.config.admin.tls.key, minVersion: next.config.listen.tls?.minVersion ?? ('TLSv1.2' as const) } : undefined;
        if (adminTls) await tlsServerOptions(adminTls);
        const rt = await buildRuntime(next.config, stagesOf, { configDir: next.configDir, ...(next.hash !== undefined ? { hash: next.hash } : {}) });
        if (secure) {
          try {
            (server as https.Server).setSecureContext(secure);
          } catch (err) {
            await rt.close().catch(() => {});
            throw new ConfigError([{ file: next.config.listen.tls!.cert, pointer: '/listen/tls', message: `the TLS settings could not be applied: ${(err as Error).message}` }]);
          }
        }
        if (adminTls) await admin!.setTls(adminTls);
        current = rt;
        // New connections and requests get these; existing keep-alive connections keep their
        // sockets (nothing is dropped).
        server.requestTimeout = rt.config.limits.requestTimeoutMs + 1000;
        server.headersTimeout = rt.config.limits.headersTimeoutMs;
        server.keepAliveTimeout = rt.config.limits.keepAliveTimeoutMs;
        for (const w of rt.warnings) logger.warn(w);
        // A request that started on the old version finishes on it: its upstream pools close
        // once the longest request it could still be serving has timed out.
        retiring.add(live);
        const grace = Math.max(live.config.limits.requestTimeoutMs, 1000) + 1000;
        setTimeout(() => {
          retiring.delete(live);
          live.close().catch((err: unknown) => logger.warn({ err: errSummary(err) }, 'closing a retired configuration version failed'));
        }, grace).unref();
        await ledger.append({
          type: 'system.event',
          outcome: 'info',
          configHash: rt.hash,
          reason: 'RAMPART_OK',
          detail: { event: 'config.activated', previous: live.hash, hash: rt.hash, tls: secure !== undefined },
        });
        logger.info({ previous: live.hash, configHash: rt.hash }, 'configuration version activated');
        return { hash: rt.hash, previous: live.hash, warnings: [...rt.warnings] };
      });
      activating = run.catch(() => {});
      return run;
    };

    let closed: Promise<void> | undefined;
    const handle: GatewayHandle = {
      url,
      port: addr.port,
      storage,
      ledger,
      ledgerParts: running,
      keys,
      readiness,
      keyset,
      admin,
      runtime: getRuntime,
      activate,
      close() {
        closed ??= (async () => {
          closing = true;
          // The admin listener first: no admin change while the gateway drains.
          if (admin) await admin.close();
          const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          const grace = setTimeout(() => server.closeAllConnections(), opts.shutdownGraceMs ?? 10_000);
          await stopped;
          clearTimeout(grace);
          try {
            await ledger.append({ type: 'system.event', outcome: 'info', configHash: current.hash, reason: 'RAMPART_OK', detail: { event: 'gateway.stopped', version: VERSION } });
          } catch (err) {
            logger.error({ err: errSummary(err) }, 'could not record shutdown');
          }
          for (const c of cleanup) await c();
          logger.info('rampart gateway stopped');
        })();
        return closed;
      },
    };
    return handle;
  } catch (err) {
    for (const c of cleanup) await Promise.resolve(c()).catch(() => {});
    throw err;
  }
}

/** The tracer and its OTLP exporter (../core/tracing.ts); closed last-in-first-out with the gateway. */
function startTracing(config: RampartConfig, t: TracingConfig): { tracer: Tracer; exporter: OtlpExporter; close(): Promise<void> } {
  const exporter = createOtlpExporter({ endpoint: t.otlpEndpoint, serviceName: t.serviceName, serviceVersion: VERSION, resource: { 'service.instance.id': config.node } });
  const tracer = createTracer({ sampleRatio: t.sampleRatio, sink: exporter });
  return {
    tracer,
    exporter,
    async close() {
      tracer.close();
      await exporter.close();
    },
  };
}

/** A stable label for a ledger alert (its error code without the prefix, or 'other'). */
function alertKind(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('RAMPART_') ? code.slice(8).toLowerCase() : 'other';
}

/** The configured external issuers (none: undefined); a bad entry is a configuration error naming it. */
function externalIssuersOf(config: RampartConfig): ExternalIssuers | undefined {
  if (config.identity.issuers.length === 0) return undefined;
  try {
    return createExternalIssuers(config.identity.issuers);
  } catch (err) {
    throw new ConfigError([{ file: 'rampart.yaml', pointer: '/identity/issuers', message: (err as Error).message }]);
  }
}
