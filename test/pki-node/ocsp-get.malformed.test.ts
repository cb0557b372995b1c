/**
 * OCSP over GET (RFC 6960 Appendix A.1) with a path that is not validly percent-encoded:
 * an OCSP client expects an OCSP response, so the answer is `malformedRequest`
 * (application/ocsp-response, 200, not cacheable) exactly as for a POST of malformed DER,
 * not the plane's problem+json 400.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';

const MALFORMED_REQUEST = '30030a0101';
let node: TestNode | undefined;
after(async () => node?.stop());

test('GET /pki/ocsp/<not percent-encoded> answers an OCSP malformedRequest response, as POST of malformed DER does', async () => {
  const n = await startTestNode({ config: testConfig('pki: { trustDomain: example.org }') });
  node = n;
  const post = await fetch(`${n.urls.identity}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from('3003020101', 'hex') });
  const postBody = Buffer.from(await post.arrayBuffer()).toString('hex');
  assert.deepEqual([post.status, post.headers.get('content-type'), post.headers.get('cache-control'), postBody], [200, 'application/ocsp-response', 'no-store', MALFORMED_REQUEST]);
  for (const path of ['%%%', '%ZZ', 'MAMCAQ%3D%3', 'a/%E0%A4%A']) {
    const r = await fetch(`${n.urls.identity}/pki/ocsp/${path}`);
    const body = Buffer.from(await r.arrayBuffer()).toString('hex');
    assert.deepEqual([r.status, r.headers.get('content-type'), r.headers.get('cache-control'), body], [200, 'application/ocsp-response', 'no-store', MALFORMED_REQUEST], path);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', 'the security headers as on every answer');
  }
  // elsewhere on the plane a bad path is still problem+json
  const other = await fetch(`${n.urls.identity}/pki/crl/%%%.crl`);
  assert.equal(other.status, 400);
  assert.equal(other.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  assert.equal(((await other.json()) as { code: string }).code, 'request.malformed');
  const post404 = await fetch(`${n.urls.identity}/pki/ocsp/%%%`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.from('30', 'hex') });
  assert.equal(post404.headers.get('content-type'), 'application/problem+json; charset=utf-8');
});
