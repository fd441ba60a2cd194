/**
 * A real upstream for tests on a loopback port: echoes what it received as JSON, and has routes
 * that misbehave on purpose (/slow, /big, /broken). Every request it sees is logged, so tests can
 * prove what did (and did not) reach the upstream.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface TestUpstream {
  url: string;
  port: number;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startTestUpstream(): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const u = new URL(req.url!, 'http://x');
      if (u.pathname.endsWith('/slow')) {
        const t = setTimeout(() => reply(200, { slow: true }), Number(u.searchParams.get('ms') ?? 1000));
        res.on('close', () => clearTimeout(t));
        return;
      }
      if (u.pathname.endsWith('/big')) {
        const total = Number(u.searchParams.get('bytes') ?? 1_000_000);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total, server: 'upstream/1.2.3', 'x-powered-by': 'TestFramework 9' });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            const n = Math.min(chunk.length, total - sent);
            sent += n;
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      if (u.pathname.endsWith('/cookies')) {
        res.writeHead(200, ['content-type', 'application/json', 'set-cookie', 'a=1; Secure', 'set-cookie', 'b=2; Secure', 'cache-control', 'public, max-age=600', 'server', 'upstream/1.2.3', 'content-length', '2']);
        res.end('{}');
        return;
      }
      if (u.pathname.endsWith('/broken')) {
        req.socket.destroy();
        return;
      }
      reply(u.pathname.endsWith('/orders') ? 201 : 200, { method: req.method, url: req.url, headers: req.headers, bodyLength: body.length, body: body.toString('utf8') });
    });
    function reply(status: number, data: unknown) {
      const text = JSON.stringify(data);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), server: 'upstream/1.2.3', 'x-powered-by': 'TestFramework 9' });
      res.end(text);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
