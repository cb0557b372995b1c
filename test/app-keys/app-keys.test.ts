/**
 * App signing keys through the admin API of a real node: the HMAC secret is shown
 * once and sealed at rest, public keys (JWK and PEM) get the algorithm of their key,
 * several keys are active at once, revocation takes effect in memory, and the
 * attacks on registration (private keys, weak RSA, a keyid of another app) fail with
 * their exact code.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signMessage } from '../../src/signatures/sign.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { SignatureVerifier } from '../../src/signatures/verify.js';
import type { SignatureAlgorithm } from '../../src/signatures/types.js';
import { startTestNode, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let clientId: string;
let otherClientId: string;

async function api(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(node.urls.admin + path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${node.adminToken}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Signs a request with `key` and verifies it with the node's in-memory lookup, as the gateway will. */
async function verifiesThroughLookup(keyid: string, alg: SignatureAlgorithm, key: CryptoKey): Promise<{ clientId: string }> {
  const msg = { method: 'POST', url: 'https://api.example/orders', headers: new Headers({ 'content-type': 'application/json' }) };
  const s = await signMessage(msg, { key, alg, keyid, components: ['@method', '@target-uri', 'content-type'] });
  msg.headers.set('signature-input', s.signatureInput);
  msg.headers.set('signature', s.signature);
  let owner = '';
  const verifier = new SignatureVerifier({
    keyLookup: (kid) => {
      const found = kid === undefined ? undefined : node.services.appSigningKeys.lookup(kid);
      if (found) owner = found.clientId;
      return found;
    },
    requiredComponents: ['@method', '@target-uri'],
  });
  await verifier.verify(msg);
  return { clientId: owner };
}

const privateCryptoKey = async (k: KeyObject, alg: SignatureAlgorithm) =>
  crypto.subtle.importKey('jwk', k.export({ format: 'jwk' }) as JsonWebKey, importParams(alg), false, ['sign']);

before(async () => {
  node = await startTestNode();
  clientId = (await node.services.apps.create({ name: 'signer', audiences: ['orders-api'], scopes: [] }, 'test')).app.clientId;
  otherClientId = (await node.services.apps.create({ name: 'other', audiences: ['orders-api'], scopes: [] }, 'test')).app.clientId;
});
after(() => node.stop());

describe('app signing keys (admin API)', () => {
  test('HMAC: the secret is in the creation response only, never listed, sealed in the SQLite file, and verifies through lookup', async () => {
    const created = await api(`/v1/apps/${clientId}/keys`, { body: { type: 'hmac' } });
    assert.equal(created.status, 201);
    const { key, secret } = created.body;
    assert.equal(key.alg, 'hmac-sha256');
    assert.equal(key.type, 'hmac');
    assert.equal(key.status, 'active');
    assert.equal(key.public_jwk, null);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    const raw = Buffer.from(secret, 'base64url');
    assert.equal(raw.length, 32);

    const listed = await api(`/v1/apps/${clientId}/keys`);
    assert.equal(listed.status, 200);
    assert.ok(listed.body.keys.some((k: any) => k.keyid === key.keyid));
    assert.ok(!JSON.stringify(listed.body).includes(secret), 'the list never carries the secret');

    // Encrypted at rest: neither the base64url text nor the raw bytes are in the database files (incl. WAL).
    const files = readdirSync(node.dir).filter((f) => f.startsWith('portcullis.db'));
    assert.ok(files.length > 0);
    for (const f of files) {
      const bytes = readFileSync(join(node.dir, f));
      assert.equal(bytes.indexOf(secret), -1, `${f} contains the secret text`);
      assert.equal(bytes.indexOf(raw), -1, `${f} contains the raw secret`);
    }
    const stored = await node.services.store.getAppSigningKey(key.keyid);
    assert.match(stored!.sealedSecret!, /^pc1\./);

    const hmac = await crypto.subtle.importKey('raw', raw, importParams('hmac-sha256'), false, ['sign']);
    assert.deepEqual(await verifiesThroughLookup(key.keyid, 'hmac-sha256', hmac), { clientId });
  });

  test('public keys: Ed25519 JWK, P-256 and P-384 PEM, RSA-2048 PEM (rsa-v1_5-sha256) get the algorithm of their key and verify through lookup', async () => {
    const cases: Array<{ alg: SignatureAlgorithm; pair: { publicKey: KeyObject; privateKey: KeyObject }; as: 'jwk' | 'pem'; ask?: SignatureAlgorithm }> = [
      { alg: 'ed25519', pair: generateKeyPairSync('ed25519'), as: 'jwk' },
      { alg: 'ecdsa-p256-sha256', pair: generateKeyPairSync('ec', { namedCurve: 'P-256' }), as: 'pem' },
      { alg: 'ecdsa-p384-sha384', pair: generateKeyPairSync('ec', { namedCurve: 'P-384' }), as: 'pem' },
      { alg: 'rsa-v1_5-sha256', pair: generateKeyPairSync('rsa', { modulusLength: 2048 }), as: 'pem', ask: 'rsa-v1_5-sha256' },
    ];
    for (const c of cases) {
      const body =
        c.as === 'jwk'
          ? { jwk: c.pair.publicKey.export({ format: 'jwk' }), keyid: `pub-${c.alg}` }
          : { pem: c.pair.publicKey.export({ format: 'pem', type: 'spki' }), keyid: `pub-${c.alg}`, ...(c.ask ? { alg: c.ask } : {}) };
      const r = await api(`/v1/apps/${clientId}/keys`, { body });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.key.alg, c.alg);
      assert.equal(r.body.secret, null);
      assert.equal(r.body.key.public_jwk.d, undefined);
      assert.deepEqual(await verifiesThroughLookup(`pub-${c.alg}`, c.alg, await privateCryptoKey(c.pair.privateKey, c.alg)), { clientId });
    }
  });

  test('attack: registering a private JWK is refused (request.invalid) and nothing is stored', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const r = await api(`/v1/apps/${clientId}/keys`, { body: { jwk: privateKey.export({ format: 'jwk' }), keyid: 'leaked-private' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
    assert.equal(await node.services.store.getAppSigningKey('leaked-private'), undefined);
  });

  test('attack: registering a PEM private key is refused (request.invalid)', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const r = await api(`/v1/apps/${clientId}/keys`, { body: { pem: privateKey.export({ format: 'pem', type: 'pkcs8' }) } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
  });

  test('attack: a weak RSA-1024 key and a secp256k1 key are refused (request.invalid)', async () => {
    for (const pair of [generateKeyPairSync('rsa', { modulusLength: 1024 }), generateKeyPairSync('ec', { namedCurve: 'secp256k1' })]) {
      const r = await api(`/v1/apps/${clientId}/keys`, { body: { pem: pair.publicKey.export({ format: 'pem', type: 'spki' }) } });
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'request.invalid');
    }
  });

  test('attack: an RSA key with public exponent 1 (anyone can make its signatures) or an even one is refused (request.invalid naming it), nothing stored', async () => {
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    for (const e of ['AQ', 'AQAA']) {
      const r = await api(`/v1/apps/${clientId}/keys`, { body: { keyid: `weak-e-${e}`, jwk: { ...jwk, e } } });
      assert.equal(r.status, 400, e);
      assert.equal(r.body.code, 'request.invalid');
      assert.match(r.body.detail, /^key: the RSA public exponent must be odd and at least 3$/);
    }
    const list = await api(`/v1/apps/${clientId}/keys`);
    assert.ok(!JSON.stringify(list.body).includes('weak-e-'), 'no weak key stored');
  });

  test('attack: an alg that does not fit the key (ed25519 key declared as ecdsa-p256-sha256) is refused (request.invalid)', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const r = await api(`/v1/apps/${clientId}/keys`, { body: { jwk: publicKey.export({ format: 'jwk' }), alg: 'ecdsa-p256-sha256' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
  });

  test('attack: taking the keyid of another app is a conflict (409) and the first owner keeps it', async () => {
    const first = await api(`/v1/apps/${otherClientId}/keys`, { body: { type: 'hmac', keyid: 'contested' } });
    assert.equal(first.status, 201);
    const second = await api(`/v1/apps/${clientId}/keys`, { body: { type: 'hmac', keyid: 'contested' } });
    assert.equal(second.status, 409);
    assert.equal(second.body.code, 'conflict');
    assert.equal(node.services.appSigningKeys.lookup('contested')?.clientId, otherClientId);
  });

  test('attack: revoking a key through another app is not-found and the key stays active', async () => {
    await api(`/v1/apps/${otherClientId}/keys`, { body: { type: 'hmac', keyid: 'others-key' } });
    const r = await api(`/v1/apps/${clientId}/keys/others-key/revoke`, { method: 'POST' });
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'not-found');
    assert.ok(node.services.appSigningKeys.lookup('others-key'));
  });

  test('unknown app: add and list answer 404 not-found', async () => {
    assert.equal((await api('/v1/apps/nope/keys', { body: { type: 'hmac' } })).body.code, 'not-found');
    assert.equal((await api('/v1/apps/nope/keys')).status, 404);
  });

  test('rotation: two keys active at once; revoking the old one removes it from lookup at once and leaves the new one; audited', async () => {
    const old = (await api(`/v1/apps/${clientId}/keys`, { body: { type: 'hmac', keyid: 'rot-old' } })).body;
    const neu = (await api(`/v1/apps/${clientId}/keys`, { body: { type: 'hmac', keyid: 'rot-new' } })).body;
    assert.ok(node.services.appSigningKeys.lookup('rot-old'));
    assert.ok(node.services.appSigningKeys.lookup('rot-new'));
    const r = await api(`/v1/apps/${clientId}/keys/rot-old/revoke`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.equal(r.body.key.status, 'revoked');
    assert.ok(r.body.key.revoked_at);
    assert.equal(node.services.appSigningKeys.lookup('rot-old'), undefined);
    const hmacOld = await crypto.subtle.importKey('raw', Buffer.from(old.secret, 'base64url'), importParams('hmac-sha256'), false, ['sign']);
    await assert.rejects(verifiesThroughLookup('rot-old', 'hmac-sha256', hmacOld), (e: any) => e.code === 'signature.unknown-key');
    const hmacNew = await crypto.subtle.importKey('raw', Buffer.from(neu.secret, 'base64url'), importParams('hmac-sha256'), false, ['sign']);
    assert.deepEqual(await verifiesThroughLookup('rot-new', 'hmac-sha256', hmacNew), { clientId });

    // still revoked after a full reload from the store
    await node.services.appSigningKeys.load();
    assert.equal(node.services.appSigningKeys.lookup('rot-old'), undefined);
    const rows = await node.services.store.tailAudit(50);
    assert.ok(rows.some((x) => x.type === 'app.signing-key-added' && x.data?.keyid === 'rot-new' && x.clientId === clientId));
    assert.ok(rows.some((x) => x.type === 'app.signing-key-revoked' && x.data?.keyid === 'rot-old'));
    assert.ok(!rows.some((x) => JSON.stringify(x).includes(neu.secret)), 'the audit trail never holds a secret');
  });

  test('a disabled app has no usable signing key (lookup undefined) until enabled again', async () => {
    const app = (await node.services.apps.create({ name: 'to-disable', audiences: ['orders-api'], scopes: [] }, 'test')).app;
    await api(`/v1/apps/${app.clientId}/keys`, { body: { type: 'hmac', keyid: 'disabled-app-key' } });
    assert.ok(node.services.appSigningKeys.lookup('disabled-app-key'));
    await node.services.apps.disable(app.clientId, 'test');
    assert.equal(node.services.appSigningKeys.lookup('disabled-app-key'), undefined);
    await node.services.apps.enable(app.clientId, 'test');
    assert.ok(node.services.appSigningKeys.lookup('disabled-app-key'));
  });

  test('the OpenAPI document lists the key routes with their schemas', async () => {
    const doc = (await (await fetch(`${node.urls.admin}/openapi.json`)).json()) as any;
    assert.equal(doc.paths['/v1/apps/{clientId}/keys'].post.operationId, 'addAppKey');
    assert.equal(doc.paths['/v1/apps/{clientId}/keys'].get.operationId, 'listAppKeys');
    assert.equal(doc.paths['/v1/apps/{clientId}/keys/{keyid}/revoke'].post.operationId, 'revokeAppKey');
    assert.ok(doc.components.schemas.AppKeyCreated);
  });
});
