/**
 * What a DLP policy means for callers holding one combination of its reveal scopes (API3, FC-3):
 * the detector table, and the class and classification-state decisions, filled in as they are
 * met. A policy names a handful of reveal scopes (pii:read, pci:read...), so the views are few and
 * shared by every request: a request pays for a few Set lookups to find its view, not for
 * rebuilding tables (DESIGN: nothing on the hot path recomputes what can be cached).
 */
import type { ClassState } from '../../openapi/classification.js';
import { KIND_BIT, type DetectKind, type KindSet } from './detectors.js';
import { actionRank, ruleFor, type DlpAction, type DlpPolicy } from './policy.js';

/** What a class or kind means for these callers. */
export interface Effective {
  action: DlpAction;
  /** A reveal scope lifted a non-none action. */
  revealed: boolean;
}

/** A classification state's own classes for these callers. */
export interface StateInfo {
  /** The strongest action among them, and the class that carries it. */
  action: DlpAction;
  cls: string;
  /** Own classes a reveal scope lifted (counted at each value). */
  revealed: readonly string[];
}

const NONE_EFFECTIVE: Effective = { action: 'none', revealed: false };

/**
 * What a policy means for callers holding one combination of its reveal scopes: the detector
 * table, and the class and state decisions filled in as they are met. Shared by every request of
 * that combination (a policy names a handful of reveal scopes), so a request pays for a few Set
 * lookups, not for rebuilding tables.
 */
export class View {
  readonly kindEff = new Map<DetectKind, Effective | false>();
  /** Detector kinds that run (active or revealed, for counting). */
  readonly kindsOn: KindSet;
  readonly hintsOn: boolean;
  readonly secretAction: DlpAction;
  private readonly effective = new Map<string, Effective>();
  private readonly states = new WeakMap<ClassState, StateInfo>();

  constructor(
    private readonly policy: DlpPolicy,
    private readonly holds: (scope: string) => boolean,
  ) {
    let on = 0;
    for (const [kind, rule] of policy.detect) {
      if (rule === false) {
        this.kindEff.set(kind, false);
        continue;
      }
      const revealed = rule.action !== 'none' && rule.reveal.some(holds);
      if (rule.action === 'none') {
        this.kindEff.set(kind, false);
        continue;
      }
      this.kindEff.set(kind, { action: revealed ? 'none' : rule.action, revealed });
      on |= KIND_BIT[kind];
    }
    this.kindsOn = on;
    this.hintsOn = policy.keyNames && on !== 0;
    this.secretAction = ruleFor(policy, 'secret').action;
  }

  eff(cls: string): Effective {
    let e = this.effective.get(cls);
    if (e === undefined) {
      const rule = ruleFor(this.policy, cls);
      if (cls === 'secret') e = { action: rule.action, revealed: false };
      else {
        const revealed = rule.action !== 'none' && rule.reveal.some(this.holds);
        e = revealed ? { action: 'none', revealed: true } : rule.action === 'none' ? NONE_EFFECTIVE : { action: rule.action, revealed: false };
      }
      // Class names come from the API documents (bounded); the bound is a guard.
      if (this.effective.size < 4096) this.effective.set(cls, e);
    }
    return e;
  }

  /** The strongest action among `classes` (the first class listed wins a tie). */
  strongest(classes: readonly string[]): { action: DlpAction; cls: string } {
    let best: DlpAction = 'none';
    let cls = classes[0] ?? '';
    for (let i = 0; i < classes.length; i++) {
      const c = classes[i]!;
      const a = this.eff(c).action;
      if (actionRank(a) > actionRank(best)) {
        best = a;
        cls = c;
      }
    }
    return { action: best, cls };
  }

  /** A state's own classes for these callers, computed once per state. */
  stateInfo(state: ClassState): StateInfo {
    let info = this.states.get(state);
    if (info === undefined) {
      const { action, cls } = this.strongest(state.classes);
      info = { action, cls, revealed: state.classes.filter((c) => this.eff(c).revealed) };
      this.states.set(state, info);
    }
    return info;
  }
}

/** Per policy: its distinct reveal scopes, and the views by which of them a caller holds. */
interface ViewCache {
  scopes: readonly string[];
  byMask: Map<number, View>;
}
const viewCaches = new WeakMap<DlpPolicy, ViewCache>();
const MAX_VIEWS = 256;

/**
 * The view of `policy` for a caller holding `scopes`.
 *
 * @example
 * const v = viewFor(policy, new Set(['pii:read']));
 * v.eff('ssn'); // { action: 'none', revealed: true }
 */
export function viewFor(policy: DlpPolicy, scopes: ReadonlySet<string>): View {
  let cache = viewCaches.get(policy);
  if (cache === undefined) {
    const all = new Set<string>(policy.otherClasses.reveal);
    for (const r of policy.classes.values()) for (const sc of r.reveal) all.add(sc);
    for (const r of policy.detect.values()) if (r) for (const sc of r.reveal) all.add(sc);
    cache = { scopes: [...all], byMask: new Map() };
    viewCaches.set(policy, cache);
  }
  const held = (sc: string): boolean => scopes.has(sc);
  if (cache.scopes.length > 30) return new View(policy, held); // too many to key by a mask: no sharing
  let mask = 0;
  for (let i = 0; i < cache.scopes.length; i++) if (scopes.has(cache.scopes[i]!)) mask |= 1 << i;
  let view = cache.byMask.get(mask);
  if (view === undefined) {
    const names = new Set(cache.scopes.filter((_, i) => (mask & (1 << i)) !== 0));
    view = new View(policy, (sc) => names.has(sc));
    if (cache.byMask.size < MAX_VIEWS) cache.byMask.set(mask, view);
  }
  return view;
}

