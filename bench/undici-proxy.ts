/**
 * The "bare undici proxy" baseline: node:http in front of an undici Pool, streaming, with the
 * minimum a proxy must do (hop-by-hop headers dropped). No controls, no ledger.
 */
import http from 'node:http';
import { Pool } from 'undici';

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'host']);

export function startUndiciProxy(upstream: string, port = 0): Promise<http.Server> {
  const pool = new Pool(upstream, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 });
  const server = http.createServer({ keepAliveTimeout: 60_000 }, async (req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const k in req.headers) if (!HOP.has(k)) headers[k] = req.headers[k]!;
    try {
      const r = await pool.request({ path: req.url!, method: req.method as 'GET', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req });
      const out: Record<string, string | string[]> = {};
      for (const k in r.headers) if (!HOP.has(k)) out[k] = r.headers[k]!;
      res.writeHead(r.statusCode, out);
      for await (const chunk of r.body) res.write(chunk);
      res.end();
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
  });
  server.on('close', () => void pool.close());
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
