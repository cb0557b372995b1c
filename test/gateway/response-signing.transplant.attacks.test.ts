/**
 * Response transplant: a signed response must answer the request it is checked against.
 * For a signed request the response covers `"signature";req;key=…`; for an unsigned one
 * it covered only `@status` and `content-digest`, so any response Portcullis signed in
 * the last five minutes (another account's balance, another route's answer) verified as
 * the answer to any request. It now covers the request's `@method`, `@authority`,
 * `@path` and `@query` (`;req`), and `verifyResponse` given an unsigned request requires them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyResponse } from '../../src/sdk/index.js';
import { code, startAccountGateway, type AccountGateway } from './response-signing-fixture.js';

let gw: AccountGateway;
let keys: AccountGateway['keys'];

before(async () => {
  gw = await startAccountGateway('gw-transplant');
  keys = gw.keys;
});
after(() => gw.close());

describe('a signed response answers its own request (unsigned requests too)', () => {
  test('the response to an unsigned request verifies against that request', async () => {
    const request = new Request(`${gw.url}/acct/alice?view=full`);
    const res = await fetch(request.clone());
    const v = await verifyResponse(res, { ...keys, request });
    assert.ok(v.components.includes('"@path";req'), v.components.join(' '));
  });

  test('attack: the response to GET /acct/bob replayed as the answer to GET /acct/alice → signature.invalid', async () => {
    const bob = await fetch(`${gw.url}/acct/bob`);
    const alice = new Request(`${gw.url}/acct/alice`);
    await assert.rejects(verifyResponse(bob, { ...keys, request: alice }), code('signature.invalid'));
  });

  test('attack: the same path with another query, or another method → signature.invalid', async () => {
    const full = await fetch(`${gw.url}/acct/alice?view=full`);
    await assert.rejects(verifyResponse(full, { ...keys, request: new Request(`${gw.url}/acct/alice?view=short`) }), code('signature.invalid'));
    const get = await fetch(`${gw.url}/acct/alice`);
    await assert.rejects(verifyResponse(get, { ...keys, request: new Request(`${gw.url}/acct/alice`, { method: 'DELETE' }) }), code('signature.invalid'));
  });

  test('attack: a response signed over @status and content-digest alone is not bound to the unsigned request given → signature.component-missing', async () => {
    const { signMessage } = await import('../../src/signatures/sign.js');
    const { importParams } = await import('../../src/signatures/algorithms.js');
    const { contentDigest } = await import('../../src/signatures/content-digest.js');
    const key = await crypto.subtle.importKey('jwk', gw.privateKey.export({ format: 'jwk' }) as JsonWebKey, importParams('ecdsa-p256-sha256'), false, ['sign']);
    const body = new TextEncoder().encode('{"balance":1000000}');
    const headers = new Headers({ 'content-digest': await contentDigest(body) });
    const s = await signMessage({ status: 200, headers }, { key, alg: 'ecdsa-p256-sha256', keyid: 'gw-transplant', components: ['@status', 'content-digest'] });
    headers.set('signature-input', s.signatureInput);
    headers.set('signature', s.signature);
    const unbound = new Response(body, { status: 200, headers });
    await assert.rejects(verifyResponse(unbound, { ...keys, request: new Request(`${gw.url}/acct/alice`) }), code('signature.component-missing'));
  });
});
