/**
 * Stage `inspect`: after validation (so it reads the parsed, validated request: one parse, one
 * truth) and before authorization, every string that will reach the upstream is inspected for
 * injection (ASVS 5.3.4; SSRF API7, ASVS 5.2.6): path parameters, query values, the header
 * parameters the document declares and the headers listed in `inspection.headers`, and JSON or
 * form body keys and string values at any depth. The detector (../threat/inspect) decodes each
 * value (URL, double encoding, HTML entities, unicode escapes) and tokenises it per family.
 *
 * A hit is 400 RAMPART_INJECTION_DETECTED; the decision record and a `security.event` record name
 * the family, the rule and the field (a JSON pointer), never the value. Fields that legitimately
 * carry such text are excepted per operation (`apis[].operations.<id>.inspection.allow`).
 *
 * Also here, because it is a question about what the request asks of the upstream: a list
 * operation's page-size parameter above its cap is 400 RAMPART_PAGE_SIZE_EXCEEDED (API4).
 *
 * Bounded: at most MAX_STRINGS strings per request are inspected; a body with more (a bulk
 * upload) is refused rather than passed on partly inspected (fail closed).
 */
import type { InspectionConfig, InjectionFamilyName, RampartConfig } from '../config/types.js';
import type { Denial, RequestContext } from '../core/context.js';
import { deny, type Stage } from '../core/stage.js';
import type { OperationModel } from '../openapi/types.js';
import { inspectKey, inspectValue, type Finding, type InspectOptions } from '../threat/inspect/index.js';

/** Strings inspected per request at most; a request with more is refused (fail closed). */
export const MAX_STRINGS = 20_000;
const MAX_DEPTH = 64;

type Skip = ReadonlySet<InjectionFamilyName>;
/**
 * What an exception without `families` lets through: every attack family, but not `evasion`
 * (a value still encoded after three decodings, overlong UTF-8, over the length cap), which an
 * exception must name; an internal error of the inspector is refused whatever is excepted.
 */
const ALL: Skip = new Set<InjectionFamilyName>(['sqli', 'xss', 'command', 'traversal', 'ldap', 'xpath', 'nosql', 'prototype-pollution', 'crlf', 'ssrf']);

interface Exception {
  where: 'path' | 'query' | 'header' | 'body';
  /** path/query/header name (lower-case for headers), or body pointer segments with `*`. */
  name?: string;
  segments?: string[];
  skip: Skip;
}

interface OpPlan {
  exceptions: Exception[];
  headers: string[];
  pageSize?: { param: string; max: number };
}

class Refused {
  constructor(readonly finding: Finding | 'too-many', readonly field: string) {}
}

export function createInspectStage(cfg: InspectionConfig, responses: RampartConfig['responses']): Stage {
  const globalSkip: Skip = new Set(cfg.skip);
  const configured = cfg.headers.map((h) => h.toLowerCase());
  const plans = new WeakMap<OperationModel, OpPlan>();

  const planFor = (ctx: RequestContext): OpPlan => {
    const op = ctx.operation!;
    let p = plans.get(op);
    if (!p) {
      const o = ctx.api!.config.operations[op.id];
      const exceptions: Exception[] = (o?.inspection?.allow ?? []).map((a) => {
        const skip: Skip = a.families ? new Set(a.families) : ALL;
        if (a.field.startsWith('body')) {
          const rest = a.field === 'body' ? '' : a.field.slice(5);
          return { where: 'body', segments: rest === '' ? [] : rest.split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')), skip };
        }
        const dot = a.field.indexOf('.');
        const where = a.field.slice(0, dot) as 'path' | 'query' | 'header';
        const name = a.field.slice(dot + 1);
        return { where, name: where === 'header' ? name.toLowerCase() : name, skip };
      });
      const headers = [...new Set([...op.parameters.header, ...configured])];
      const pageParam = op.pageSizeParam;
      p = { exceptions, headers, ...(pageParam ? { pageSize: { param: pageParam, max: o?.maxPageSize ?? responses.maxPageSize } } : {}) };
      plans.set(op, p);
    }
    return p;
  };

  return {
    name: 'inspect',
    run(ctx) {
      const plan = planFor(ctx);
      if (plan.pageSize) {
        const v = ctx.query?.[plan.pageSize.param];
        if (typeof v === 'number' && v > plan.pageSize.max) {
          return deny('RAMPART_PAGE_SIZE_EXCEEDED', { pointer: `/query/${plan.pageSize.param}`, detail: `at most ${plan.pageSize.max} per page` });
        }
      }
      if (!cfg.enabled) return undefined;
      try {
        inspectRequest(ctx, plan, globalSkip);
      } catch (err) {
        if (err instanceof Refused) return refusal(err);
        throw err;
      }
      return undefined;
    },
  };
}

function refusal(r: Refused): Denial {
  if (r.finding === 'too-many') {
    return deny('RAMPART_INJECTION_DETECTED', { pointer: r.field, detail: 'too many fields to inspect', cause: 'too-many-strings', event: { name: 'injection', detail: { family: 'limit', rule: 'too-many-strings', field: r.field } } });
  }
  const f = r.finding;
  return deny('RAMPART_INJECTION_DETECTED', {
    pointer: r.field,
    // The family is safe to say; the rule and the decoding stay in the record.
    detail: `the value at ${r.field} was refused (${f.family})`,
    cause: `${f.family}:${f.rule}`,
    event: { name: 'injection', detail: { family: f.family, rule: f.rule, via: f.via, field: r.field } },
  });
}

function inspectRequest(ctx: RequestContext, plan: OpPlan, globalSkip: Skip): void {
  const budget = { left: MAX_STRINGS };
  const skipFor = (where: Exception['where'], name: string): Skip => {
    let skip = globalSkip;
    for (const e of plan.exceptions) if (e.where === where && e.name === name) skip = union(skip, e.skip);
    return skip;
  };
  const check = (value: string, opts: InspectOptions, field: string): void => {
    if (--budget.left < 0) throw new Refused('too-many', field);
    const f = inspectValue(value, opts);
    if (f) throw new Refused(f, field);
  };
  for (const [name, v] of Object.entries(ctx.pathParams ?? {})) {
    check(v, { location: 'path', skip: skipFor('path', name) }, `/path/${safeSegment(name)}`);
  }
  if (ctx.query) {
    for (const [name, v] of Object.entries(ctx.query)) {
      walkValue(v, `/query/${safeSegment(name)}`, 0, (s, field, isKey) => {
        if (isKey) return keyCheck(s, skipFor('query', name), field, budget);
        check(s, { location: 'query', skip: skipFor('query', name) }, field);
      });
    }
  }
  for (const h of plan.headers) {
    const v = ctx.req.headers[h];
    if (v === undefined || ctx.credentialHeaders?.includes(h)) continue;
    const skip = skipFor('header', h);
    if (Array.isArray(v)) v.forEach((x, i) => check(x, { location: 'header', skip }, `/header/${h}/${i}`));
    else check(v, { location: 'header', skip }, `/header/${h}`);
  }
  if (ctx.json !== undefined) {
    const bodyExceptions = plan.exceptions.filter((e) => e.where === 'body');
    const location: InspectOptions['location'] = isForm(ctx) ? 'form' : 'body';
    // The field's pointer is built only for a refusal: this walk runs over every body.
    walkBody(ctx.json, [], 0, (s, path, isKey) => {
      let skip = globalSkip;
      for (const e of bodyExceptions) if (matches(e.segments!, path)) skip = union(skip, e.skip);
      if (--budget.left < 0) throw new Refused('too-many', bodyField(path));
      const f = isKey ? inspectKey(s, { skip }) : inspectValue(s, { location, skip });
      if (f) throw new Refused(f, bodyField(path));
    });
  }
}

function bodyField(path: readonly string[]): string {
  return `/body${path.map((p) => `/${safeSegment(p)}`).join('')}`;
}

/**
 * A pointer segment as it may be shown: the client's own key names go back in the problem and
 * into the records, so a key that is not a plain name (it may be the attack itself: `$where`,
 * `__proto__`, markup) is shown as `*`.
 */
function safeSegment(s: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(s) && s !== '__proto__' ? s : '*';
}

function keyCheck(key: string, skip: Skip, field: string, budget: { left: number }): void {
  if (--budget.left < 0) throw new Refused('too-many', field);
  const f = inspectKey(key, { skip });
  if (f) throw new Refused(f, field);
}

function isForm(ctx: RequestContext): boolean {
  const ct = ctx.req.headers['content-type'];
  return typeof ct === 'string' && ct.toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/** Query values: strings, arrays of strings, objects (deepObject style). */
function walkValue(v: unknown, field: string, depth: number, visit: (s: string, field: string, isKey: boolean) => void): void {
  if (typeof v === 'string') return visit(v, field, false);
  if (depth >= MAX_DEPTH || v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    v.forEach((x, i) => walkValue(x, `${field}/${i}`, depth + 1, visit));
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    const f = `${field}/${safeSegment(k)}`;
    visit(k, f, true);
    walkValue(x, f, depth + 1, visit);
  }
}

/** JSON body: every key and every string, with the path of segments for exceptions. */
function walkBody(v: unknown, path: string[], depth: number, visit: (s: string, path: string[], isKey: boolean) => void): void {
  if (typeof v === 'string') return visit(v, path, false);
  if (v === null || typeof v !== 'object') return;
  // Validation bounded the depth already (the strict JSON parser); this is a second fence.
  if (depth >= MAX_DEPTH) throw new Refused('too-many', bodyField(path));
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      path.push(String(i));
      walkBody(v[i], path, depth + 1, visit);
      path.pop();
    }
    return;
  }
  for (const k of Object.keys(v)) {
    path.push(k);
    visit(k, path, true);
    walkBody((v as Record<string, unknown>)[k], path, depth + 1, visit);
    path.pop();
  }
}

/** An exception pointer matches the value at `path` (a key is checked at its value's location), `*` for any array item or key. */
function matches(segments: readonly string[], path: readonly string[]): boolean {
  if (segments.length !== path.length) return false;
  for (let i = 0; i < segments.length; i++) if (segments[i] !== '*' && segments[i] !== path[i]) return false;
  return true;
}

function union(a: Skip, b: Skip): Skip {
  if (a.size === 0) return b;
  if (b === ALL || a === ALL) return ALL;
  return new Set([...a, ...b]);
}
