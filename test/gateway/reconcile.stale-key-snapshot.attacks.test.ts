/**
 * A reconcile re-reads every app signing key and app encryption key from the store. A
 * key revoked while that read is in flight must stay revoked when the reconcile installs
 * what it read. The store's read is held open here, so the revocation lands exactly
 * between the read and the install. Gateway on the main thread, reconcile timer an hour away.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addSigningKey, createApp, sendSigned, startPolicyNode, type PolicyNode } from './message-policy-support.js';

let p: PolicyNode;

before(async () => {
  p = await startPolicyNode(
    `  - name: sig\n    match: { pathPrefix: /sig }\n    upstream: UPSTREAM\n    require:\n      token: { audience: orders-api, scopes: [orders:write] }\n      signature: {}\n`,
    'gateway: { thread: false }\nrevocation: { reconcileInterval: 1h }\n',
  );
});

after(() => p.stop());

const admin = (path: string) => fetch(`${p.node.urls.admin}${path}`, { method: 'POST', headers: { authorization: `Bearer ${p.node.adminToken}`, 'content-type': 'application/json' }, body: '{}' });

/** Runs a reconcile whose store read `method` completes and is then held until `meanwhile` has finished. */
async function reconcileAround(method: 'listAppSigningKeys' | 'listAppEncryptionKeys', meanwhile: () => Promise<void>): Promise<void> {
  const store = p.node.services.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = store[method]!;
  let readDone!: () => void;
  const read = new Promise<void>((r) => (readDone = r));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  store[method] = async (...args: unknown[]) => {
    const result = await original.apply(store, args);
    readDone();
    await held;
    return result;
  };
  try {
    const reconciling = p.node.reconcile();
    await read;
    await meanwhile();
    release();
    await reconciling;
  } finally {
    release();
    delete store[method];
  }
}

describe('a reconcile whose key read began before a key revocation', () => {
  test('signing key revoked during the read: a request signed with it is refused as signature.unknown-key', async () => {
    const a = await createApp(p.node, 'sig-key-revoked-during-reconcile');
    const key = await addSigningKey(p.node, a.clientId, 'ed25519');
    const token = await a.token();
    assert.equal((await sendSigned(p.gateway, { path: '/sig/a', token, sign: key })).status, 200);
    await reconcileAround('listAppSigningKeys', async () => {
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
    await reconcileAround('listAppEncryptionKeys', async () => {
      const r = await admin(`/v1/apps/${a.clientId}/encryption-keys/${encodeURIComponent(key.kid)}/revoke`);
      assert.equal(r.status, 200, await r.text());
    });
    assert.equal(p.node.services.appEncryptionKeys.symmetric(a.clientId, key.kid), undefined);
    assert.equal(p.node.services.appEncryptionKeys.symmetric(a.clientId), undefined);
  });
});
