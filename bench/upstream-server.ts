/** The benchmark's upstream: a plain node:http server answering a small JSON document. */
import http from 'node:http';

// A valid getAccount answer of the demo document (the gateway checks the response contract and
// masks the classified account number, as it would in production).
const BODY = JSON.stringify({
  id: 'acc_alice_1',
  customerId: 'cus_alice',
  type: 'cash',
  status: 'open',
  accountNumber: '00112233',
  currency: 'USD',
  cashBalance: 12500.25,
  openedAt: '2021-06-01',
});

export function startUpstream(port = 0): Promise<http.Server> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
      res.end(BODY);
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
