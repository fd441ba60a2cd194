/**
 * Retention as the console shows it (issue 7; R17a4-1, R4511-1, RSP-7, AU-11): the configured
 * period per record class, and what the purge job would remove within the next 30 days.
 *
 *   GET /admin/api/retention    (holds.read) {policies: {class: days}, upcoming: {asOf, keys, records, byClass}, holds}
 *
 * `upcoming` is the purge job itself (../ledger/purge.ts runPurge) run as a dry run with its
 * clock 30 days ahead: the same selection of expired day keys, the same legal holds, the same
 * prune point, and nothing changed (dryRun moves, shreds, prunes and records nothing; the
 * integration test checks the store before and after). byClass counts, per data key class, the
 * keys that expire and the sealed private parts and bodies under them.
 */
import { activeHolds } from '../ledger/holds.js';
import { runPurge } from '../ledger/purge.js';
import { purgeContext } from './ledger-routes.js';
import type { ConsoleRouteDeps } from './console-deps.js';
import { iso } from './query-params.js';
import type { Handler, Route } from './server.js';

export const UPCOMING_DAYS = 30;
const DAY_MS = 86_400_000;

export function retentionRoutes(d: ConsoleRouteDeps): Route[] {
  const { storage, parts } = d;

  const retention: Handler = async (_req, res) => {
    const asOf = d.now() + UPCOMING_DAYS * DAY_MS;
    const report = await runPurge(purgeContext(d, () => asOf), { dryRun: true });
    const byClass: Record<string, { keys: number; privates: number; bodies: number }> = {};
    for (const k of report.keys) {
      const c = (byClass[k.recordClass] ??= { keys: 0, privates: 0, bodies: 0 });
      const items = await storage.retention.itemsUnderKey(k.id);
      c.keys++;
      c.privates += items.privates;
      c.bodies += items.bodies;
    }
    const holds = await activeHolds(storage.retention, parts.crypto.ring);
    d.json(res, 200, {
      policies: { ...parts.crypto.sealer.retention },
      upcoming: { asOf: iso(asOf), keys: report.keys.length, records: report.recordsPruned, byClass, prunedThrough: report.prunedThrough },
      holds: holds.length,
    });
  };

  return [{ method: 'GET', pattern: /^\/admin\/api\/retention$/, action: 'holds.read', handler: retention }];
}
