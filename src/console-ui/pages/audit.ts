/**
 * The audit explorer: search the ledger by time, principal, customer (data subject), object id,
 * operation, status, reason, type and stage (GET /admin/api/audit/records, newest first), and a
 * record's detail: the decision trace (which stage decided and why), personal fields and bodies
 * when the role may see them (evidence.personal / evidence.bodies; bodies masked per DLP by the
 * server, and the viewing itself is a ledger record, ASVS 8.3.5), chain verification and the
 * record's RFC 9162 inclusion proof against the latest signed checkpoint.
 *
 * Everything here is attacker-influenced data (paths, ids, headers, bodies): it is shown as text
 * only (../h.ts), never parsed as HTML.
 */
import { h, type Child, replace } from '../h.js';
import { ApiError, getJson, postJson, query } from '../api.js';
import { button, facts, field, form, heading, jsonView, section, select, table, time, utcInput, announce } from '../ui.js';

interface RecordRow {
  seq: number;
  ts: string;
  type: string;
  outcome: string;
  status?: number | null;
  stage?: string | null;
  reason?: string | null;
  operationId?: string | null;
  method?: string | null;
  route?: string | null;
  api?: string;
  requestId?: string;
  keyId?: string;
  configHash?: string;
  principal?: string;
  subject?: string;
  objectIds?: string[];
}

interface Search {
  records: RecordRow[];
  next?: number;
  truncated?: boolean;
}

type Filters = Partial<Record<'from' | 'to' | 'principal' | 'subject' | 'object' | 'operation' | 'status' | 'reason' | 'type' | 'stage' | 'limit', string>>;

/** The last search, kept while the tab lives so that "back to results" finds it again. */
let last: { filters: Filters; result?: Search; pages: number[] } = { filters: {}, pages: [] };

export async function auditPage(view: HTMLElement): Promise<void> {
  const f = last.filters;
  const from = field('From (UTC)', { type: 'datetime-local', value: f.from ? f.from.slice(0, 16) : '' });
  const to = field('To (UTC)', { type: 'datetime-local', value: f.to ? f.to.slice(0, 16) : '' });
  const principal = field('Principal', { value: f.principal ?? '', hint: 'Key name, client or user, exactly as recorded.' });
  const subject = field('Customer (data subject)', { value: f.subject ?? '' });
  const object = field('Object id', { value: f.object ?? '', hint: 'For example account:acc_1 or acc_1.' });
  const operation = field('Operation', { value: f.operation ?? '', hint: 'The operationId from the OpenAPI document.' });
  const status = field('Status', { value: f.status ?? '', inputmode: 'numeric', pattern: '[1-5][0-9]{2}' });
  const reason = field('Reason code', { value: f.reason ?? '', hint: 'For example RAMPART_SCOPE_MISSING.' });
  const type = select('Record type', ['', 'exchange.decision', 'exchange.completion', 'admin.action', 'security.event', 'system.event'], f.type ?? '');
  const stage = field('Stage', { value: f.stage ?? '', hint: 'parse, route, authenticate, scope, validate, inspect, authorize, proxy, respond, admin…' });
  const limit = select('Results per page', ['50', '100', '200', '20'], f.limit ?? '50');
  const results = h('div', { class: 'results', 'aria-live': 'polite' });

  const run = async (before?: number): Promise<void> => {
    const filters: Filters = {
      from: utcInput(from.input.value),
      to: utcInput(to.input.value),
      principal: principal.input.value.trim(),
      subject: subject.input.value.trim(),
      object: object.input.value.trim(),
      operation: operation.input.value.trim(),
      status: status.input.value.trim(),
      reason: reason.input.value.trim(),
      type: type.input.value,
      stage: stage.input.value.trim(),
      limit: limit.input.value,
    };
    const r = await getJson<Search>(`/admin/api/audit/records${query({ ...filters, before })}`);
    last = { filters, result: r, pages: before === undefined ? [] : [...last.pages, before] };
    show(results, r, run);
    announce(`${r.records.length} records found${r.next !== undefined ? ', more available' : ''}.`);
  };

  const search = form('Search the audit trail', [h('div', { class: 'filters' }, from.el, to.el, principal.el, subject.el, object.el, operation.el, status.el, reason.el, type.el, stage.el, limit.el)], 'Search', () => run());
  replace(view, heading('Audit explorer'), search, results);
  if (last.result) show(results, last.result, run);
  else await run();
}

function show(results: HTMLElement, r: Search, run: (before?: number) => Promise<void>): void {
  // The caption names the filters applied, so a reader knows what the table answers.
  const applied = Object.entries(last.filters).filter(([k, v]) => k !== 'limit' && v).map(([k, v]) => `${k}: ${v}`).join(', ');
  const personal = r.records.some((x) => x.principal !== undefined || x.subject !== undefined || x.objectIds !== undefined);
  const headers = ['Record', 'Time', 'Type', 'Request', 'Status', 'Stage', 'Reason', ...(personal ? ['Principal', 'Customer', 'Objects'] : [])];
  const rows = r.records.map((x): Child[] => [
    h('a', { href: `#/audit/${x.seq}`, 'aria-label': `Open record ${x.seq}` }, `#${x.seq}`),
    time(x.ts),
    x.type,
    [x.method, x.route ?? x.operationId].filter(Boolean).join(' ') || '—',
    x.status != null ? String(x.status) : '—',
    x.stage ?? '—',
    x.reason ?? '—',
    ...(personal ? [x.principal ?? '—', x.subject ?? '—', (x.objectIds ?? []).join(', ') || '—'] : []),
  ]);
  const more = r.next !== undefined ? button('Older records', () => run(r.next)) : null;
  replace(results, 
    r.truncated ? h('p', { class: 'notice' }, 'The search stopped at its scan limit: there may be more matches. Narrow the time range.') : '',
    table(`Audit records${applied ? ` (${applied})` : ''}, newest first (${r.records.length})`, headers, rows, { empty: `No records match${applied ? ` ${applied}` : ''}.` }),
    h('div', { class: 'actions' }, more),
  );
}

interface Detail {
  record: Record<string, unknown> & { seq: number; ts: number | string; type: string };
  personal?: Record<string, unknown>;
  trace: { decision?: Record<string, unknown>; completion?: Record<string, unknown> };
  bodies?: { request?: unknown; response?: unknown };
  chain: { leafHash: string; chainHash: string };
}

interface Proof {
  seq: number;
  leafIndex: number;
  treeSize: number;
  leafHash: string;
  rootHash: string;
  proof: string[];
  checkpoint: { treeSize: number; ts: string; note: string };
  ok: boolean;
}

/** Stage → what it checks, for the decision trace (docs/lifecycle.md). */
const STAGES: Record<string, string> = {
  parse: 'request parsing and size limits',
  'address-limit': 'the per-address rate limit',
  route: 'the OpenAPI inventory (only declared operations exist)',
  authenticate: 'authentication (key, token or certificate)',
  scope: 'the scope check',
  'principal-limit': 'per-principal limits and quotas',
  validate: 'schema validation',
  inspect: 'injection and abuse inspection',
  authorize: 'object-level authorization (ownership)',
  ledger: 'the ledger commit',
  proxy: 'the upstream call',
  respond: 'the response controls (contract, DLP)',
  admin: 'the admin plane',
};

function traceStep(title: string, r: Record<string, unknown> | undefined): HTMLElement | null {
  if (!r) return null;
  const stage = typeof r.stage === 'string' ? r.stage : undefined;
  return h(
    'div',
    { class: 'trace-step' },
    h('h3', {}, title),
    facts([
      ['Record', r.seq !== undefined ? h('a', { href: `#/audit/${String(r.seq)}` }, `#${String(r.seq)}`) : undefined],
      ['Outcome', `${String(r.outcome ?? '—')}${r.status != null ? ` (${String(r.status)})` : ''}`],
      ['Decided by stage', stage ? `${stage}${STAGES[stage] ? ` — ${STAGES[stage]}` : ''}` : undefined],
      ['Reason', typeof r.reason === 'string' ? r.reason : undefined],
      ['Detail', r.detail != null ? jsonView(r.detail) : undefined],
    ]),
  );
}

/** A captured body: the stored text shown as text (pre), with what was redacted or masked. */
function bodyView(title: string, b: unknown): HTMLElement | null {
  if (b === undefined || b === null) return null;
  if (typeof b === 'string') return h('div', { class: 'body' }, h('h3', {}, title), h('pre', { tabindex: '0' }, b));
  const o = b as Record<string, unknown>;
  const text = typeof o.stored === 'string' ? o.stored : typeof o.text === 'string' ? o.text : typeof o.body === 'string' ? o.body : undefined;
  const rest = Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'stored' && k !== 'text' && k !== 'body'));
  return h('div', { class: 'body' }, h('h3', {}, title), text !== undefined ? h('pre', { tabindex: '0', 'aria-label': `${title} as stored` }, text) : null, jsonView(rest));
}

export async function recordPage(view: HTMLElement, arg: string): Promise<void> {
  const seq = /^[0-9]{1,15}$/.test(arg) ? arg : undefined;
  if (!seq) {
    replace(view, heading('Record not found'), h('p', {}, h('a', { href: '#/audit' }, 'Back to the audit explorer')));
    return;
  }
  const d = await getJson<Detail>(`/admin/api/audit/records/${seq}`);
  const rec = d.record;
  const { detail, ...fields } = rec;
  const out = h('div', { class: 'verify-result', 'aria-live': 'polite' });
  const proofBox = h('div', { class: 'proof', 'aria-live': 'polite' });

  const verifyBtn = button('Verify chain', async () => {
    replace(out, h('p', {}, 'Verifying the chain…'));
    const r = await postJson<{ ok: boolean; count: number; firstBad?: unknown }>('/admin/api/ledger/verify');
    replace(out, h('p', { class: r.ok ? 'ok' : 'bad' }, r.ok ? `Chain verified: ${r.count} records intact.` : 'Chain verification FAILED.'), r.ok ? null : jsonView(r.firstBad));
    announce(r.ok ? 'Chain verified.' : 'Chain verification failed.');
  });
  const proofBtn = button('Inclusion proof', async () => {
    replace(proofBox, h('p', {}, 'Fetching the proof…'));
    let p: Proof;
    try {
      p = await getJson<Proof>(`/admin/api/audit/records/${seq}/proof`);
    } catch (err) {
      // Not yet covered by a signed checkpoint: offer to sign one now (then ask again).
      if (!(err instanceof ApiError) || err.code !== 'RAMPART_ADMIN_CONFLICT') throw err;
      replace(proofBox, h('p', {}, err.detail), button('Sign a checkpoint now', async () => {
        await postJson('/admin/api/ledger/checkpoint');
        announce('Checkpoint signed.');
        proofBtn.click();
      }));
      return;
    }
    if (!p.ok) {
      replace(proofBox, h('p', { class: 'bad' }, 'The proof does NOT verify: the store contradicts its signed checkpoint.'), jsonView(p));
      announce('Inclusion proof failed.');
      return;
    }
    replace(proofBox, 
      h('p', { class: p.ok ? 'ok' : 'bad' }, p.ok ? `Included: record ${p.seq} is leaf ${p.leafIndex} of the signed tree of size ${p.treeSize}, and the proof verifies.` : 'The proof does NOT verify.'),
      facts([
        ['Leaf hash', h('code', {}, p.leafHash)],
        ['Root hash', h('code', {}, p.rootHash)],
        ['Checkpoint', `tree size ${p.checkpoint.treeSize}, signed ${time(p.checkpoint.ts)}`],
      ]),
      h('h3', {}, `Audit path (${p.proof.length} hashes, RFC 9162 §2.1.3)`),
      p.proof.length ? h('ol', { class: 'hashes' }, ...p.proof.map((x) => h('li', {}, h('code', {}, x)))) : h('p', {}, 'None: the tree has one leaf.'),
      h('details', {}, h('summary', {}, 'Signed checkpoint note'), h('pre', { tabindex: '0' }, p.checkpoint.note)),
    );
    announce(p.ok ? 'Inclusion proof verified.' : 'Inclusion proof failed.');
  });

  replace(view, 
    h('p', {}, h('a', { href: '#/audit' }, 'Back to the results')),
    heading(`Record ${rec.seq}`),
    section(
      'Decision trace',
      h('p', {}, 'Which stage decided this exchange, and why.'),
      d.trace.decision || d.trace.completion ? h('div', { class: 'trace' }, traceStep('Decision', d.trace.decision), traceStep('Completion', d.trace.completion)) : h('p', { class: 'empty' }, 'Not an exchange: no decision trace.'),
    ),
    section('Record', facts(Object.entries(fields).map(([k, v]) => [k, k === 'ts' ? time(v as string) : jsonView(v)] as const)), detail !== undefined ? h('div', {}, h('h3', {}, 'Detail'), jsonView(detail)) : null),
    d.personal ? section('Personal fields', h('p', { class: 'hint' }, 'Shown because your role may see personal data; this viewing is recorded in the ledger.'), jsonView(d.personal)) : null,
    d.bodies && (d.bodies.request !== undefined || d.bodies.response !== undefined)
      ? section('Bodies', h('p', { class: 'hint' }, 'As stored: masked per the DLP policy, as the client received them. This viewing is recorded in the ledger.'), bodyView('Request body', d.bodies.request), bodyView('Response body', d.bodies.response))
      : null,
    section('Integrity', facts([['Leaf hash', h('code', {}, d.chain.leafHash)], ['Chain hash', h('code', {}, d.chain.chainHash)]]), h('div', { class: 'actions' }, verifyBtn, proofBtn), out, proofBox),
  );
}
