/**
 * Attack: a response that makes `verifyResponse` buffer without end. The signature does
 * not need the body (it covers the Content-Digest field), so it is checked first: an
 * unsigned or forged response is refused before a byte of its body is pulled. The body
 * of a verified one is then read up to `maxBodyBytes` (default 32 MiB, above anything the
 * gateway signs): headers replayed in front of an endless body are
 * `response.body-too-large` once the limit is passed, never hashed whole.
 *
 * The responses here are built by the test and answer no request, so each call opts out
 * of the request binding (`requestBinding: false`); the body path is the same either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortcullisError } from '../../src/core/errors.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { VerificationKey } from '../../src/signatures/verify.js';
import { verifyResponse } from '../../src/sdk/index.js';

const code = (c: string) => (e: unknown) => e instanceof PortcullisError && e.code === c;
const MiB = 1024 * 1024;

/** A body of `total` bytes in 64 KiB chunks, counting what was pulled from it. */
function counted(total: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulled >= total) return c.close();
      pulled += chunk.byteLength;
      c.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => pulled };
}

/** Headers of a response signed over @status and content-digest (of `body`), and its key. */
async function signedHeaders(body: Uint8Array): Promise<{ keys: ReadonlyMap<string, VerificationKey>; headers: Headers }> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const headers = new Headers({ 'content-type': 'application/json', 'content-digest': await contentDigest(body, ['sha-256']) });
  const s = await signMessage({ status: 200, headers }, { key: pair.privateKey, alg: 'ed25519', keyid: 'resp-1', components: ['@status', 'content-digest'] });
  headers.set('signature-input', s.signatureInput);
  headers.set('signature', s.signature);
  return { keys: new Map([['resp-1', { alg: 'ed25519', key: pair.publicKey }]]), headers };
}

test('attack: an unsigned response with a 40 MiB body is signature.missing before its body is read', async () => {
  const { stream, pulled } = counted(40 * MiB);
  const { keys } = await signedHeaders(new Uint8Array(0));
  await assert.rejects(verifyResponse(new Response(stream, { status: 200 }), { keys, requestBinding: false }), code('signature.missing'));
  assert.ok(pulled() <= 64 * 1024, `${pulled()} bytes pulled`);
});

test('attack: a forged signature in front of a 40 MiB body is signature.invalid before its body is read', async () => {
  const { headers } = await signedHeaders(new TextEncoder().encode('{}'));
  const { keys: otherKeys } = await signedHeaders(new Uint8Array(0));
  const { stream, pulled } = counted(40 * MiB);
  await assert.rejects(verifyResponse(new Response(stream, { status: 200, headers }), { keys: otherKeys, requestBinding: false }), code('signature.invalid'));
  assert.ok(pulled() <= 64 * 1024, `${pulled()} bytes pulled`);
});

test('attack: signed headers replayed in front of an endless body are response.body-too-large once maxBodyBytes is passed', async () => {
  const { keys, headers } = await signedHeaders(new TextEncoder().encode('{}'));
  const { stream, pulled } = counted(40 * MiB);
  await assert.rejects(verifyResponse(new Response(stream, { status: 200, headers }), { keys, requestBinding: false, maxBodyBytes: MiB }), (e: unknown) => e instanceof PortcullisError && e.code === 'response.body-too-large' && e.status === 502);
  assert.ok(pulled() <= 2 * MiB, `${pulled()} bytes pulled`);
});

test('attack: a Content-Length above maxBodyBytes is response.body-too-large without reading', async () => {
  const { keys, headers } = await signedHeaders(new TextEncoder().encode('{}'));
  headers.set('content-length', String(2 * MiB));
  const { stream, pulled } = counted(2 * MiB);
  await assert.rejects(verifyResponse(new Response(stream, { status: 200, headers }), { keys, requestBinding: false, maxBodyBytes: MiB }), code('response.body-too-large'));
  assert.equal(pulled(), 0);
});

test('a signed body within the limit verifies, and the response stays readable for the app', async () => {
  const body = new TextEncoder().encode('{"ok":true}');
  const { keys, headers } = await signedHeaders(body);
  const res = new Response(body, { status: 200, headers });
  const v = await verifyResponse(res, { keys, requestBinding: false, maxBodyBytes: body.byteLength });
  assert.equal(new TextDecoder().decode(v.body), '{"ok":true}');
  assert.deepEqual(await res.json(), { ok: true });
  const tooBig = await signedHeaders(body);
  await assert.rejects(verifyResponse(new Response(body, { status: 200, headers: tooBig.headers }), { keys: tooBig.keys, requestBinding: false, maxBodyBytes: body.byteLength - 1 }), code('response.body-too-large'));
});

test('a body without a Content-Digest is still digest.missing, and a changed one digest.mismatch, after the signature', async () => {
  const { keys, headers } = await signedHeaders(new TextEncoder().encode('{}'));
  await assert.rejects(verifyResponse(new Response('{"x":1}', { status: 200, headers }), { keys, requestBinding: false }), code('digest.mismatch'));
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const bare = new Headers();
  const s = await signMessage({ status: 200, headers: bare }, { key: pair.privateKey, alg: 'ed25519', keyid: 'k', components: ['@status'] });
  bare.set('signature-input', s.signatureInput);
  bare.set('signature', s.signature);
  await assert.rejects(verifyResponse(new Response('{"x":1}', { status: 200, headers: bare }), { keys: new Map([['k', { alg: 'ed25519', key: pair.publicKey }]]), requestBinding: false }), code('digest.missing'));
});
