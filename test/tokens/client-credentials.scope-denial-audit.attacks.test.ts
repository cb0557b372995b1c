/**
 * An authenticated app that asks for a scope or an audience (RFC 8707 `resource`) it is
 * not registered for is refused (400 invalid_scope / invalid_target) and the refusal is audited, as the
 * other refusals of an authenticated client at the token endpoint are.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, basic, postForm, type TestNode } from '../support/portcullis.js';

let node: TestNode;
let app: { id: string; secret: string };
before(async () => {
  node = await startTestNode();
  const r = await node.services.apps.create({ name: 'narrow', audiences: ['orders-api'], scopes: ['orders:read'] }, 'test');
  app = { id: r.app.clientId, secret: r.clientSecret! };
});
after(() => node.stop());

async function denials() {
  await node.services.audit.flush();
  return (await node.services.store.tailAudit(500)).filter((r) => r.type === 'token.denied' && (r.reason === 'oauth.invalid-scope' || r.reason === 'oauth.invalid-target') && r.clientId === app.id);
}

for (const [what, form, error] of [
  ['a scope it is not registered for', { scope: 'orders:read admin' }, 'invalid_scope'],
  ['the audience of another API', { resource: 'payroll-api' }, 'invalid_target'],
] as const) {
  test(`attack: asking for ${what} → 400 ${error}, audited as token.denied`, async () => {
    const before = (await denials()).length;
    const r = await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials', ...form }, { authorization: basic(app.id, app.secret) });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, error);
    const rows = await denials();
    assert.equal(rows.length, before + 1, 'the refused request is not in the audit trail');
    assert.equal(rows.at(-1)!.actor, `client:${app.id}`);
  });
}
