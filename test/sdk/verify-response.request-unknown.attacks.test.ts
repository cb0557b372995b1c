/**
 * Attack: a signed response replayed as the answer to another request. The gateway binds
 * each signed response to its request (`"signature";req;key=…`, or the request's
 * `@method`, `@authority`, `@path`, `@query` with `;req`); `verifyResponse` can check that
 * binding only when it knows the request. Without one (none given, none remembered by
 * `createSignedFetch` for that Response, e.g. a clone or a Response the app built itself),
 * it checked no binding at all: a response signed with the key over `@status` and
 * `content-digest` only was accepted as the answer to whatever the app had asked. It now
 * refuses with `signature.request-unknown` before anything else. `requestBinding: false`
 * is the explicit, weaker opt-out; a request that is known is still checked with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortcullisError } from '../../src/core/errors.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { VerificationKey } from '../../src/signatures/verify.js';
import { createSignedFetch, requestOf, verifyResponse } from '../../src/sdk/index.js';

const code = (c: string) => (e: unknown) => e instanceof PortcullisError && e.code === c;
const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
const keys: ReadonlyMap<string, VerificationKey> = new Map([['resp-1', { alg: 'ed25519', key: pair.publicKey }]]);

/** A request signed by createSignedFetch, as sent. */
async function signedRequest(path: string): Promise<Request> {
  const f = createSignedFetch({ keyid: 'app1.k1', hmacSecret: btoa('x'.repeat(32)).replace(/=+$/, ''), fetch: async () => new Response('x') });
  return requestOf(await f(`https://api.example${path}`))!;
}

/**
 * A response signed over @status and content-digest and, given `request`, bound to its
 * signature as the gateway binds it; without one, bound to nothing.
 */
async function answerTo(request: Request | undefined, body: string): Promise<Response> {
  const headers = new Headers({ 'content-type': 'application/json', 'content-digest': await contentDigest(new TextEncoder().encode(body), ['sha-256']) });
  const s = await signMessage(
    { status: 200, headers },
    request === undefined
      ? { key: pair.privateKey, alg: 'ed25519', keyid: 'resp-1', components: ['@status', 'content-digest'] }
      : { key: pair.privateKey, alg: 'ed25519', keyid: 'resp-1', components: ['@status', 'content-digest', '"signature";req;key="sig1"'], request: { method: request.method, url: request.url, headers: request.headers } },
  );
  headers.set('signature-input', s.signatureInput);
  headers.set('signature', s.signature);
  return new Response(body, { status: 200, headers });
}

test('attack: a signed response bound to no request, verified with no request (none given, none remembered), is signature.request-unknown, not accepted', async () => {
  const unbound = await answerTo(undefined, '{"balance":1000000}');
  await assert.rejects(verifyResponse(unbound.clone(), { keys }), (e: unknown) => code('signature.request-unknown')(e) && (e as PortcullisError).status === 500);
  // with the request it is refused as it always was
  await assert.rejects(verifyResponse(unbound.clone(), { keys, request: await signedRequest('/acct/bob') }), code('signature.component-missing'));
});

test("attack: Alice's bound answer verified with no request is signature.request-unknown (not a component error about the signature)", async () => {
  const captured = await answerTo(await signedRequest('/acct/alice'), '{"balance":1000000}');
  await assert.rejects(verifyResponse(captured.clone(), { keys }), code('signature.request-unknown'));
  await assert.rejects(verifyResponse(captured.clone(), { keys, request: await signedRequest('/acct/bob') }), code('signature.invalid'));
});

test('attack: a clone of a response from createSignedFetch has no remembered request: signature.request-unknown', async () => {
  const alice = await signedRequest('/acct/alice');
  const answer = await answerTo(alice, '{}');
  const f = createSignedFetch({ keyid: 'app1.k1', hmacSecret: btoa('x'.repeat(32)).replace(/=+$/, ''), fetch: async () => answer });
  const res = await f('https://api.example/acct/bob');
  assert.ok(requestOf(res));
  await assert.rejects(verifyResponse(res.clone(), { keys }), code('signature.request-unknown'));
  // the original, whose request is remembered, is checked against it (Bob's): Alice's answer is not his
  await assert.rejects(verifyResponse(res, { keys }), code('signature.invalid'));
});

test('signature.request-unknown is thrown before anything is fetched or read', async () => {
  const answer = await answerTo(await signedRequest('/acct/alice'), '{}');
  let fetched = 0;
  const jwksFetch = (async () => {
    fetched++;
    return Response.json({ keys: [] });
  }) as typeof fetch;
  await assert.rejects(verifyResponse(answer, { jwksUrl: 'https://id.example/jwks', fetch: jwksFetch }), code('signature.request-unknown'));
  assert.equal(fetched, 0);
  assert.equal(answer.bodyUsed, false);
});

test('requestBinding: false opts out explicitly: a response whose request is unknown verifies (signature and digest only)', async () => {
  const answer = await answerTo(undefined, '{"ok":true}');
  const v = await verifyResponse(answer.clone(), { keys, requestBinding: false });
  assert.equal(v.keyid, 'resp-1');
  assert.equal(new TextDecoder().decode(v.body), '{"ok":true}');
  // the signature and digest are still checked
  await assert.rejects(verifyResponse(new Response('{"ok":false}', { status: 200, headers: answer.headers }), { keys, requestBinding: false }), code('digest.mismatch'));
  // a signature over request components cannot be checked without the request, opted out or not
  const bound = await answerTo(await signedRequest('/acct/alice'), '{}');
  await assert.rejects(verifyResponse(bound, { keys, requestBinding: false }), code('signature.component-missing'));
});

test('requestBinding: false does not switch off the check of a request that is known', async () => {
  const answer = await answerTo(await signedRequest('/acct/alice'), '{}');
  await assert.rejects(verifyResponse(answer, { keys, requestBinding: false, request: await signedRequest('/acct/bob') }), code('signature.invalid'));
});
