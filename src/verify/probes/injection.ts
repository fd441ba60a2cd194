/**
 * Injection probe (ASVS 5.3.4, API8): a classic SQL injection in a free-text query parameter must
 * be refused before it reaches the upstream, with 400 and problem+json code
 * RAMPART_INJECTION_DETECTED (the inspect stage). A 400 for another reason (the parameter's schema
 * refused the text first) shows the contract, not the inspection: that is an `error` naming the
 * cause, so the operator picks a parameter that accepts free text.
 */
import { exchangeEvidence, type ProbeClient } from '../http.js';
import type { Identities } from '../identities.js';
import { result, type ControlResult } from '../types.js';

/** The classic tautology with a comment terminator (OWASP testing guide, WSTG-INPV-05). */
export const SQLI_PAYLOAD = "' OR '1'='1' --";
export const INJECTION_CODE = 'RAMPART_INJECTION_DETECTED';

const C = { id: 'inject.sql', family: 'injection', title: 'A SQL injection in a parameter: 400 RAMPART_INJECTION_DETECTED', requirements: ['ASVS 5.3.4', 'API8'] } as const;

export async function injectionProbe(i: { client: ProbeClient; identities: Identities }): Promise<ControlResult> {
  const inj = i.identities.injection;
  if (!inj) return result(C, 'skipped', 'not given: injection (a path and a free-text query parameter)');
  const sep = inj.path.includes('?') ? '&' : '?';
  const path = `${inj.path}${sep}${encodeURIComponent(inj.param)}=${encodeURIComponent(SQLI_PAYLOAD)}`;
  const credential = inj.auth === 'customer' ? i.identities.customer?.credential : undefined;
  try {
    const ex = await i.client.request(C.id, { method: 'GET', path, ...(credential ? { credential } : {}) });
    const r = ex.response;
    const ev = { ...exchangeEvidence(ex), payload: SQLI_PAYLOAD, parameter: inj.param };
    if (r.status === 400 && r.code === INJECTION_CODE) return result(C, 'pass', `400 ${r.code}`, ev);
    if (r.status === 400) return result(C, 'error', `400 but ${r.code ?? 'no problem code'}: refused before inspection; name a parameter that accepts free text`, ev);
    if (r.status === 401 || r.status === 403) return result(C, 'error', `the credential was refused (${r.status}${r.code ? ` ${r.code}` : ''}), so the payload was never inspected`, ev);
    if (r.code === 'RAMPART_ROUTE_NOT_FOUND' || r.code === 'RAMPART_METHOD_NOT_ALLOWED') return result(C, 'error', `${inj.path} is not an operation of the API (${r.code})`, ev);
    return result(C, 'fail', `the payload was not refused: ${r.status}${r.code ? ` ${r.code}` : ''}`, ev);
  } catch (err) {
    return result(C, 'error', (err as Error).message, { path });
  }
}
