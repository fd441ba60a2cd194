/**
 * The console's only way to build DOM: elements from createElement, text from text nodes.
 * Data shown here comes from the ledger (paths, headers, bodies an attacker chose), so nothing
 * is ever parsed as HTML: there is no innerHTML, no insertAdjacentHTML, no attribute named on*
 * taking a string (issue 7: output encoding everywhere; the CSP's script-src 'self' is the
 * second wall, not the first).
 */

export type Child = Node | string | number | false | null | undefined | readonly Child[];

export interface Attrs {
  [name: string]: string | number | boolean | undefined | null | EventListener | Record<string, EventListener>;
}

/** Attribute names that can carry a URL to navigate to or load: only same-origin, blob: or data:image values. */
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);

function safeUrl(v: string): boolean {
  // Hash routes, absolute paths on this origin, blob: URLs we made, data: images (the QR code).
  return /^(#|\/(?!\/)|blob:|data:image\/(png|svg\+xml);)/.test(v);
}

function setAttrs(el: Element, attrs: Attrs | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on' && typeof v === 'object') {
      for (const [ev, fn] of Object.entries(v as Record<string, EventListener>)) el.addEventListener(ev, fn);
      continue;
    }
    // Inline handlers would be refused by the CSP anyway; refusing them here keeps the code honest.
    if (/^on/i.test(k)) throw new TypeError(`h(): use attrs.on for event ${k}`);
    if (k === 'style' || k === 'innerHTML' || k === 'outerHTML') throw new TypeError(`h(): ${k} is not allowed`);
    if (typeof v === 'function') throw new TypeError(`h(): ${k} cannot be a function`);
    const text = v === true ? '' : String(v);
    if (URL_ATTRS.has(k.toLowerCase()) && !safeUrl(text)) throw new TypeError(`h(): refused URL in ${k}`);
    el.setAttribute(k, text);
  }
}

function append(el: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c as readonly Child[]);
    else if (typeof c === 'string' || typeof c === 'number') el.appendChild(document.createTextNode(String(c)));
    else el.appendChild(c as Node);
  }
}

/** An HTML element: h('button', { type: 'button', on: { click } }, 'Revoke'). Strings become text. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element (charts): the same rules, in the SVG namespace. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces every child of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}
