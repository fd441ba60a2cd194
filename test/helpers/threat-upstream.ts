/**
 * A real upstream for the threat-defence tests (test/fixtures/openapi/threat-test.yaml) on a
 * loopback port. Its answers carry personal data (made up: an SSN drawn at random in the valid
 * ranges at every run, and the well-known test card 4111 1111 1111 1111) and misbehave on
 * request: `mode` switches an
 * answer to undeclared properties, a broken contract, a gzip body it was not asked for, or an
 * oversized list. Every request it sees is logged.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface ThreatUpstream {
  url: string;
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  /** Per path: 'extra' | 'broken' | 'gzip' | 'oversize' | 'not-json' */
  mode: Map<string, string>;
  close(): Promise<void>;
}

/** A random SSN-shaped value in the valid ranges (area 001-665 or 667-899, group 01-99, serial 0001-9999); test data only. */
export const TEST_SSN = ((): string => {
  const r = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
  let area = r(1, 898);
  if (area >= 666) area++;
  return `${String(area).padStart(3, '0')}-${String(r(1, 99)).padStart(2, '0')}-${String(r(1, 9999)).padStart(4, '0')}`;
})();
export const TEST_CARD = '4111 1111 1111 1111';

export async function startThreatUpstream(): Promise<ThreatUpstream> {
  const seen: ThreatUpstream['seen'] = [];
  const mode = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const u = new URL(req.url!, 'http://x');
      const m = mode.get(u.pathname);
      const json = (status: number, data: unknown, extra: Record<string, string> = {}) => {
        let payload: Buffer = Buffer.from(JSON.stringify(data));
        const headers: Record<string, string | number> = { 'content-type': 'application/json', ...extra };
        if (m === 'gzip') {
          payload = gzipSync(payload);
          headers['content-encoding'] = 'gzip';
        }
        if (m === 'not-json') payload = Buffer.from('{"id": "acc_1", oops');
        headers['content-length'] = payload.length;
        res.writeHead(status, headers);
        res.end(payload);
      };
      let r: RegExpExecArray | null;
      if ((r = /^\/customers\/([^/]+)$/.exec(u.pathname))) {
        const c: Record<string, unknown> = {
          id: decodeURIComponent(r[1]!),
          name: 'Ann Example',
          ssn: TEST_SSN,
          dateOfBirth: '1980-04-01',
          email: 'ann@example.com',
          comment: `called about card ${TEST_CARD}`,
        };
        if (m === 'extra') c.internalRiskScore = 97;
        return json(200, c);
      }
      if (u.pathname === '/accounts') {
        const n = m === 'oversize' ? 600 : Number(u.searchParams.get('limit') ?? 3);
        const items = Array.from({ length: n }, (_, i) => ({ id: `acc_${i}`, number: `99000012${String(i).padStart(4, '0')}`, balance: 100 + i }));
        return json(200, { items });
      }
      if ((r = /^\/accounts\/([^/]+)\/statement$/.exec(u.pathname))) {
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.end(`date,description,amount\n2026-11-01,card ${TEST_CARD},-12.50\n2026-11-02,ssn on file ${TEST_SSN},0\n`);
        return;
      }
      if ((r = /^\/accounts\/([^/]+)$/.exec(u.pathname))) {
        if (m === 'broken') return json(200, { id: 5, number: 'x', balance: 'lots' });
        const a: Record<string, unknown> = { id: decodeURIComponent(r[1]!), number: '990000123456', balance: 1234.5 };
        if (m === 'extra') {
          a.internalRiskScore = 97;
          a.owner = { ssn: TEST_SSN };
        }
        return json(200, a);
      }
      if (u.pathname === '/notes') return json(201, JSON.parse(body || '{}'));
      if (u.pathname === '/search') return json(200, { results: [] });
      json(404, { error: 'not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    mode,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
