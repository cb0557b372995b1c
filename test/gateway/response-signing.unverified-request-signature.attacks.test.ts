/**
 * Signed responses on a route that does not verify request signatures (`signResponses`
 * without `require.signature`): a request signed by the SDK's `createSignedFetch` got a
 * response bound through `@method`, `@authority`, `@path` and `@query` only, while
 * `verifyResponse` requires a signed request's own signature (`"signature";req;key=…`),
 * so SDK users could never verify such a response. The gateway now binds the request's
 * Signature member too, beside the four components: it did not verify that signature,
 * so the member proves only that the request it answered carried it (this request, not
 * an earlier one to the same URL), and the four components still prove which request it was.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSignedFetch, verifyResponse } from '../../src/sdk/index.js';
import { code, startAccountGateway, type AccountGateway } from './response-signing-fixture.js';

const signedFetch = createSignedFetch({ keyid: 'app1.k1', hmacSecret: randomBytes(32).toString('base64url') });
let gw: AccountGateway;
let keys: AccountGateway['keys'];

before(async () => {
  gw = await startAccountGateway('gw-unverified');
  keys = gw.keys;
});
after(() => gw.close());

describe('a route that signs responses but does not verify request signatures', () => {
  test('the SDK verifies the response to its own signed request (createSignedFetch → verifyResponse)', async () => {
    const res = await signedFetch(`${gw.url}/acct/alice?view=full`);
    const v = await verifyResponse(res, keys);
    assert.ok(v.components.includes('"signature";req;key="sig1"'), v.components.join(' '));
    // the gateway did not verify that signature: the request is still named by its own components
    for (const c of ['"@method";req', '"@authority";req', '"@path";req', '"@query";req']) assert.ok(v.components.includes(c), `${c} in ${v.components.join(' ')}`);
    assert.equal(JSON.parse(new TextDecoder().decode(v.body)).balance, 10);
  });

  test("attack: the client's Signature copied onto GET /acct/bob, its answer passed off as the answer to /acct/alice → signature.invalid", async () => {
    const res = await signedFetch(`${gw.url}/acct/alice`);
    await res.arrayBuffer();
    const { requestOf } = await import('../../src/sdk/signed-fetch.js');
    const sent = requestOf(res)!;
    const bob = await fetch(`${gw.url}/acct/bob`, { headers: { 'signature-input': sent.headers.get('signature-input')!, signature: sent.headers.get('signature')! } });
    await assert.rejects(verifyResponse(bob, { ...keys, request: sent }), code('signature.invalid'));
  });

  test('attack: an earlier answer to the same URL passed off as the answer to a later signed request → signature.invalid', async () => {
    const earlier = await signedFetch(`${gw.url}/acct/alice`);
    const later = await signedFetch(`${gw.url}/acct/alice`);
    const { requestOf } = await import('../../src/sdk/signed-fetch.js');
    await assert.rejects(verifyResponse(earlier, { ...keys, request: requestOf(later)! }), code('signature.invalid'));
  });

  test('a Signature that is not a structured dictionary does not break the answer: it is bound through the four components only', async () => {
    const request = new Request(`${gw.url}/acct/alice`, { headers: { signature: 'not a dictionary ((' } });
    const res = await fetch(request.clone());
    assert.equal(res.status, 200);
    const v = await verifyResponse(res, { ...keys, request: { method: 'GET', url: request.url, headers: {} } });
    assert.ok(!v.components.some((c) => c.startsWith('"signature"')), v.components.join(' '));
  });
});
