/**
 * Small building blocks shared by the pages: headings that take focus on navigation, labelled
 * fields, tables with captions, confirmation dialogs, busy buttons. Every piece is text-only
 * (./h.ts) and keyboard-usable (native controls, <dialog> for modals).
 */
import { h, type Child } from './h.js';
import { alertError, announce } from './status.js';
import { describe } from './api.js';

let ids = 0;
export function uid(prefix: string): string {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** The page's h1; the router moves focus to it so screen readers hear where they are. */
export function heading(text: string): HTMLHeadingElement {
  return h('h1', { tabindex: '-1', class: 'page-title' }, text);
}

export interface FieldOptions {
  type?: string;
  name?: string;
  required?: boolean;
  value?: string;
  placeholder?: string;
  autocomplete?: string;
  inputmode?: string;
  hint?: string;
  min?: string;
  max?: string;
  pattern?: string;
}

/** A labelled input; returns the wrapper and the input. */
export function field(label: string, o: FieldOptions = {}): { el: HTMLElement; input: HTMLInputElement } {
  const id = uid('f');
  const hintId = o.hint ? `${id}-hint` : undefined;
  const input = h('input', {
    id,
    name: o.name ?? id,
    type: o.type ?? 'text',
    required: o.required,
    value: o.value,
    placeholder: o.placeholder,
    autocomplete: o.autocomplete ?? 'off',
    inputmode: o.inputmode,
    min: o.min,
    max: o.max,
    pattern: o.pattern,
    spellcheck: 'false',
    'aria-describedby': hintId,
  });
  const el = h('div', { class: 'field' }, h('label', { for: id }, label), input, o.hint ? h('p', { id: hintId, class: 'hint' }, o.hint) : null);
  return { el, input };
}

/** A labelled select. */
export function select(label: string, options: readonly (string | [string, string])[], value = ''): { el: HTMLElement; input: HTMLSelectElement } {
  const id = uid('s');
  const input = h('select', { id, name: id }, ...options.map((o) => {
    const [v, t] = typeof o === 'string' ? [o, o || '(any)'] : o;
    return h('option', { value: v, selected: v === value }, t);
  }));
  return { el: h('div', { class: 'field' }, h('label', { for: id }, label), input), input };
}

/** A table with a caption (screen readers announce it) and column headers with scope. */
export function table(caption: string, headers: readonly string[], rows: readonly (readonly Child[])[], o: { empty?: string; captionHidden?: boolean } = {}): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, o.empty ?? 'Nothing to show.');
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', o.captionHidden ? { class: 'visually-hidden' } : {}, caption),
      h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))),
    ),
  );
}

/** A definition list of label → value pairs (absent values are left out). */
export function facts(pairs: readonly (readonly [string, Child])[]): HTMLDListElement {
  return h('dl', { class: 'facts' }, ...pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** Any JSON value as nested lists of text: for shapes the console does not know in advance. */
export function jsonView(v: unknown, depth = 0): Child {
  if (v === null || v === undefined) return h('span', { class: 'muted' }, '—');
  if (typeof v !== 'object') return String(v);
  if (depth > 6) return h('code', {}, JSON.stringify(v));
  if (Array.isArray(v)) {
    if (v.length === 0) return h('span', { class: 'muted' }, '(none)');
    if (v.every((x) => typeof x !== 'object' || x === null)) return h('span', {}, v.map((x) => String(x)).join(', '));
    return h('ol', { class: 'json' }, ...v.map((x) => h('li', {}, jsonView(x, depth + 1))));
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return h('span', { class: 'muted' }, '(empty)');
  return h('dl', { class: 'json' }, ...entries.flatMap(([k, x]) => [h('dt', {}, k), h('dd', {}, jsonView(x, depth + 1))]));
}

/** UTC, to the second (AU-8: one time zone everywhere). */
export function time(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A datetime-local value read as UTC (the labels say UTC) → ISO 8601. */
export function utcInput(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(`${value}${value.length === 16 ? ':00' : ''}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** An ISO time → the datetime-local value in UTC. */
export function toUtcInput(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

export function button(text: string, onClick: (ev: MouseEvent) => void | Promise<void>, attrs: Record<string, string | boolean | undefined> = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', ...attrs }, text);
  b.addEventListener('click', (ev) => void busy(b, () => onClick(ev)));
  return b;
}

/** Runs `fn` with the control disabled and aria-busy; errors go to the alert region. */
export async function busy(el: HTMLButtonElement | HTMLFormElement, fn: () => void | Promise<void>): Promise<void> {
  const ctl = el instanceof HTMLFormElement ? (el.querySelector('button[type="submit"]') as HTMLButtonElement | null) : el;
  if (ctl?.disabled) return;
  if (ctl) ctl.disabled = true;
  el.setAttribute('aria-busy', 'true');
  try {
    await fn();
  } catch (err) {
    alertError(describe(err));
  } finally {
    if (ctl) ctl.disabled = false;
    el.removeAttribute('aria-busy');
  }
}

/** A form whose submit runs `fn` (Enter submits; the button is disabled while it runs). */
export function form(label: string, children: Child[], submitText: string, fn: (f: HTMLFormElement) => void | Promise<void>, attrs: Record<string, string> = {}): HTMLFormElement {
  const f = h('form', { 'aria-label': label, novalidate: false, ...attrs }, ...children, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, submitText)));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(f, () => fn(f));
  });
  return f;
}

/** A modal question (native <dialog>: focus is trapped, Escape cancels). */
export function confirmDialog(question: string, o: { confirmText?: string; detail?: string; danger?: boolean } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const yes = h('button', { type: 'submit', value: 'yes', class: o.danger ? 'danger' : 'primary' }, o.confirmText ?? 'Confirm');
    const no = h('button', { type: 'submit', value: 'no' }, 'Cancel');
    const dlg = h('dialog', { 'aria-labelledby': titleId, class: 'modal' }, h('form', { method: 'dialog' }, h('h2', { id: titleId }, question), o.detail ? h('p', {}, o.detail) : null, h('div', { class: 'actions' }, no, yes)));
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(dlg.returnValue === 'yes');
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    no.focus();
  });
}

/** A value shown once (a key's secret, recovery codes): selectable, with a copy button. */
export function secretOnce(label: string, value: string): HTMLElement {
  const id = uid('secret');
  const out = h('input', { id, type: 'text', readonly: true, value, class: 'secret', spellcheck: 'false', autocomplete: 'off' });
  const copy = button('Copy', async () => {
    await navigator.clipboard.writeText(value);
    announce(`${label} copied to the clipboard.`);
  });
  return h('div', { class: 'secret-once', role: 'group', 'aria-labelledby': `${id}-l` }, h('label', { id: `${id}-l`, for: id }, label), h('div', { class: 'row' }, out, copy), h('p', { class: 'warn' }, 'Shown once: copy it now. It cannot be shown again.'));
}

export function section(title: string, ...children: Child[]): HTMLElement {
  const id = uid('sec');
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

export { announce, alertError };
