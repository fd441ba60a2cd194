/**
 * Authorization probes: a credential without the scope an operation needs gets 403 (API5, BFLA;
 * ASVS 4.1.3), and the test customer naming another customer's object gets 403 or 404 (API1,
 * BOLA; ASVS 4.2.1).
 *
 * A refusal proves something only if the same credential is otherwise accepted: the customer's
 * own object must answer 2xx (the baseline), and a 401 (credential refused as a whole) or a 404
 * that says the route does not exist is reported as `error`, not as a pass.
 */
import { exchangeEvidence, type Exchange, type ProbeClient } from '../http.js';
import type { Identities } from '../identities.js';
import { result, type ControlResult } from '../types.js';

const C = {
  scope: { id: 'authz.missing-scope', family: 'authorization', title: 'A credential lacking the operation\'s scope: 403', requirements: ['API5', 'ASVS 4.1.3'] },
  bola: { id: 'authz.other-customer-object', family: 'authorization', title: 'Another customer\'s object: 403 or 404', requirements: ['API1', 'ASVS 4.2.1'] },
} as const;

export const BASELINE_CONTROL = 'authz.baseline';

export async function authorizationProbes(i: { client: ProbeClient; identities: Identities; baseline?: Exchange; baselineError?: string }): Promise<ControlResult[]> {
  const out: ControlResult[] = [];
  const ids = i.identities;

  const ms = ids.missingScope;
  if (!ms) out.push(result(C.scope, 'skipped', 'not given: missingScope (a credential lacking a scope, and a path that needs it)'));
  else {
    try {
      const body = ms.body === undefined ? undefined : JSON.stringify(ms.body);
      const ex = await i.client.request(C.scope.id, { method: ms.method, path: ms.path, credential: ms.credential, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) });
      const r = ex.response;
      const ev = { ...exchangeEvidence(ex), ...(ms.scope ? { lackedScope: ms.scope } : {}) };
      if (r.status === 403) out.push(result(C.scope, 'pass', `403${r.code ? ` ${r.code}` : ''}`, ev));
      else if (r.status === 401) out.push(result(C.scope, 'error', `the credential was refused as a whole (401${r.code ? ` ${r.code}` : ''}): give a valid credential that lacks the scope`, ev));
      else if (r.code === 'RAMPART_ROUTE_NOT_FOUND' || r.code === 'RAMPART_METHOD_NOT_ALLOWED') out.push(result(C.scope, 'error', `${ms.method} ${ms.path} is not an operation of the API (${r.code})`, ev));
      else out.push(result(C.scope, 'fail', `expected 403, got ${r.status}${r.code ? ` ${r.code}` : ''}`, ev));
    } catch (err) {
      out.push(result(C.scope, 'error', (err as Error).message, { path: ms.path }));
    }
  }

  const customer = ids.customer;
  if (!customer || ids.otherObject === undefined) out.push(result(C.bola, 'skipped', `not given: ${!customer ? 'customer' : 'otherObject'} (identities file)`));
  else {
    const base = i.baseline;
    const baseEv = base ? { baseline: exchangeEvidence(base) } : { baseline: i.baselineError ?? 'not made' };
    try {
      const ex = await i.client.request(C.bola.id, { method: 'GET', path: ids.otherObject, credential: customer.credential });
      const r = ex.response;
      const ev = { ...exchangeEvidence(ex), ...baseEv };
      const baseOk = base !== undefined && base.response.status >= 200 && base.response.status < 300;
      if (r.status === 403 || r.status === 404) {
        if (r.code === 'RAMPART_ROUTE_NOT_FOUND') out.push(result(C.bola, 'error', `${ids.otherObject} is not a route of the API (${r.code}): the 404 says nothing about ownership`, ev));
        else if (!baseOk) out.push(result(C.bola, 'error', `refused (${r.status}), but the customer's own object was not served either (${base ? base.response.status : i.baselineError ?? 'no answer'}): the refusal proves nothing`, ev));
        else out.push(result(C.bola, 'pass', `${r.status}${r.code ? ` ${r.code}` : ''}; own object ${base.response.status}`, ev));
      } else if (r.status === 401) out.push(result(C.bola, 'error', `the customer credential was refused (401${r.code ? ` ${r.code}` : ''})`, ev));
      else out.push(result(C.bola, 'fail', `another customer's object answered ${r.status}${r.code ? ` ${r.code}` : ''}`, ev));
    } catch (err) {
      out.push(result(C.bola, 'error', (err as Error).message, { path: ids.otherObject, ...baseEv }));
    }
  }
  return out;
}
