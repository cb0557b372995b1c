/**
 * Text input with NUL, other C0 control characters (TAB, LF and CR aside), DEL, C1 controls or unpaired
 * UTF-16 surrogates is refused at validation with a typed 400 `request.invalid` naming
 * the field, whatever the store: SQLite used to store it, PostgreSQL answered 503.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from './node.js';

describe('admin API: control characters in text input', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(async () => {
    await t.close();
  });

  test('POST /v1/users with a NUL in the e-mail → 400 request.invalid naming email, nothing created', async () => {
    const r = await t.api('/v1/users', { body: { email: 'a\u0000@b.example' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
    assert.deepEqual(r.body.errors ?? r.body.details?.errors, [{ path: 'email', message: 'control character U+0000 is not allowed' }]);
    const list = await t.api('/v1/users');
    assert.deepEqual(list.body.users, []);
  });

  test('POST /v1/apps with U+0001 in the name, or an unpaired surrogate in an audience → 400 request.invalid naming each', async () => {
    const r = await t.api('/v1/apps', { body: { name: 'ok\u0001', audiences: ['fine', 'x\ud800'], scopes: [] } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
    assert.match(r.body.detail, /name: control character U\+0001 is not allowed/);
    assert.match(r.body.detail, /audiences\[1\]: unpaired UTF-16 surrogate is not allowed/);
  });

  test('attack: DEL or a C1 control (U+009B is CSI on a terminal) in an e-mail or a webhook description → 400 request.invalid naming the field, nothing created', async () => {
    const user = await t.api('/v1/users', { body: { email: 'x\u009b2J@b.example', invite: true } });
    assert.equal(user.status, 400);
    assert.equal(user.body.code, 'request.invalid');
    assert.deepEqual(user.body.errors ?? user.body.details?.errors, [{ path: 'email', message: 'control character U+009B is not allowed' }]);
    const hook = await t.api('/v1/webhooks', { body: { url: 'https://hooks.example.test/in', events: ['*'], description: 'note\u007f' } });
    assert.equal(hook.status, 400);
    assert.equal(hook.body.code, 'request.invalid');
    assert.match(hook.body.detail, /description: control character U\+007F is not allowed/);
    assert.deepEqual((await t.api('/v1/users')).body.users, []);
  });

  test('a control character in an object key is refused too; TAB, LF and CR in text are not control characters here', async () => {
    const r = await t.api('/v1/apps', { body: { name: 'ok', audiences: ['a'], ['x\u0000']: 1 } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
    const ok = await t.api('/v1/apps', { body: { name: 'line', audiences: ['a'], scopes: [] } });
    assert.equal(ok.status, 201);
  });

  test('GET /v1/apps/x%00 → 400 request.invalid naming the path parameter (not a store error)', async () => {
    const r = await t.api('/v1/apps/x%00');
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'request.invalid');
    assert.match(r.body.detail, /clientId: control character U\+0000 is not allowed/);
  });
});
