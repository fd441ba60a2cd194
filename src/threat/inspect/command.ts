/**
 * OS command injection (ASVS 5.3.8, CWE-78) and the code-execution probes that travel with it.
 * A shell runs a second command after a metacharacter: `;`, `|`, `||`, `&`, `&&`, a newline,
 * `$(…)`, backticks, `<(…)`, `{cmd,arg}`. The detector finds each such position and looks at the
 * word that follows, with the usual evasions undone (`w'h'o'am'i`, `c\at`, `who$@ami`, `/???/c?t`):
 *
 *   - a word that is only ever a command (whoami, uname, wget, curl, nc, bash, powershell …) or
 *     an absolute path to a program (`/bin/…`, `/usr/bin/…`, `/???/…`) is an attack;
 *   - a word that is also English (cat, id, ping, sleep, echo, type, find, more …) is an attack
 *     only with a shell-like argument: an option `-x`, a path, a number for sleep/ping, a host for
 *     ping, a redirection, `$IFS`, or nothing at all before the end or the next metacharacter.
 * So "Please sell 100 shares; thanks!", "AT&T", "Q&A" and "| Name | Qty |" pass, and `; cat
 * /etc/passwd`, `| nc 10.0.0.1 4444`, `$(id)`, `` `id` ``, `&& whoami`, `%0a id` do not.
 *
 * Rules (`command.` prefix): separator (a command after a metacharacter), substitution (`$(…)`,
 * backticks, `<(…)`), ifs (`$IFS`, `${IFS}` and other variable tricks used as whitespace),
 * shellshock (`() {`), jndi (`${jndi:…}`, Log4Shell), code (PHP tags, `child_process`,
 * `__import__('os')`, `Runtime.getRuntime()` …), env (Windows `%COMSPEC%` style expansions).
 */

/** Commands that are not English words: any of them after a metacharacter is an attack. */
const STRONG = new Set([
  'whoami', 'uname', 'ifconfig', 'ipconfig', 'netstat', 'nslookup', 'systeminfo', 'tasklist', 'taskkill', 'wget', 'nc',
  'ncat', 'netcat', 'socat', 'telnet', 'bash', 'sh', 'zsh', 'ksh', 'csh', 'tcsh', 'busybox', 'python2', 'python3', 'php',
  'powershell', 'pwsh', 'cmd', 'certutil', 'bitsadmin', 'mshta', 'rundll32', 'regsvr32', 'wscript', 'cscript', 'mkfifo',
  'mknod', 'chmod', 'chown', 'chgrp', 'useradd', 'usermod', 'passwd', 'crontab', 'base64', 'xxd', 'nohup', 'sudo', 'printenv',
  'getent', 'xargs', 'grep', 'egrep', 'awk', 'gawk', 'sed', 'pwd', 'tftp', 'openssl', 'gcc', 'hostname', 'traceroute',
  'tracert', 'arp', 'wmic', 'schtasks', 'icacls', 'cacls', 'net1', 'vssadmin', 'bcdedit', 'wevtutil', 'msiexec', 'forfiles',
  'nmap', 'scp', 'sftp', 'rsync', 'tcpdump', 'killall', 'pkill', 'chattr', 'lsof', 'strace', 'ldd', 'sysctl', 'iptables',
  'setsid', 'nodejs',
]);
/**
 * Commands that are also words or ids (cat, id, date, ruby …): an attack only with a shell-like
 * argument, or, after a strong separator (`;`, `&&`, `||`, a glued `|` or `&`, an encoded
 * newline), with nothing after them. "Name & ID", "Date & time", "Anne & Ruby" stay text.
 */
const AMBIGUOUS = new Set([
  'id', 'ls', 'dir', 'cat', 'env', 'exec', 'eval', 'uptime', 'reg', 'sc', 'curl', 'dash', 'node', 'ruby', 'perl', 'python',
  'lua', 'java', 'echo', 'printf', 'sleep', 'ping', 'type', 'find', 'more', 'less', 'head', 'tail', 'kill', 'rm', 'cp', 'mv',
  'touch', 'who', 'last', 'date', 'time', 'set', 'export', 'unset', 'source', 'test', 'read', 'timeout', 'host', 'dig', 'ssh',
  'ftp', 'su', 'net', 'shutdown', 'reboot', 'halt', 'tar', 'zip', 'unzip', 'wc', 'sort', 'uniq', 'diff', 'file', 'start',
  'call', 'copy', 'del', 'erase', 'ren', 'rd', 'md', 'mkdir', 'rmdir', 'ver', 'vol', 'cd', 'chdir', 'ln', 'du', 'df', 'ps',
  'mount', 'od', 'nl', 'tee', 'shred', 'fetch', 'lynx',
]);
/** Ambiguous commands that payloads run without arguments (`;id`, `|ls`, `$(date)`). */
const ARGLESS = new Set(['id', 'ls', 'dir', 'env', 'uptime', 'who', 'date', 'set', 'ver', 'ps', 'cat']);

// `$IFS`, `${IFS}`, substring expansion `${v:0:1}` and ANSI-C quoting `$'\x20'`: one pass, no
// nested unbounded repetition (API4: a ReDoS would stall the event loop on a 1 MiB value).
// eslint-disable-next-line security/detect-unsafe-regex -- linear: `[a-z_]+`, `[0-9]+` and `(?::[0-9]+)?` are separated by ':' and '}', which they cannot match, so each `${` start is scanned once
const IFS = /\$\{?ifs\b|\$\{[a-z_]+:[0-9]+(?::[0-9]+)?\}|\$'\\x[0-9a-f]{2}|\$'\\[0-7]{3}/;
/**
 * Pattern substitution `${v/a/b}` / `${v//a/b}`: the opening part, with a `}` anywhere after it.
 * It was `\$\{[a-z_]+\/\/?[^}]*\}` inside IFS, which is quadratic: every `${v/` re-scans the
 * rest of the value for a `}` (`'${a/'.repeat(25_000)` took seconds). The first opening has the
 * longest tail, so one indexOf after it answers for all of them (test/unit/redos-command.test.ts).
 */
const PATTERN_SUBST = /\$\{[a-z_]+\/\/?/;

function hasIfsTrick(lower: string): boolean {
  if (IFS.test(lower)) return true;
  const m = PATTERN_SUBST.exec(lower);
  return m !== null && lower.indexOf('}', m.index + m[0].length) !== -1;
}
const SHELLSHOCK = /\(\s*\)\s*\{\s*(?::|[a-z_]+\s*;|\(\s*\))/;
const JNDI = /\$\{\s*(?:jndi|\$\{)|\$\{(?:env|sys|ctx|lower|upper|main|java|date|base64|docker|k8s|log4j|spring|web|bundle|jvmrunargs|marker):/;
const CODE = /<\?(?:php|=)|\bchild_process\b|\brequire\s*\(\s*['"`](?:child_process|fs|net|os|vm)['"`]|\bprocess\.(?:mainmodule|binding|dlopen)|__import__\s*\(|\bos\.(?:system|popen|exec[lv]p?e?)\s*\(|\bsubprocess\.(?:call|run|popen|check_output)|runtime\.getruntime\s*\(|\bprocessbuilder\s*\(|\bsystem\s*\(\s*['"`]|\bpassthru\s*\(|\bshell_exec\s*\(|\bproc_open\s*\(|\bpopen\s*\(\s*['"`]|\bassert\s*\(\s*['"`]|\bcreate_function\s*\(/;
const SEPARATOR = /[;|&\n\r`{]|[$<>]\(/;
const WIN_ENV = /%(?:comspec|systemroot|windir|programfiles|programdata|appdata|localappdata|userprofile|temp|tmp|homedrive|homepath|computername|username|path|psmodulepath|public|allusersprofile|os|processor_architecture)%/;

/**
 * The command-injection rule `lower` (a lower-cased variant) triggers, or undefined.
 * `encoded` says the variant was decoded (a newline in it was percent- or entity-encoded, so it
 * separates commands; a raw newline in a body is the line break of a note).
 *
 * @example
 * detectCommand('foo; cat /etc/passwd', false); // 'command.separator'
 * detectCommand('$(whoami)', false); // 'command.substitution'
 * detectCommand('Please sell 100 shares; thanks!', false); // undefined
 */
export function detectCommand(lower: string, encoded: boolean): string | undefined {
  if (lower.includes('$')) {
    if (hasIfsTrick(lower)) return 'command.ifs';
    if (lower.includes('${') && JNDI.test(lower)) return 'command.jndi';
  }
  if (lower.includes('(') && lower.includes('{') && SHELLSHOCK.test(lower)) return 'command.shellshock';
  if ((lower.includes('(') || lower.includes('<?') || lower.includes('child_process')) && CODE.test(lower)) return 'command.code';
  if (lower.includes('%') && WIN_ENV.test(lower)) return 'command.env';
  if (!SEPARATOR.test(lower)) return undefined;
  return scanSeparators(unObfuscate(lower), encoded);
}

/** `w'h'o'am'i`, `c\at`, `who$@ami`, `wh""oami`, `c${u}at` → the word the shell runs. */
function unObfuscate(s: string): string {
  if (!/['"\\$]/.test(s)) return s;
  return s.replace(/(?<=[a-z0-9/])(?:''|""|\\(?=[a-z0-9/])|\$@|\$\*|\$\{[a-z_]*\}|\$[0-9](?=[a-z/])|'(?=[a-z0-9])|"(?=[a-z0-9]))/g, '');
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45;
}
function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 11 || c === 12;
}

/** Separator strength: `pipe` is a lone `|` before a space (a table cell or a pipe). */
type Kind = 'strong' | 'weak' | 'pipe' | 'subst' | 'brace';

/** Finds every separator and checks the command word after it; linear in practice (bounded look-ahead). */
function scanSeparators(s: string, encoded: boolean): string | undefined {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let kind: Kind | undefined;
    let j = i + 1;
    switch (c) {
      case 59: // ;
        kind = 'strong';
        break;
      case 124: // |
      case 38: // &
        if (s.charCodeAt(j) === c) {
          kind = 'strong';
          j++;
        } else {
          // `a & b`, `| Name |`: a lone pipe or ampersand before a space is weak evidence
          kind = !isBlank(s.charCodeAt(j)) ? 'strong' : c === 124 ? 'pipe' : 'weak';
        }
        break;
      case 10: // \n
      case 13: // \r
        kind = encoded ? 'strong' : 'weak';
        while (j < n && (s.charCodeAt(j) === 10 || s.charCodeAt(j) === 13)) j++;
        // Every newline of a run gives the same kind and the same command position j, so the
        // rest of the run is skipped: re-scanning it from each newline was quadratic (API4).
        i = j - 1;
        break;
      case 96: // `
        kind = 'subst';
        break;
      case 36: // $(
        if (s.charCodeAt(j) === 40) {
          kind = 'subst';
          j++;
          if (s.charCodeAt(j) === 40) j++;
        }
        break;
      case 60: // <(
      case 62: // >(
        if (s.charCodeAt(j) === 40) {
          kind = 'subst';
          j++;
        }
        break;
      case 123: // {cmd,arg}
        kind = 'brace';
        break;
    }
    if (!kind) continue;
    const r = commandAt(s, j, kind);
    if (r) return r;
  }
  return undefined;
}

function commandAt(s: string, from: number, kind: Kind): string | undefined {
  const n = s.length;
  let j = from;
  // blanks, opening groups, quotes and `!` before the command word
  while (j < n) {
    const d = s.charCodeAt(j);
    if (isBlank(d) || d === 40 || d === 39 || d === 34 || d === 33 || (d === 123 && kind !== 'brace')) j++;
    else if (d === 36 && s.startsWith('$ifs', j)) j += 4;
    else break;
  }
  if (j >= n) return undefined;
  const rule = kind === 'subst' ? 'command.substitution' : 'command.separator';
  // a program given by path: /bin/sh, /usr/bin/id, /???/c?t, ./x, ~/x
  const p = s.charCodeAt(j);
  if (p === 47 || p === 126 || (p === 46 && s.charCodeAt(j + 1) === 47)) {
    const path = s.slice(j, j + 40);
    if (/^(?:\/(?:usr\/)?s?bin\/|\/(?:usr\/)?local\/bin\/|\/(?=[a-z]*[?*])[a-z?*]{1,5}\/[a-z?*]|\/dev\/(?:tcp|udp)\/|\/tmp\/[\w.]|\.\/[\w.-]+(?:\s|$|[;&|])|~\/[\w.-]+(?:\s|$|[;&|]))/.test(path)) return rule;
    return undefined;
  }
  let k = j;
  while (k < n && isWordChar(s.charCodeAt(k))) k++;
  if (k === j) return undefined;
  let word = s.slice(j, k);
  if (word.endsWith('.exe')) word = word.slice(0, -4);
  if (kind === 'brace') {
    // {cat,/etc/passwd}: brace expansion runs `cat /etc/passwd`
    return s.charCodeAt(k) === 44 && !isBlank(s.charCodeAt(k + 1)) && (STRONG.has(word) || AMBIGUOUS.has(word)) ? rule : undefined;
  }
  if (!STRONG.has(word) && !AMBIGUOUS.has(word)) return undefined;
  // glued to something that is not a separator: "idea", "cat-like", "ls.txt" are other words
  if (k < n && !ENDS_WORD.has(s.charCodeAt(k))) return undefined;
  if (STRONG.has(word)) return rule;
  return argumentEvidence(s, k, word, kind) ? rule : undefined;
}

/** Characters that may follow a command word: blanks, newlines, metacharacters, quotes, `,`. */
const ENDS_WORD = new Set([32, 9, 11, 12, 10, 13, 59, 124, 38, 96, 41, 60, 62, 36, 35, 44, 39, 34]);

/**
 * Whether what follows an ambiguous command word at `k` looks like its shell arguments: the end
 * or a metacharacter (after a strong separator, for argless commands), an option, a path, a
 * redirection, or a word-specific argument (a number for sleep, a host for ping …).
 */
function argumentEvidence(s: string, k: number, word: string, kind: Kind): boolean {
  const n = s.length;
  let j = k;
  while (j < n && isBlank(s.charCodeAt(j))) j++;
  const d = s.charCodeAt(j);
  const ends = j >= n || d === 59 || d === 124 || d === 38 || d === 96 || d === 41 || d === 10 || d === 13 || d === 35;
  if (ends) {
    if (kind === 'subst') return true;
    // `| id` ends the value: a pipe into an argless command; `| ID |` is a table cell
    if (kind === 'pipe') return j >= n && ARGLESS.has(word);
    return kind === 'strong' && ARGLESS.has(word);
  }
  if (d === 60 || d === 62) return true; // redirection
  if (d === 36) return /^\$(?:ifs|\{ifs|home|path|\{|\(|[0-9@*])/.test(s.slice(j, j + 6));
  const arg = s.slice(j, j + 64);
  if (/^--?[a-z]/.test(arg)) return true; // an option
  if (/^\/[a-z?]\b/.test(arg) && /^(?:dir|type|start|call|del|copy|erase|reg|sc|net|set)$/.test(word)) return true; // Windows switch
  if (/^(?:\/(?:etc|bin|usr|var|tmp|proc|dev|home|root|sys|opt|boot|windows|winnt)\b|~\/|\.\.?\/|[a-z]:\\|\\\\[a-z0-9]|%[a-z]+%)/.test(arg)) return true; // a path
  switch (word) {
    case 'sleep':
    case 'timeout':
      // eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, `arg` is at most 64 characters (slice above), and `\d+`, `\.\d+`, `\s*` cannot overlap
      return /^\d+(?:\.\d+)?\s*(?:[;|&`)#\n]|$)/.test(arg);
    case 'ping':
    case 'host':
    case 'dig':
    case 'ssh':
    case 'ftp':
    case 'fetch':
    case 'curl':
    case 'lynx':
      // eslint-disable-next-line security/detect-unsafe-regex -- bounded: anchored, `arg` is at most 64 characters (slice above); the dotted-name part splits only at '.', which the labels cannot contain
      return /^(?:(?:https?|ftp|file|gopher|dict):\/\/|\d{1,3}(?:\.\d{1,3}){3}\b|localhost\b|\$\(|`|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b)/.test(arg);
    case 'echo':
    case 'printf':
      return /^(?:['"`][^'"`]*['"`]\s*(?:[|>;&`)]|$)|[a-z0-9+/=]{12,}\s*\|)/.test(arg);
    case 'net':
      return /^(?:user|localgroup|group|view|share|use|session|accounts|start|stop)\b/.test(arg);
    case 'reg':
      return /^(?:query|add|delete|save|export)\b/.test(arg);
    case 'sc':
      return /^(?:query|create|config|start|stop|delete)\b/.test(arg);
    default:
      // cat index.php, type web.config, python exploit.py, perl x.pl
      return /^[\w.-]*\.(?:php\d?|phtml|asp|aspx|jsp|py|rb|pl|sh|bat|ps1|ini|conf|cfg|log|xml|json|ya?ml|env|db|sql|bak|key|pem|htaccess|htpasswd|config|passwd|shadow)\b/.test(arg) || /^\.(?:ssh|env|git|bash|aws|htaccess|htpasswd)\b/.test(arg);
  }
}
