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
const SENSITIVE = new RegExp(
  [
    '(?:^|[^a-z0-9_.-])\\/?etc[\\\\/]+(?:passwd|shadow|group|hosts|issue|hostname|sudoers|crontab|fstab|mtab|motd|profile|bashrc|ssh|ssl|nginx|apache2?|httpd|mysql|my\\.cnf|resolv\\.conf|environment|master\\.passwd|security|pam\\.d|network|sysconfig|php)',
    '\\/proc\\/(?:self|\\d+|version|cmdline|environ|net|sched_debug|mounts)',
    '\\/(?:root|home\\/[^/\\s]+)\\/\\.(?:ssh|bash_history|aws|docker|kube|gnupg|npmrc|netrc|git-credentials)',
    '\\.ssh[\\\\/](?:id_[a-z0-9]+|authorized_keys|known_hosts|config)',
    '\\/var\\/(?:log|run\\/secrets|lib\\/mysql|www\\/html\\/[^\\s]*\\.(?:php|env))',
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
const UNC = /^\s*\\\\[a-z0-9._-]+(?:@ssl)?(?:@\d+)?\\[^\\]/;

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
  if ((s.includes('/') || s.includes('\\')) && SENSITIVE.test(s)) return 'traversal.sensitive';
  if (s.includes(':') && SCHEME.test(s)) return 'traversal.scheme';
  if (s.includes('\\\\') && UNC.test(s)) return 'traversal.unc';
  return undefined;
}
