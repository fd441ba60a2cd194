/**
 * XML 1.0 text and attribute escaping for the JUnit report. Characters XML 1.0 cannot carry at
 * all (C0 controls other than tab, LF, CR; lone surrogates; U+FFFE/U+FFFF) are replaced by U+FFFD,
 * because evidence holds text a server sent and one such byte would make the whole file unreadable
 * to a CI system (XML 1.0 §2.2 Char).
 */
// eslint-disable-next-line no-control-regex
const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function xmlText(s: string): string {
  return s.replace(NOT_XML_CHAR, '\ufffd').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** For a double-quoted attribute: also quotes, and tab/LF/CR as references (attribute normalisation would turn them into spaces). */
export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}
