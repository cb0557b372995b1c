/**
 * NIST SP 800-38D §8.3 at the gateway: a response encrypted with `dir` is one AES-GCM
 * invocation with a random IV under the app's long-lived key, so it is counted against the
 * key's limit (`encryption.aesGcm.invocationLimit`) in the same durable counts as transit
 * and the envelope. At the limit the request is refused before the upstream is called
 * (500 `jwe.key-exhausted`, audited), on the gateway thread and on the main thread alike;
 * `A256KW` (a fresh CEK per message) is not counted; the count costs no store call per request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { compactDecrypt, decodeProtectedHeader } from 'jose';
import { ERRORS } from '../../src/core/errors.js';
import { appEncryptionKeyContext } from '../../src/tokens/app-encryption-keys.js';
import { auditMark, createApp, deniedSince, startPolicyNode, type PolicyNode, type TestApp } from './message-policy-support.js';

const ROUTES = `
  - name: encsym
    match: { pathPrefix: /encsym }
    upstream: UPSTREAM
    require:
      token: { audience: orders-api }
      encryption: { request: false, response: app-symmetric-key }
`;

async function symmetricKey(p: PolicyNode, clientId: string, alg: 'dir' | 'A256KW') {
  const { key, secret } = await p.node.services.appEncryptionKeys.add(clientId, { type: 'symmetric', alg }, 'test');
  return { kid: key.kid, key: createSecretKey(Buffer.from(secret!.k!, 'base64url')) };
}

for (const thread of [true, false]) {
  describe(`response encryption with an app's dir key, gateway ${thread ? 'on its own thread' : 'on the main thread'}`, () => {
    let p: PolicyNode;
    let app: TestApp;
    let kwApp: TestApp;
    before(async () => {
      p = await startPolicyNode(ROUTES, `gateway: { thread: ${thread} }\nencryption: { aesGcm: { invocationLimit: 3, reserveBlock: 2 } }\n`);
      app = await createApp(p.node, 'dir-app');
      kwApp = await createApp(p.node, 'kw-app');
    });
    after(() => p.stop());

    const get = async (a: TestApp) => fetch(`${p.gateway}/encsym/x`, { headers: { authorization: `Bearer ${await a.token()}` } });

    test('attack on the IV bound: the 4th response under a dir key limited to 3 is refused with 500 jwe.key-exhausted before the upstream is called, and audited', async () => {
      const dir = await symmetricKey(p, app.clientId, 'dir');
      for (let i = 0; i < 3; i++) {
        const r = await get(app);
        assert.equal(r.status, 200);
        const jwe = await r.text();
        assert.equal(decodeProtectedHeader(jwe).kid, dir.kid);
        await compactDecrypt(jwe, dir.key);
      }
      const seen = p.upstream.seen.length;
      const mark = await auditMark(p.node);
      const refused = await get(app);
      assert.equal(refused.status, 500);
      assert.equal(ERRORS['jwe.key-exhausted'].status, 500);
      const body = (await refused.json()) as { code: string; detail?: string };
      assert.equal(body.code, 'jwe.key-exhausted');
      assert.equal(refused.headers.get('content-type'), 'application/problem+json');
      assert.equal(p.upstream.seen.length, seen, 'the upstream was not called');
      assert.deepEqual((await deniedSince(p.node, mark)).map((r) => r.reason), ['jwe.key-exhausted']);
      // the key itself is reported spent once (crypto.key-exhausted), however many requests it refuses
      assert.equal((await get(app)).status, 500);
      assert.deepEqual((await deniedSince(p.node, mark)).map((r) => r.reason), ['jwe.key-exhausted', 'jwe.key-exhausted']);
      const spent = (await p.node.services.store.listAudit(mark, 1000)).filter((r) => r.type === 'crypto.key-exhausted');
      assert.deepEqual(spent.map((r) => [r.actor, r.data]), [['system', { key: appEncryptionKeyContext(dir.kid), limit: 3 }]]);
      // the count is the durable one transit and the envelope use, under the key's seal context
      const used = await p.node.services.store.readKeyUsage([appEncryptionKeyContext(dir.kid)]);
      assert.ok((used.get(appEncryptionKeyContext(dir.kid)) ?? 0) >= 3);
      // the operator gives the app a new key: responses go on under it
      const fresh = await symmetricKey(p, app.clientId, 'dir');
      const again = await get(app);
      assert.equal(again.status, 200);
      const jwe = await again.text();
      assert.equal(decodeProtectedHeader(jwe).kid, fresh.kid);
      await compactDecrypt(jwe, fresh.key);
    });

    test('an A256KW key (a fresh content key per response) is not counted: 8 responses under a limit of 3 all pass', async () => {
      const kw = await symmetricKey(p, kwApp.clientId, 'A256KW');
      for (let i = 0; i < 8; i++) {
        const r = await get(kwApp);
        assert.equal(r.status, 200);
        await compactDecrypt(await r.text(), kw.key);
      }
      assert.equal((await p.node.services.store.readKeyUsage([appEncryptionKeyContext(kw.kid)])).size, 0);
    });
  });
}

test('the count costs no store call per request: 30 dir-encrypted responses make one reservation (block 2^16)', async () => {
  const p = await startPolicyNode(ROUTES, 'gateway: { thread: false }\n');
  try {
    const app = await createApp(p.node, 'busy-app');
    const dir = await symmetricKey(p, app.clientId, 'dir');
    const store = p.node.services.store;
    const reserved: string[] = [];
    const reserve = store.reserveKeyUsage.bind(store);
    store.reserveKeyUsage = (keyId, block, limit) => (reserved.push(keyId), reserve(keyId, block, limit));
    const token = await app.token();
    for (let i = 0; i < 30; i++) {
      const r = await fetch(`${p.gateway}/encsym/${i}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
    assert.deepEqual(reserved, [appEncryptionKeyContext(dir.kid)]);
  } finally {
    await p.stop();
  }
});
