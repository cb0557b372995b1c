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
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { PortcullisError } from '../../src/core/errors.js';
import { responseSigningStep } from '../../src/gateway/response-signing.js';
import { createSignedFetch, verifyResponse, type PublicJwk } from '../../src/sdk/index.js';
import { route, startGateway, startUpstream, type TestGateway, type Upstream } from './helpers.js';

const rsKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keys = { keys: [{ ...rsKey.publicKey.export({ format: 'jwk' }), kid: 'gw-unverified', alg: 'ES256', use: 'sig' } as PublicJwk] };
const signedFetch = createSignedFetch({ keyid: 'app1.k1', hmacSecret: randomBytes(32).toString('base64url') });

let upstream: Upstream;
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream((req, res) =>
    req
      .on('end', () => {
        const body = JSON.stringify({ account: req.url, balance: req.url!.includes('alice') ? 10 : 1_000_000 });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      })
      .resume(),
  );
  gw = await startGateway([route({ name: 'acct', match: { pathPrefix: '/acct' }, upstream: upstream.url, signResponses: true })], {
    steps: (r) => (r.signResponses ? [responseSigningStep({ keys: { signingKey: () => ({ kid: 'gw-unverified', alg: 'ES256', privateKey: rsKey.privateKey }) }, clock: { now: () => Date.now() } })] : []),
  });
});
after(async () => {
  await gw.close();
  await upstream.close();
});

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof PortcullisError, String(e));
  assert.equal(e.code, c, e.message);
  return true;
};

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
