/**
 * Attack: a JWKS URL that redirects hands the SDK someone else's keys. fetch follows a 3xx
 * by default, so whoever controls the redirect (an open redirect on the identity plane's
 * host, a proxy, a compromised path) decides which keys verify responses and webhooks and
 * which key requests are encrypted to. The SDK follows no redirect for a JWKS: a 3xx is a
 * failed fetch (`unavailable`, failing closed), and the Location is never fetched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importParams } from '../../src/signatures/algorithms.js';
import { signMessage } from '../../src/signatures/sign.js';
import { createSignedFetch, encryptForPortcullis, KeyResolver, PortcullisError, requestOf, verifyResponse } from '../../src/sdk/index.js';

const attacker = generateKeyPairSync('ed25519');
const attackerEnc = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const attackerJwks = {
  keys: [
    { ...(attacker.publicKey.export({ format: 'jwk' }) as object), kid: 'resp-1', alg: 'EdDSA', use: 'sig' },
    { ...(attackerEnc.publicKey.export({ format: 'jwk' }) as object), kid: 'enc-1', alg: 'ECDH-ES+A256KW', use: 'enc' },
  ],
};

let elsewhere: Server;
let redirector: Server;
let elsewhereUrl: string;
let redirectorUrl: string;
let elsewhereHits = 0;

before(async () => {
  elsewhere = createServer((req, res) => {
    req.resume();
    elsewhereHits++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    res.end(JSON.stringify(attackerJwks));
  });
  await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
  elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
  // /<status>/<anything>: answers <status> with Location: the other server's JWKS
  redirector = createServer((req, res) => {
    req.resume();
    res.writeHead(Number(req.url!.split('/')[1]), { location: `${elsewhereUrl}/jwks` });
    res.end();
  });
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
});
after(() => {
  elsewhere.close();
  redirector.close();
});

const unavailable = (e: unknown) => e instanceof PortcullisError && e.code === 'unavailable' && /redirect/.test(e.message);

/** A response signed with the attacker's key, bound to a signed request. */
async function attackerSignedResponse(): Promise<{ request: Request; response: Response }> {
  const f = createSignedFetch({ keyid: 'k', hmacSecret: Buffer.alloc(32, 2).toString('base64url'), fetch: async () => new Response('x') });
  const request = requestOf(await f('https://api.example/orders', { method: 'POST', body: '{}' }))!;
  const body = '{"pay":"attacker"}';
  const headers = new Headers({ 'content-type': 'application/json', 'content-digest': `sha-256=:${Buffer.from(await crypto.subtle.digest('SHA-256', Buffer.from(body))).toString('base64')}:` });
  const key = await crypto.subtle.importKey('jwk', attacker.privateKey.export({ format: 'jwk' }) as JsonWebKey, importParams('ed25519'), false, ['sign']);
  const s = await signMessage({ status: 200, headers }, { key, alg: 'ed25519', keyid: 'resp-1', components: ['@status', 'content-digest', '"signature";req;key="sig1"'], request: { method: request.method, url: request.url, headers: request.headers } });
  headers.set('signature-input', s.signatureInput);
  headers.set('signature', s.signature);
  return { request, response: new Response(body, { status: 200, headers }) };
}

describe('attack: a JWKS URL redirects to a server serving other keys', () => {
  test('the keys served directly verify (control: the attacker response is otherwise valid)', async () => {
    const { request, response } = await attackerSignedResponse();
    assert.equal((await verifyResponse(response, { jwksUrl: `${elsewhereUrl}/jwks`, request })).keyid, 'resp-1');
  });

  for (const status of [301, 302, 303, 307, 308]) {
    test(`verifyResponse: a ${status} to another origin is unavailable, the Location never fetched, the response not verified`, async () => {
      const { request, response } = await attackerSignedResponse();
      const before = elsewhereHits;
      await assert.rejects(verifyResponse(response, { jwksUrl: `${redirectorUrl}/${status}/verify/jwks`, request }), unavailable);
      assert.equal(elsewhereHits, before, 'the redirect target was fetched');
    });
  }

  test('KeyResolver and encryptForPortcullis: a 302 is unavailable, no key from the Location is used', async () => {
    const before = elsewhereHits;
    await assert.rejects(new KeyResolver({ jwksUrl: `${redirectorUrl}/302/resolver/jwks` }).get('resp-1'), unavailable);
    await assert.rejects(encryptForPortcullis(new TextEncoder().encode('card 4111'), { jwksUrl: `${redirectorUrl}/302/encrypt/jwks`, context: { aud: 'orders-api', app: 'app-1' } }), unavailable);
    assert.equal(elsewhereHits, before);
  });

  test('a fetch given to the SDK that follows the redirect anyway: its answer is refused (unavailable)', async () => {
    const { request, response } = await attackerSignedResponse();
    const following = ((url: string, init?: RequestInit) => fetch(url, { ...init, redirect: 'follow' })) as typeof fetch;
    const before = elsewhereHits;
    await assert.rejects(verifyResponse(response, { jwksUrl: `${redirectorUrl}/302/following/jwks`, request, fetch: following }), unavailable);
    assert.equal(elsewhereHits, before + 1, 'the custom fetch did follow');
  });
});
