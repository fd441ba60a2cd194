/**
 * TLS probes (ENC-1, ENC-2, ENC-4): handshakes pinned to one protocol version each, by a client
 * that really offers the old versions. node:tls with `ciphers: 'DEFAULT@SECLEVEL=0'` and
 * min/maxVersion pinned to TLSv1 or TLSv1.1 sends a ClientHello for that version with Node 20's
 * OpenSSL 3.0 (checked here: a server allowing TLS 1.0 completes such a handshake). Should the
 * local OpenSSL refuse to offer a version (`no protocols available`, a client-side error), the
 * probe falls back to `openssl s_client -tls1_1`; the evidence names which client was used, and a
 * version that no client could offer is an `error`, never a `pass`.
 *
 * A refusal counts only when the TCP connection was made and the server then ended the handshake
 * (a protocol_version alert, or a reset), and only if TLS 1.2 or 1.3 works: a server that speaks
 * no TLS at all refuses everything and proves nothing.
 */
import { spawn } from 'node:child_process';
import { connect as tcpConnect, isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, rootCertificates, type PeerCertificate } from 'node:tls';
import { TLS12_CIPHERS, TLS13_CIPHERSUITES } from '../../tls/server-options.js';
import type { ProbeBudget } from '../http.js';
import { result, type ControlResult } from '../types.js';

const ACCEPTABLE: ReadonlySet<string> = new Set<string>([...TLS12_CIPHERS, ...TLS13_CIPHERSUITES]);
/** TLS 1.2 suites outside ENC-2: CBC modes, SHA-1 MACs, static RSA key exchange, 3DES. */
const WEAK_TLS12 = 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA:AES128-SHA256:DES-CBC3-SHA:@SECLEVEL=0';
const DAY_MS = 86_400_000;
/** ENC-2: certificate lifespan at most 366 days. */
const MAX_LIFETIME_DAYS = 366;
const WARN_DAYS_LEFT = 30;
/** Errors the local client raises before anything is sent: it could not offer that version. */
const CLIENT_CANNOT_OFFER = new Set(['ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_NO_CIPHERS_AVAILABLE', 'ERR_TLS_INVALID_PROTOCOL_VERSION', 'ERR_SSL_NO_CIPHER_MATCH']);

type Version = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export type Handshake =
  | { ok: true; client: string; protocol: string; cipher: string; cert: PeerCertificate; authorized: boolean; authorizationError?: string }
  | { ok: false; client: string; stage: 'connect' | 'client' | 'handshake'; code: string; message: string; alert?: number };

export interface TlsProbeOptions {
  host: string;
  port: number;
  ca: readonly string[];
  timeoutMs: number;
  budget: ProbeBudget;
  /** Where `openssl` is (the fallback client); default `openssl` on PATH. */
  openssl?: string;
  now?: () => number;
}

const NODE_CLIENT = `node:tls (OpenSSL ${process.versions.openssl}), ciphers DEFAULT@SECLEVEL=0`;

/** One handshake pinned to `version`, offering `ciphers`; the connection is closed at once. */
export function handshake(o: TlsProbeOptions, version: Version, ciphers = 'DEFAULT@SECLEVEL=0'): Promise<Handshake> {
  o.budget.take();
  const client = ciphers === 'DEFAULT@SECLEVEL=0' ? NODE_CLIENT : `node:tls (OpenSSL ${process.versions.openssl}), ciphers ${ciphers}`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (h: Handshake) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(h);
    };
    const timer = setTimeout(() => finish({ ok: false, client, stage: connected ? 'handshake' : 'connect', code: 'ETIMEDOUT', message: `no handshake within ${o.timeoutMs} ms` }), o.timeoutMs);
    let connected = false;
    const sock = tcpConnect({ host: o.host, port: o.port });
    sock.once('error', (err: NodeJS.ErrnoException) => finish({ ok: false, client, stage: connected ? 'handshake' : 'connect', code: err.code ?? 'ERROR', message: err.message }));
    sock.once('connect', () => {
      connected = true;
      let t;
      try {
        t = tlsConnect({
          socket: sock,
          // `host` is the name the certificate must carry (else Node checks 'localhost'); SNI
          // only for DNS names (RFC 6066 §3: no IP literals in server_name).
          host: o.host,
          ...(isIP(o.host) === 0 ? { servername: o.host } : {}),
          minVersion: version,
          maxVersion: version,
          ciphers,
          ca: [...rootCertificates, ...o.ca],
          // Trust is reported (authorized), not enforced: the certificate control judges it.
          rejectUnauthorized: false,
        });
      } catch (err) {
        finish({ ok: false, client, stage: 'client', code: (err as NodeJS.ErrnoException).code ?? 'ERROR', message: (err as Error).message });
        return;
      }
      t.once('secureConnect', () => {
        const c = t.getCipher();
        finish({ ok: true, client, protocol: t.getProtocol() ?? 'unknown', cipher: c.name, cert: t.getPeerCertificate(false), authorized: t.authorized, ...(t.authorizationError ? { authorizationError: String(t.authorizationError) } : {}) });
      });
      t.once('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? 'ERROR';
        const alert = /SSL alert number (\d+)/.exec(err.message);
        finish({ ok: false, client, stage: CLIENT_CANNOT_OFFER.has(code) ? 'client' : 'handshake', code, message: err.message.split('\n')[0]!.slice(0, 300), ...(alert ? { alert: Number(alert[1]) } : {}) });
      });
    });
  });
}

/** The fallback: `openssl s_client -tls1 | -tls1_1`, stdin closed, so it ends after the handshake. */
export function opensslHandshake(o: TlsProbeOptions, version: 'TLSv1' | 'TLSv1.1'): Promise<Handshake> {
  o.budget.take();
  const flag = version === 'TLSv1' ? '-tls1' : '-tls1_1';
  const bin = o.openssl ?? 'openssl';
  const client = `${bin} s_client ${flag} -cipher DEFAULT@SECLEVEL=0`;
  return new Promise((resolve) => {
    const args = ['s_client', '-connect', `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`, flag, '-cipher', 'DEFAULT@SECLEVEL=0', ...(isIP(o.host) === 0 ? ['-servername', o.host] : [])];
    const p = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    p.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs);
    p.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, client, stage: 'client', code: err.code ?? 'ERROR', message: `openssl could not be run: ${err.message}` });
    });
    p.once('close', (code) => {
      clearTimeout(timer);
      const proto = /Protocol\s*:\s*(\S+)/.exec(out)?.[1];
      const cipher = /Cipher\s*(?:is|:)\s*(\S+)/.exec(out)?.[1];
      if (code === 0 && proto !== undefined && cipher !== undefined && cipher !== '0000' && cipher !== '(NONE)') {
        resolve({ ok: true, client, protocol: proto, cipher, cert: {} as PeerCertificate, authorized: false });
        return;
      }
      const clientSide = /no protocols available|unknown option|wrong version number|unsupported/i.test(out) && !/alert/i.test(out);
      const alert = /alert number (\d+)/.exec(out);
      resolve({ ok: false, client, stage: clientSide ? 'client' : /connect:errno|Connection refused/i.test(out) ? 'connect' : 'handshake', code: `exit ${code ?? 'signal'}`, message: out.split('\n').filter((l) => /error|alert/i.test(l)).slice(0, 2).join(' ').slice(0, 300) || `openssl exited ${code}`, ...(alert ? { alert: Number(alert[1]) } : {}) });
    });
    p.stdin.end();
  });
}

function view(h: Handshake): Record<string, unknown> {
  if (h.ok) return { client: h.client, handshake: 'completed', protocol: h.protocol, cipher: h.cipher };
  return { client: h.client, handshake: 'failed', stage: h.stage, error: h.code, ...(h.alert !== undefined ? { alert: h.alert } : {}), message: h.message };
}

const C = {
  v10: { id: 'tls.1.0-refused', family: 'tls', title: 'TLS 1.0 is refused', requirements: ['ENC-1', 'API8'] },
  v11: { id: 'tls.1.1-refused', family: 'tls', title: 'TLS 1.1 is refused', requirements: ['ENC-1', 'API8'] },
  v12: { id: 'tls.1.2-accepted', family: 'tls', title: 'TLS 1.2 is offered with a Mozilla intermediate cipher suite', requirements: ['ENC-1', 'ENC-2', 'ENC-4'] },
  v13: { id: 'tls.1.3-accepted', family: 'tls', title: 'TLS 1.3 is offered with an approved suite', requirements: ['ENC-2', 'ENC-4'] },
  weak: { id: 'tls.weak-ciphers-refused', family: 'tls', title: 'TLS 1.2 suites outside ENC-2 (CBC, SHA-1, static RSA, 3DES) are refused', requirements: ['ENC-2'] },
  cert: { id: 'tls.certificate', family: 'tls', title: 'The certificate is valid, trusted, names the host and lives at most 366 days', requirements: ['ENC-2', 'ASVS 9.2.2'] },
} as const;

/** Plain HTTP: every TLS control fails (ENC-1: TLS only, no fallback to http). */
export function plainHttpResults(target: string): ControlResult[] {
  const why = `the target ${target} is plain HTTP: nothing is encrypted (ENC-1 requires TLS 1.2+ only)`;
  return Object.values(C).map((c) => result(c, 'fail', why, { target, scheme: 'http' }));
}

export async function tlsProbes(o: TlsProbeOptions): Promise<ControlResult[]> {
  const now = o.now ?? Date.now;
  const h12 = await handshake(o, 'TLSv1.2');
  const h13 = await handshake(o, 'TLSv1.3');
  const modernWorks = h12.ok || h13.ok;

  const refusal = async (c: (typeof C)['v10' | 'v11'], version: 'TLSv1' | 'TLSv1.1'): Promise<ControlResult> => {
    let h = await handshake(o, version);
    const tried = [view(h)];
    if (!h.ok && h.stage === 'client') {
      // The local client cannot offer this version: ask openssl s_client instead.
      h = await opensslHandshake(o, version);
      tried.push(view(h));
    }
    const evidence = { offered: version, attempts: tried };
    if (h.ok) return result(c, 'fail', `a ${version} handshake completed (${h.protocol}, ${h.cipher}) via ${h.client}`, evidence);
    if (h.stage === 'client') return result(c, 'error', `no local client could offer ${version} (${h.code}); the refusal cannot be shown`, evidence);
    if (h.stage === 'connect') return result(c, 'error', `could not connect to ${o.host}:${o.port} (${h.code})`, evidence);
    if (!modernWorks) return result(c, 'error', `${version} was refused, but so were TLS 1.2 and 1.3: the refusal proves nothing`, evidence);
    return result(c, 'pass', `${version} offered by ${h.client.split(',')[0]} and refused by the server (${h.alert !== undefined ? `alert ${h.alert}` : h.code})`, evidence);
  };

  const out: ControlResult[] = [await refusal(C.v10, 'TLSv1'), await refusal(C.v11, 'TLSv1.1')];

  const accepted = (c: (typeof C)['v12' | 'v13'], h: Handshake, version: string): ControlResult => {
    const evidence = { offered: version, attempts: [view(h)] };
    if (!h.ok) return result(c, h.stage === 'connect' ? 'error' : 'fail', h.stage === 'connect' ? `could not connect (${h.code})` : `${version} handshake refused (${h.code})`, evidence);
    if (!ACCEPTABLE.has(h.cipher)) return result(c, 'fail', `${h.protocol} negotiated ${h.cipher}, which is not an ENC-2 suite`, { ...evidence, acceptable: [...ACCEPTABLE] });
    return result(c, 'pass', `${h.protocol} with ${h.cipher}`, evidence);
  };
  out.push(accepted(C.v12, h12, 'TLSv1.2'), accepted(C.v13, h13, 'TLSv1.3'));

  const weak = await handshake(o, 'TLSv1.2', WEAK_TLS12);
  if (weak.ok) out.push(result(C.weak, 'fail', `a handshake offering only weak suites completed with ${weak.cipher}`, { offered: WEAK_TLS12, attempts: [view(weak)] }));
  else if (weak.stage === 'connect' || weak.stage === 'client') out.push(result(C.weak, 'error', `the probe could not be made (${weak.code})`, { offered: WEAK_TLS12, attempts: [view(weak)] }));
  else if (!modernWorks) out.push(result(C.weak, 'error', 'refused, but so were TLS 1.2 and 1.3 with normal suites: the refusal proves nothing', { offered: WEAK_TLS12, attempts: [view(weak)] }));
  else out.push(result(C.weak, 'pass', `only weak suites offered: refused (${weak.alert !== undefined ? `alert ${weak.alert}` : weak.code})`, { offered: WEAK_TLS12, attempts: [view(weak)] }));

  out.push(certificateResult(h13.ok ? h13 : h12, o.host, now()));
  return out;
}

export function certificateResult(h: Handshake, host: string, now: number): ControlResult {
  if (!h.ok) return result(C.cert, h.stage === 'connect' ? 'error' : 'fail', `no TLS 1.2/1.3 handshake completed, so no certificate was seen (${h.code})`, { attempts: [view(h)] });
  const cert = h.cert;
  const notBefore = Date.parse(cert.valid_from);
  const notAfter = Date.parse(cert.valid_to);
  const daysLeft = Math.floor((notAfter - now) / DAY_MS);
  const lifetimeDays = Math.round((notAfter - notBefore) / DAY_MS);
  const nameError = checkServerIdentity(host, cert);
  const evidence = {
    subject: cert.subject,
    issuer: cert.issuer,
    subjectAltName: cert.subjectaltname,
    notBefore: Number.isNaN(notBefore) ? cert.valid_from : new Date(notBefore).toISOString(),
    notAfter: Number.isNaN(notAfter) ? cert.valid_to : new Date(notAfter).toISOString(),
    daysLeft,
    lifetimeDays,
    fingerprint256: cert.fingerprint256,
    trusted: h.authorized,
    ...(h.authorizationError ? { trustError: h.authorizationError } : {}),
    ...(nameError ? { nameError: nameError.message } : {}),
  };
  const problems: string[] = [];
  if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) problems.push('validity dates unreadable');
  else {
    if (now >= notAfter) problems.push(`expired ${new Date(notAfter).toISOString()}`);
    if (now < notBefore) problems.push(`not valid before ${new Date(notBefore).toISOString()}`);
    if (lifetimeDays > MAX_LIFETIME_DAYS) problems.push(`lifespan ${lifetimeDays} days > ${MAX_LIFETIME_DAYS}`);
  }
  if (!h.authorized) problems.push(`not trusted (${h.authorizationError ?? 'unknown'}; --ca adds a private authority)`);
  if (nameError) problems.push(`does not name ${host}`);
  if (problems.length > 0) return result(C.cert, 'fail', problems.join('; '), evidence);
  const warnings = daysLeft < WARN_DAYS_LEFT ? [`expires in ${daysLeft} days (under ${WARN_DAYS_LEFT})`] : [];
  return result(C.cert, 'pass', `valid until ${evidence.notAfter} (${daysLeft} days left), ${lifetimeDays}-day lifespan, trusted, names ${host}`, evidence, warnings);
}
