/**
 * A large, awkward OpenAPI document (generated: ~600 operations, several MB, nullable, boolean
 * exclusiveMinimum, discriminators, recursive schemas, unknown formats) behind a real gateway:
 * every sampled operation routes and validates end to end, with a key holding the document's
 * scopes, and the upstream receives exactly the routed path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeAwkwardSpec } from '../helpers/awkward-spec.js';
import { startTestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

test('a generated 600-operation document serves every sampled operation through the gateway', { timeout: 180_000 }, async () => {
  const dir = tempDir('rampart-awkward-');
  const spec = writeAwkwardSpec(dir.path);
  assert.ok(spec.operations >= 600 && spec.bytes > 2_000_000, `${spec.operations} operations, ${spec.bytes} bytes`);
  // The echo upstream answers with what it received, not with the document's response schemas:
  // the response contract (tested in threat-defence.test.ts) would rightly strip it.
  const t = await startTestGateway({ spec: spec.file, yaml: { responses: { contract: 'off' } } });
  try {
    const model = t.gw.runtime().apis[0]!.model;
    assert.equal(model.operations.length, spec.operations);
    const scopes = [...new Set(model.operations.flatMap((o) => o.security.flatMap((a) => a.scopes)))];
    const { key } = await t.key(scopes.length > 0 ? scopes : ['none']);
    // Every tenth sample keeps the run short while covering each group of the generator.
    const picked = spec.samples.filter((_, i) => i % 10 === 0);
    for (const s of picked) {
      const path = s.path + (s.rawQuery ? `?${s.rawQuery}` : '');
      const r = await t.request(s.method, path, {
        headers: { ...s.headers, authorization: `Bearer ${key}`, ...(s.body !== undefined ? { 'content-type': s.headers['content-type'] ?? 'application/json' } : {}) },
        ...(s.body !== undefined ? { body: s.body } : {}),
      });
      assert.ok(r.status < 300, `${s.id} ${s.method} ${path}: ${r.status} ${r.body.toString().slice(0, 300)}`);
      if (s.method !== 'HEAD') assert.equal(r.json().url, path, `${s.id} forwarded as routed`);
    }
    const unknown = await t.request('GET', '/definitely/not/in/the/document', { headers: { authorization: `Bearer ${key}` } });
    assert.equal(unknown.status, 404);
  } finally {
    await t.close();
    dir.remove();
  }
});
