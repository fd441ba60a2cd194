/**
 * Path traversal and file inclusion (ASVS 5.3.9 / 12.3.1, CWE-22, CWE-98): a value that an
 * upstream might join to a directory or open as a file must not climb out of it, name a sensitive
 * file, or use a file-reading URL scheme. Works on the decoded variants (so `%2e%2e%2f`,
 * `..%252f`, `%c0%ae%c0%ae/` and `..%u2215` are covered) and treats the Unicode slashes that
 * best-fit conversions turn into `/` or `\` as separators.
 *
 * Rules (`traversal.` prefix):
 *   dot-dot     a `..` segment: `../`, `..\`, `..;/`, a value that is `..`, and the filter-bypass
 *               forms `....//` and `..././`
 *   sensitive   absolute paths to system files and secrets: /etc/passwd, /etc/shadow, /proc/self/,
 *               ~/.ssh/, C:\Windows\, boot.ini, win.ini, WEB-INF/web.xml, .htpasswd, .env …
 *   scheme      file://, php://, phar://, zip://, expect://, glob://, jar:, netdoc:, data:// …
 *   nul         a NUL character (raw or decoded): truncates a path in C-based file APIs
 *   unc         a UNC path `\\host\share` (NTLM credential leak, remote file)
 * Ordinary text passes: dates "12/05/2024", "and/or", an ellipsis "wait...", relative names
 * "reports/2024/q1.pdf".
 */

const DOT_DOT = /(?:^|[\\/])\.\.;?(?:[\\/]|$)|(?:^|[\\/])\.{3,}[\\/]|(?:^|[\\/])\.\.\.?[\\/]\.?[\\/]/;
// Built from the literal alternatives below (no input in it); joined for readability.
// eslint-disable-next-line security/detect-non-literal-regexp -- constant source: the array of literals below, no configuration or request data
const SENSITIVE = new RegExp(
  [
    '(?:^|[^a-z0-9_.-])\\/?etc[\\\\/]+(?:passwd|shadow|group|hosts|issue|hostname|sudoers|crontab|fstab|mtab|motd|profile|bashrc|ssh|ssl|nginx|apache2?|httpd|mysql|my\\.cnf|resolv\\.conf|environment|master\\.passwd|security|pam\\.d|network|sysconfig|php)',
    '\\/proc\\/(?:self|\\d+|version|cmdline|environ|net|sched_debug|mounts)',
    '\\/(?:root|home\\/[^/\\s]+)\\/\\.(?:ssh|bash_history|aws|docker|kube|gnupg|npmrc|netrc|git-credentials)',
    '\\.ssh[\\\\/](?:id_[a-z0-9]+|authorized_keys|known_hosts|config)',
    '\\/var\\/(?:log|run\\/secrets|lib\\/mysql)',
    '\\/(?:usr\\/local\\/)?(?:apache2?|nginx|httpd)\\/(?:conf|logs)',
    '\\/dev\\/(?:tcp|udp|shm|stdin|fd\\/)',
    '\\/run\\/secrets\\/',
    '\\/\\.(?:env|git\\/config|git\\/head|aws\\/credentials|docker\\/config\\.json|npmrc|htpasswd|htaccess)\\b',
    '\\bweb-inf[\\\\/]+(?:web\\.xml|classes|lib)',
    '\\bmeta-inf[\\\\/]+manifest',
    '\\b[a-z]:[\\\\/]+(?:windows|winnt|boot\\.ini|inetpub|users[\\\\/]+[^\\\\/]+[\\\\/]+(?:appdata|ntuser)|system32|autoexec|pagefile|hiberfil)',
    '[\\\\/](?:windows|winnt)[\\\\/]+(?:system32|win\\.ini|system\\.ini|repair|debug|panther|php\\.ini|microsoft\\.net)',
    '[\\\\/](?:boot\\.ini|win\\.ini|system\\.ini|web\\.config|applicationhost\\.config|wp-config\\.php|config\\.php|\\.htpasswd|\\.htaccess|php\\.ini|my\\.ini)$',
  ].join('|'),
);
const SCHEME = /(?:^|[^a-z0-9+.-])(?:file|php|phar|zip|compress\.zlib|compress\.bzip2|expect|glob|ogg|rar|ssh2|data|netdoc|jar|zip|gopher)\s*:\s*\/\/|(?:^|[^a-z0-9+.-])(?:jar|netdoc):[a-z]+:/;
// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored at ^, and `[a-z0-9._-]+` cannot match the '@' or '\\' that follow it, so no input has two ways to match
const UNC = /^\s*\\\\[a-z0-9._-]+(?:@ssl)?(?:@\d+)?\\[^\\]/;

const WEB_ROOT = '/var/www/html/';
const WHITESPACE = /\s/g;

/**
 * A script or .env file under the default web root: `/var/www/html/` followed, within the same
 * run of non-whitespace, by `.php` or `.env`. As the regex `\/var\/www\/html\/[^\s]*\.(?:php|env)`
 * in SENSITIVE this was quadratic (every occurrence re-scanned the rest of the run; 100 kB took
 * seconds, API4). The first occurrence in a run sees the longest tail, so one check per run is
 * enough: linear (test/unit/redos-traversal.test.ts).
 */
function webRootScript(s: string): boolean {
  let at = s.indexOf(WEB_ROOT);
  while (at !== -1) {
    const from = at + WEB_ROOT.length;
    WHITESPACE.lastIndex = from;
    const ws = WHITESPACE.exec(s);
    const end = ws === null ? s.length : ws.index;
    // Search only this run (runs are disjoint, so the whole walk stays linear).
    const tail = s.slice(from, end);
    if (tail.includes('.php') || tail.includes('.env')) return true;
    if (ws === null) return false;
    at = s.indexOf(WEB_ROOT, end);
  }
  return false;
}

/**
 * The traversal rule `lower` triggers, or undefined.
 *
 * @example
 * detectTraversal('../../etc/passwd'); // 'traversal.dot-dot'
 * detectTraversal('reports/2024/q1.pdf'); // undefined
 */
export function detectTraversal(lower: string): string | undefined {
  if (lower.includes('\0')) return 'traversal.nul';
  const s = /[\u2215\u2044\u29f8\u2216\u29f5\u29f9\uff0f\uff3c]/.test(lower) ? lower.replace(/[\u2215\u2044\u29f8\uff0f]/g, '/').replace(/[\u2216\u29f5\u29f9\uff3c]/g, '\\') : lower;
  if (s.includes('..') && DOT_DOT.test(s)) return 'traversal.dot-dot';
  if ((s.includes('/') || s.includes('\\')) && (SENSITIVE.test(s) || webRootScript(s))) return 'traversal.sensitive';
  if (s.includes(':') && SCHEME.test(s)) return 'traversal.scheme';
  if (s.includes('\\\\') && UNC.test(s)) return 'traversal.unc';
  return undefined;
}
