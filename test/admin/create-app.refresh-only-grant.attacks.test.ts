/**
 * `refresh_token` only renews tokens an authorization code first obtained (RFC 6749
 * §1.5, §4.4.3: the client credentials grant issues no refresh token). An app registered
 * with `grant_types: ['refresh_token']` alone (or beside `client_credentials` only) could
 * never obtain a first token by it: a registration that says one thing while the token
 * endpoint can do nothing with it. It is refused, naming grant_types, and nothing is stored.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from './node.js';

let t: TestNode;
before(async () => {
  t = await startTestNode();
});
after(() => t.close());

async function appCount(): Promise<number> {
  return ((await t.api('/v1/apps')).body.apps as unknown[]).length;
}

const WEB = { audiences: ['api'], redirect_uris: ['https://web.example/cb'] };

test('attack: POST /v1/apps with refresh_token but no authorization_code → 400 request.invalid naming grant_types; no app registered', async () => {
  const before = await appCount();
  for (const extra of [
    { grant_types: ['refresh_token'] },
    { grant_types: ['refresh_token'], type: 'public' },
    { grant_types: ['client_credentials', 'refresh_token'] },
  ]) {
    const r = await t.api('/v1/apps', { body: { name: 'web', ...WEB, ...extra } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.code, 'request.invalid');
    assert.equal(r.body.detail, 'grant_types: refresh_token only renews tokens an authorization code obtained; give authorization_code beside it');
  }
  assert.equal(await appCount(), before);
});

test('refresh_token beside authorization_code registers and is shown', async () => {
  const r = await t.api('/v1/apps', { body: { name: 'web', ...WEB, grant_types: ['authorization_code', 'refresh_token'] } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body.app.grant_types, ['authorization_code', 'refresh_token']);
});
