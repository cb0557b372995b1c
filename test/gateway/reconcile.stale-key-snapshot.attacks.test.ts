/**
 * A reconcile re-reads every app signing key and app encryption key from the store. A
 * key revoked while that read is in flight must stay revoked when the reconcile installs
 * what it read. The store's read is held open here, so the revocation lands exactly
 * between the read and the install. Gateway on the main thread, reconcile timer an hour away.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addSigningKey, createApp, sendSigned, startPolicyNode, type PolicyNode, reconcileAround } from './message-policy-support.js';

let p: PolicyNode;

before(async () => {
  p = await startPolicyNode(
    `  - name: sig\n    match: { pathPrefix: /sig }\n    upstream: UPSTREAM\n    require:\n      token: { audience: orders-api, scopes: [orders:write] }\n      signature: {}\n`,
    'gateway: { thread: false }\nrevocation: { reconcileInterval: 30m }\n',
  );
});

after(() => p.stop());

const admin = (path: string) => fetch(`${p.node.urls.admin}${path}`, { method: 'POST', headers: { authorization: `Bearer ${p.node.adminToken}`, 'content-type': 'application/json' }, body: '{}' });

describe('a reconcile whose key read began before a key revocation', () => {
  test('signing key revoked during the read: a request signed with it is refused as signature.unknown-key', async () => {
    const a = await createApp(p.node, 'sig-key-revoked-during-reconcile');
    const key = await addSigningKey(p.node, a.clientId, 'ed25519');
    const token = await a.token();
    assert.equal((await sendSigned(p.gateway, { path: '/sig/a', token, sign: key })).status, 200);
    await reconcileAround(p.node, 'listAppSigningKeys', async () => {
      const r = await admin(`/v1/apps/${a.clientId}/keys/${encodeURIComponent(key.keyid)}/revoke`);
      assert.equal(r.status, 200, await r.text());
    });
    const r = await sendSigned(p.gateway, { path: '/sig/a', token, sign: key });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json?.code, 'signature.unknown-key');
  });

  test('encryption key revoked during the read: the gateway no longer finds it for the app', async () => {
    const a = await createApp(p.node, 'enc-key-revoked-during-reconcile');
    const { key } = await p.node.services.appEncryptionKeys.add(a.clientId, { type: 'symmetric', alg: 'dir' }, 'test');
    assert.ok(p.node.services.appEncryptionKeys.symmetric(a.clientId, key.kid));
    await reconcileAround(p.node, 'listAppEncryptionKeys', async () => {
      const r = await admin(`/v1/apps/${a.clientId}/encryption-keys/${encodeURIComponent(key.kid)}/revoke`);
      assert.equal(r.status, 200, await r.text());
    });
    assert.equal(p.node.services.appEncryptionKeys.symmetric(a.clientId, key.kid), undefined);
    assert.equal(p.node.services.appEncryptionKeys.symmetric(a.clientId), undefined);
  });
});
