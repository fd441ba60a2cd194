/**
 * Legal holds as an export and the console show them: every hold, lifted or not, with its
 * criteria opened (they are stored sealed under the hold's key, since they name people) and the
 * reason taken from the hold's ledger record where the caller has it.
 */
import { openCriteria } from '../ledger/holds.js';
import type { DataKeyRing } from '../crypto/data-keys.js';
import type { HoldCriteria, RetentionStore } from '../storage/types.js';

export interface HoldView {
  id: string;
  criteria: HoldCriteria;
  createdAt: number;
  createdBy: string;
  liftedAt?: number;
  liftedBy?: string;
  reason?: string;
}

export async function activeHoldsAll(retention: RetentionStore, ring: Pick<DataKeyRing, 'keyById'>): Promise<HoldView[]> {
  const out: HoldView[] = [];
  for (const h of await retention.listHolds()) {
    let criteria: HoldCriteria = {};
    try {
      criteria = await openCriteria(h, ring);
    } catch (err) {
      // A lifted hold's key may have been purged since: its criteria are gone with it.
      if ((err as { code?: string }).code !== 'RAMPART_DATA_KEY_GONE') throw err;
    }
    out.push({ id: h.id, criteria, createdAt: h.createdAt, createdBy: h.createdBy, ...(h.liftedAt !== undefined ? { liftedAt: h.liftedAt } : {}), ...(h.liftedBy !== undefined ? { liftedBy: h.liftedBy } : {}) });
  }
  return out;
}
