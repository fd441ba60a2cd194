/**
 * Requests Node's HTTP parser rejects (smuggling shapes and friends) still get a problem+json and
 * a ledger record, through the clientError handler. Sent over raw sockets, byte for byte.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let t: TestGateway;
before(async () => {
  t = await startTestGateway({ yaml: { limits: { headersTimeoutMs: 1000, requestTimeoutMs: 2000 } } });
});
after(async () => t.close());

/** Writes the bytes without half-closing (Node aborts requests on a client FIN) and reads one response. */
function raw(bytes: string): Promise<string> {
  const port = t.gw.port;
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      s.destroy();
      resolve(got);
    };
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      const i = got.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(got);
      if (i !== -1 && len && got.length >= i + 4 + Number(len[1])) done();
    });
    s.on('close', done);
    s.on('error', reject);
    s.setTimeout(5000, done);
    s.write(bytes);
  });
}

function parse(resp: string): { status: number; body: any } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(resp)?.[1]);
  const i = resp.indexOf('\r\n\r\n');
  const text = resp.slice(i + 4);
  return { status, body: text ? JSON.parse(text) : undefined };
}

async function lastRecord(stage = 'parse') {
  const head = await t.gw.storage.ledger.head();
  const recent = await t.gw.storage.ledger.read(Math.max(1, head!.seq - 4), 5);
  return recent.map((r) => r.record).reverse().find((r) => r.stage === stage)!;
}

const cases: [string, string, number, string][] = [
  ['Content-Length with Transfer-Encoding', 'POST /public/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'RAMPART_REQUEST_SMUGGLING'],
  ['duplicate Content-Length', 'POST /public/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde', 400, 'RAMPART_REQUEST_SMUGGLING'],
  ['obs-fold header continuation', 'GET /public/ping HTTP/1.1\r\nHost: x\r\nX-Long: a\r\n  folded\r\n\r\n', 400, 'RAMPART_MALFORMED_REQUEST'],
  ['bad chunk size', 'POST /public/echo HTTP/1.1\r\nContent-Type: application/json\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', 400, 'RAMPART_MALFORMED_REQUEST'],
  ['Transfer-Encoding other than chunked last', 'POST /public/ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', 400, 'RAMPART_REQUEST_SMUGGLING'],
  ['space before colon', 'GET /public/ping HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n', 400, 'RAMPART_MALFORMED_REQUEST'],
  ['unknown method token', 'FOO /public/ping HTTP/1.1\r\nHost: x\r\n\r\n', 501, 'RAMPART_METHOD_NOT_IMPLEMENTED'],
  ['missing Host', 'GET /public/ping HTTP/1.1\r\n\r\n', 400, 'RAMPART_MALFORMED_REQUEST'],
];

for (const [name, bytes, status, code] of cases) {
  test(`refused with problem+json and a ledger record: ${name}`, async () => {
    const before = t.upstream.seen.length;
    const resp = await raw(bytes);
    const r = parse(resp);
    assert.equal(r.status, status, resp);
    assert.match(resp, /content-type: application\/problem\+json/i);
    assert.equal(r.body.code, code);
    assert.equal(t.upstream.seen.length, before, 'nothing reached the upstream');
    const rec = await lastRecord();
    assert.equal(rec.outcome, 'deny');
    assert.equal(rec.reason, code);
    assert.equal(rec.stage, 'parse');
  });
}

test('slow headers get 408 and a record', async () => {
  const resp = await raw('GET /public/ping HTTP/1.1\r\nHost: x\r\n');
  const r = parse(resp);
  assert.equal(r.status, 408, resp);
  assert.equal(r.body.code, 'RAMPART_REQUEST_TIMEOUT');
  const rec = await lastRecord();
  assert.equal(rec.reason, 'RAMPART_REQUEST_TIMEOUT');
});
