/**
 * Requests fastify refuses before routing (bad percent-encoding, an over-long path
 * parameter) get the same problem+json answer, typed code and security headers as
 * every other error, not fastify's own JSON.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from './node.js';

describe('admin API: errors raised by the framework before routing', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(async () => {
    await t.close();
  });

  test('GET /v1/apps/%ZZ (bad percent-encoding) → 400 problem+json request.malformed with nosniff', async () => {
    const r = await t.api('/v1/apps/%ZZ');
    assert.equal(r.status, 400);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(r.body.code, 'request.malformed');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.doesNotMatch(JSON.stringify(r.body), /FST_/);
  });

  test('GET /v1/apps/<300 characters> (path parameter too long) → 414 problem+json request.malformed', async () => {
    const r = await t.api(`/v1/apps/${'a'.repeat(300)}`);
    assert.equal(r.status, 414);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(r.body.code, 'request.malformed');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.doesNotMatch(JSON.stringify(r.body), /FST_/);
  });
});
