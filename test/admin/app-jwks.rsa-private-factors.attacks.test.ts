/**
 * An app's JWKS holds public keys only. An RSA JWK that leaves out `d` but carries the other
 * private members (`p`, `q`, `dp`, `dq`, `qi`, `oth`) still reads as a public key, and the JWKS
 * is stored as given: the primes that factor `n` would sit in the store in the clear, enough to
 * rebuild the app's private key and sign client assertions as the app. Such a key is refused
 * at registration and by `PUT jwks`, and nothing is stored.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t.close());

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const { d: _d, ...privateWithoutD } = privateKey.export({ format: 'jwk' }) as Record<string, string>;
const PUBLIC = { kty: 'RSA', n: privateWithoutD.n!, e: privateWithoutD.e! };
const REFUSED = 'jwks[0]: only public keys may be registered';

test('attack: POST /v1/apps with an RSA JWK carrying p, q, dp, dq or qi (no d) → 400 request.invalid; no app registered', async () => {
  const count = async () => ((await t.api('/v1/apps')).body.apps as unknown[]).length;
  const before = await count();
  for (const member of ['p', 'q', 'dp', 'dq', 'qi']) {
    const r = await t.api('/v1/apps', { body: { name: 'svc', audiences: ['api'], jwks: { keys: [{ ...PUBLIC, [member]: privateWithoutD[member] }] } } });
    assert.equal(r.status, 400, `${member}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'request.invalid');
    assert.equal(r.body.detail, REFUSED);
  }
  const all = await t.api('/v1/apps', { body: { name: 'svc', audiences: ['api'], jwks: { keys: [privateWithoutD] } } });
  assert.equal(all.status, 400, JSON.stringify(all.body));
  assert.equal(all.body.code, 'request.invalid');
  assert.equal(await count(), before);
});

test('attack: PUT /v1/apps/:id/jwks with an RSA JWK carrying the primes (no d) → 400 request.invalid; the app keeps its keys', async () => {
  const created = await t.api('/v1/apps', { body: { name: 'svc', audiences: ['api'], jwks: { keys: [PUBLIC] } } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.client_id as string;
  const r = await t.api(`/v1/apps/${id}/jwks`, { method: 'PUT', body: { keys: [privateWithoutD] } });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.code, 'request.invalid');
  assert.equal(r.body.detail, REFUSED);
  const stored = await t.node.services.store.getApp(id);
  assert.deepEqual(stored?.jwks, [PUBLIC]);
});

test('the public part of the same key is registered', async () => {
  const r = await t.api('/v1/apps', { body: { name: 'svc', audiences: ['api'], jwks: { keys: [PUBLIC] } } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.app.token_endpoint_auth_method, 'private_key_jwt');
});
