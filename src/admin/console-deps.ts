/**
 * What the admin plane's console routes (issue 7) are given by ./server.ts: the same helpers the
 * other route modules get (./ledger-routes.ts), plus the running configuration (the DLP policy
 * that masks bodies is the live one) and, when the composition root wires it, the operation
 * models whose classification maps let DLP mask classified fields and not only detected ones.
 */
import type { ServerResponse } from 'node:http';
import type { RampartConfig } from '../config/types.js';
import type { RunningLedger } from '../ledger/open-ledger.js';
import type { Ledger } from '../ledger/writer.js';
import type { OperationModel } from '../openapi/types.js';
import type { Storage } from '../storage/types.js';
import type { AdminRecordInput } from './server.js';

export type { AdminRecordInput } from './server.js';

/** What the ledger-backed admin routes get from the admin plane (holds, purge, evidence, the console's reads). */
export interface LedgerRouteDeps {
  config: RampartConfig;
  storage: Storage;
  ledger: Ledger;
  parts: RunningLedger;
  configHash: () => string;
  json(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void;
  record(o: AdminRecordInput): Promise<void>;
  now: () => number;
}

export interface ConsoleRouteDeps extends LedgerRouteDeps {
  /** The configuration the gateway runs now (bodies are masked by its DLP policy). */
  liveConfig: () => RampartConfig;
  /** The running version's operation (for its body classification maps); absent: DLP by names and detectors only. */
  operationModel?: (api: string, operationId: string) => Pick<OperationModel, 'classifications'> | undefined;
}
