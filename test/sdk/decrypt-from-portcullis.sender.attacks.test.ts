/**
 * Attack: a forged encrypted response. With the public-key algorithms (ECDH-ES+A256KW,
 * ECDH-ES, RSA-OAEP-256) the app's key is public, so anyone can encrypt to it, with the
 * right `aud`, `pc_app`, `pc_rid` and `pc_dir: "response"`: decrypting proves what the
 * response says, never who sent it. Only the gateway's response signature does. So
 * `decryptFromPortcullis` also takes what `verifyResponse` returned (the body it checked
 * against Portcullis's signing key), and only that: an object that merely looks like it
 * (or a verified webhook) is a TypeError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactEncrypt, exportJWK, generateKeyPair, type JWK } from 'jose';
import { PortcullisError } from '../../src/core/errors.js';
import { contextHeader } from '../../src/crypto/jwe/policy.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { VerificationKey } from '../../src/signatures/verify.js';
import { createSignedFetch, decryptFromPortcullis, requestOf, verifyResponse, type VerifiedBody } from '../../src/sdk/index.js';

const code = (c: string) => (e: unknown) => e instanceof PortcullisError && e.code === c;
const context = { aud: 'records-api', app: 'app_1', requestId: 'req-7f3a' };

// the app's registered public key (anyone may hold it) and its private half (the app's)
const app = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256', extractable: true });
const appPrivate: JWK = { ...(await exportJWK(app.privateKey)), alg: 'ECDH-ES+A256KW', use: 'enc' };
// Portcullis's response-signing key, and a stranger's
const portcullis = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
const stranger = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
const keys: ReadonlyMap<string, VerificationKey> = new Map([['pc-1', { alg: 'ed25519', key: portcullis.publicKey }]]);

/** What anyone can make: a "response" JWE to the app's public key, with the context right. */
async function encryptedResponse(text: string): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(text))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', cty: 'application/json', ...contextHeader({ ...context, response: true }) })
    .encrypt(app.publicKey);
}

async function sentRequest(): Promise<Request> {
  const f = createSignedFetch({ keyid: 'app1.k1', hmacSecret: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', fetch: async () => new Response('x') });
  return requestOf(await f('https://gw.example/records/1', { headers: { 'x-request-id': context.requestId } }))!;
}

/** The JWE sent as the gateway sends it: signed over @status, content-digest and the request's signature, with `signer`. */
async function signed(jwe: string, request: Request, signer: CryptoKey): Promise<Response> {
  const headers = new Headers({ 'content-type': 'application/jose', 'content-digest': await contentDigest(new TextEncoder().encode(jwe), ['sha-256']) });
  const s = await signMessage(
    { status: 200, headers },
    { key: signer, alg: 'ed25519', keyid: 'pc-1', components: ['@status', 'content-digest', '"signature";req;key="sig1"'], request: { method: request.method, url: request.url, headers: request.headers } },
  );
  headers.set('signature-input', s.signatureInput);
  headers.set('signature', s.signature);
  return new Response(jwe, { status: 200, headers });
}

test("attack (documented limit): a JWE anyone made to the app's public key decrypts from a string, context and all: decryption proves nothing about the sender", async () => {
  const forged = await encryptedResponse('{"balance":1000000}');
  assert.equal((await decryptFromPortcullis(forged, appPrivate, { context })).text(), '{"balance":1000000}');
});

test("decryptFromPortcullis takes verifyResponse's result: a response Portcullis signed and encrypted to the app's public key opens", async () => {
  const request = await sentRequest();
  const verified = await verifyResponse(await signed(await encryptedResponse('{"balance":10}'), request, portcullis.privateKey), { keys, request });
  const r = await decryptFromPortcullis(verified, appPrivate, { context });
  assert.equal(r.text(), '{"balance":10}');
  assert.equal(r.contentType, 'application/json');
});

test('attack: the forged JWE sent signed by another key, or unsigned, never reaches decryption: verifyResponse refuses it', async () => {
  const request = await sentRequest();
  const forged = await encryptedResponse('{"balance":1000000}');
  await assert.rejects(verifyResponse(await signed(forged, request, stranger.privateKey), { keys, request }), code('signature.invalid'));
  await assert.rejects(verifyResponse(new Response(forged, { status: 200 }), { keys, request }), code('signature.missing'));
});

test("misuse: an object that only looks like verifyResponse's result (or a verified webhook) is a TypeError, never decrypted", async () => {
  const forged = await encryptedResponse('{"balance":1000000}');
  const lookalike = { label: 'sig1', keyid: 'pc-1', alg: 'ed25519', params: {}, components: [], body: new TextEncoder().encode(forged) } as unknown as VerifiedBody;
  const typeError = (e: unknown) => e instanceof TypeError && /verifyResponse/.test(e.message);
  await assert.rejects(decryptFromPortcullis(lookalike, appPrivate, { context }), typeError);
  // a copy of a real result, its body swapped for the forgery, is no result either
  const request = await sentRequest();
  const verified = await verifyResponse(await signed(await encryptedResponse('{"balance":10}'), request, portcullis.privateKey), { keys, request });
  await assert.rejects(decryptFromPortcullis({ ...verified, body: new TextEncoder().encode(forged) }, appPrivate, { context }), typeError);
  // and the real one decrypts what was verified, even if its body field is reassigned afterwards
  verified.body = new TextEncoder().encode(forged);
  assert.equal((await decryptFromPortcullis(verified, appPrivate, { context })).text(), '{"balance":10}');
});
