/**
 * Cross-site scripting (ASVS 5.3.3/5.3.4, CWE-79): markup or URLs that execute script when an
 * upstream or a later page echoes the value into HTML. A small HTML tokenizer finds each tag the
 * way a browser starts one (`<` then a letter, `</`, `<!`), reads its attributes (separated by
 * whitespace or `/`, quoted or not) and flags what executes:
 *
 *   xss.tag              tags that run or load code whatever their attributes: script, iframe,
 *                        frame(set), object, embed, applet, base, meta, link, style, svg, math,
 *                        template, xml, portal, import, isindex, bgsound, layer/ilayer, xss
 *   xss.event-handler    any `on*=` attribute in a tag (`<img src=x onerror=…>`, `<x onclick=…>`),
 *                        or after a quote that closes an attribute (`" onmouseover="…`), or bare
 *                        `onload=alert(1)` as in an unquoted attribute
 *   xss.js-url           `javascript:`/`vbscript:`/`livescript:` followed by code, with the
 *                        tabs and newlines browsers ignore inside the scheme (`java\tscript:`),
 *                        and `data:text/html`, `data:image/svg+xml` and other scriptable data URLs
 *   xss.srcdoc           a `srcdoc=` attribute (an inline document)
 *   xss.css              CSS that runs code: `expression(`, `behavior:url(`, `-moz-binding`,
 *                        `url(javascript:`, `@import`
 *   xss.template         template injection probes: `{{constructor…}}`, `{{7*7}}`, `${7*7}`,
 *                        `#{7*7}`, `<%= … %>`
 *   xss.xml-entity       XML external entities (`<!ENTITY … SYSTEM`, `<!DOCTYPE x [`): XXE is
 *                        not XSS, but it is markup that must not reach an XML upstream
 *
 * Benign markup (`<b>`, `<p>`, `<a href="https://…">`), comparisons ("a < b", "<3") and prose
 * about JavaScript ("JavaScript: the good parts") pass. Input is lower-cased by the caller; the
 * decoding variants (entities, percent, `\u003c`) are produced by decode.ts.
 */

const DANGEROUS_TAGS = new Set([
  'script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'meta', 'link', 'style', 'svg', 'math',
  'template', 'xml', 'portal', 'import', 'isindex', 'bgsound', 'layer', 'ilayer', 'xss', 'noscript', 'noembed', 'listing',
  'xmp', 'plaintext', 'handler', 'vmlframe', 'animate', 'set', 'animatetransform', 'animatemotion', 'foreignobject', 'use',
]);

/** Letters joined by the characters URL parsers drop inside a scheme (tab, LF, CR; NUL for old browsers). */
function schemePattern(word: string): string {
  return word.split('').join('[\\t\\n\\r\\x00]*');
}
// A scheme that runs code, then something that is code (an identifier called, a tagged template,
// a property, punctuation, an escape) or the end of the value. The scheme must not be glued to a
// scheme character before it. This was `(?:^|[^a-z0-9\-+.])[\x00-\x20]*` in front of the scheme,
// which is quadratic on a long run of tabs or newlines (every character of the run starts a new
// scan of it, API4); since the run's own characters are outside that class, looking at the one
// character before the scheme accepts the same values (test/unit/redos-xss.test.ts).
// eslint-disable-next-line security/detect-non-literal-regexp -- constant source: schemePattern of three literal words, no configuration or request data
const JS_URL = new RegExp(`(?<![a-z0-9\\-+.])(?:${schemePattern('javascript')}|${schemePattern('vbscript')}|${schemePattern('livescript')})[\\x00-\\x20]*:[\\x00-\\x20]*(?:$|[^\\s\\w]|[a-z_$][\\w$]*\\s*[(\`=.\\[])`);
const DATA_URL = /data\s*:\s*(?:text\/html|text\/xml|text\/javascript|text\/ecmascript|text\/vbscript|image\/svg\+xml|application\/(?:xhtml\+xml|javascript|x-javascript|ecmascript|xml|x-shockwave-flash))/;
// `\s*\/?[\s/]*` (the former spelling) is the same language as `[\s/]*`, but let a run of blanks
// split three ways: cubic on a quote, 100k spaces and `on=` (API4; test/unit/redos-xss.test.ts).
const ATTR_BREAKOUT = /["'`][\s/]*on[a-z]{3,}\s*=/;
const BARE_HANDLER = /(?:^|[\s/;])on[a-z]{3,}\s*=\s*(?:["'`]|[a-z_$][\w$.]*\s*[(`=])/;
const CSS = /:\s*expression\s*\(|\bexpression\s*\(\s*(?:alert|prompt|confirm|eval|document|window|this)|behavior\s*:\s*url\s*\(|-moz-binding\s*:|url\s*\(\s*["']?\s*(?:javascript|vbscript)\s*:|@import\s+(?:url\s*\(|["'])/;
const TEMPLATE = /\{\{[^{}]{0,200}?(?:constructor|__proto__|\$eval|\$on\b|alert\s*\(|prompt\s*\(|confirm\s*\(|\d+\s*\*\s*\d+|\.__class__|__globals__|__builtins__|__subclasses__|\bself\b|\bconfig\b|request\.|lipsum|cycler|joiner|\brange\s*\(|\bimport\b)|[$#]\{\s*\d+\s*\*\s*\d+\s*\}|<%=?[^%]{0,200}%>/;
const XML_ENTITY = /<!entity\s|<!doctype\s+[\w:-]+\s*(?:\[|system|public)/;

/**
 * The XSS rule `lower` (a lower-cased variant) triggers, or undefined.
 *
 * @example
 * detectXss('<img src=x onerror=alert(1)>'); // 'xss.event-handler'
 * detectXss('<b>bold</b> and a < b'); // undefined
 */
export function detectXss(lower: string): string | undefined {
  if (lower.includes('<')) {
    const t = scanTags(lower);
    if (t) return t;
  }
  if (lower.includes('=')) {
    if (lower.includes('on') && (ATTR_BREAKOUT.test(lower) || BARE_HANDLER.test(lower))) return 'xss.event-handler';
    if (lower.includes('srcdoc') && /(?:^|[\s"'/])srcdoc\s*=/.test(lower)) return 'xss.srcdoc';
  }
  if (lower.includes(':')) {
    // the scheme may be split by tabs or newlines (`java\tscript:`): then there is a control char
    if ((lower.includes('script') || /[\t\n\r\0]/.test(lower)) && JS_URL.test(lower)) return 'xss.js-url';
    if (lower.includes('data') && DATA_URL.test(lower)) return 'xss.js-url';
  }
  if (/expression|behavior|binding|url|@import/.test(lower) && CSS.test(lower)) return 'xss.css';
  if ((lower.includes('{') || lower.includes('<%')) && TEMPLATE.test(lower)) return 'xss.template';
  return undefined;
}

function isAlpha(c: number): boolean {
  return c >= 97 && c <= 122;
}
function isTagSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 12 || c === 13;
}

/** Walks every `<` that starts a tag; linear: each tag's scan ends where the next search starts. */
function scanTags(s: string): string | undefined {
  const n = s.length;
  let i = s.indexOf('<');
  while (i !== -1 && i < n - 1) {
    let j = i + 1;
    const c = s.charCodeAt(j);
    if (c === 33) {
      // <!entity, <!doctype …[
      if (XML_ENTITY.test(s.slice(i, i + 200))) return 'xss.xml-entity';
      i = s.indexOf('<', j);
      continue;
    }
    if (c === 47) j++;
    const nameStart = j;
    if (!isAlpha(s.charCodeAt(j))) {
      i = s.indexOf('<', i + 1);
      continue;
    }
    while (j < n) {
      const d = s.charCodeAt(j);
      if (isTagSpace(d) || d === 47 || d === 62 || d === 60 || d === 0) break;
      j++;
    }
    const name = s.slice(nameStart, j);
    const bare = name.replace(/[^a-z0-9:-].*$/, '');
    if (DANGEROUS_TAGS.has(bare) || DANGEROUS_TAGS.has(name.replace(/^[a-z]+:/, ''))) return 'xss.tag';
    // attributes
    while (j < n) {
      let d = s.charCodeAt(j);
      while (j < n && (isTagSpace(d) || d === 47 || d === 0)) d = s.charCodeAt(++j);
      if (j >= n || d === 62 || d === 60) break;
      const an = j;
      while (j < n) {
        d = s.charCodeAt(j);
        if (isTagSpace(d) || d === 47 || d === 62 || d === 60 || (d === 61 && j > an)) break;
        j++;
      }
      const attr = s.slice(an, j);
      if (attr.length === 0) {
        j++;
        continue;
      }
      while (j < n && isTagSpace(s.charCodeAt(j))) j++;
      let value = '';
      const hasValue = s.charCodeAt(j) === 61;
      if (hasValue) {
        j++;
        while (j < n && isTagSpace(s.charCodeAt(j))) j++;
        const q = s.charCodeAt(j);
        if (q === 34 || q === 39 || q === 96) {
          const end = s.indexOf(String.fromCharCode(q), j + 1);
          value = s.slice(j + 1, end === -1 ? n : end);
          j = end === -1 ? n : end + 1;
        } else {
          const vs = j;
          while (j < n && !isTagSpace(s.charCodeAt(j)) && s.charCodeAt(j) !== 62) j++;
          value = s.slice(vs, j);
        }
      }
      if (hasValue && /^on[a-z]/.test(attr)) return 'xss.event-handler';
      if (hasValue && attr === 'srcdoc') return 'xss.srcdoc';
      if (attr === 'style' && CSS.test(value)) return 'xss.css';
      if (value.includes(':') && (JS_URL.test(value) || DATA_URL.test(value))) return 'xss.js-url';
    }
    i = s.indexOf('<', Math.max(j, i + 1));
  }
  return undefined;
}
