/**
 * Inventory (API9): only the operations of the published API exist; a path outside it gets 404
 * (RAMPART_ROUTE_NOT_FOUND), before any credential is looked at. The path is random unless the
 * operator names one, so no real route is hit by accident.
 */
import { randomBytes } from 'node:crypto';
import { exchangeEvidence, type ProbeClient } from '../http.js';
import type { Identities } from '../identities.js';
import { result, type ControlResult } from '../types.js';

const C = { id: 'routing.unknown-route', family: 'routing', title: 'A path outside the API inventory: 404', requirements: ['API9'] } as const;

export async function unknownRouteProbe(i: { client: ProbeClient; identities: Identities }): Promise<ControlResult> {
  const path = i.identities.unknownRoute ?? `/rampart-verify-${randomBytes(8).toString('hex')}/no-such-operation`;
  try {
    const ex = await i.client.request(C.id, { method: 'GET', path });
    const r = ex.response;
    if (r.status === 404) return result(C, 'pass', `404${r.code ? ` ${r.code}` : ''}`, exchangeEvidence(ex));
    return result(C, 'fail', `expected 404, got ${r.status}${r.code ? ` ${r.code}` : ''}`, exchangeEvidence(ex));
  } catch (err) {
    return result(C, 'error', (err as Error).message, { path });
  }
}
