import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrozenClock } from '../../src/core/clock.js';
import { startTestNode, basic, postForm } from '../support/portcullis.js';

test('introspection: an expired token is active:false (frozen clock moved past exp), a fresh one is active', async () => {
  const clock = new FrozenClock(Date.now());
  const node = await startTestNode({ clock });
  try {
    const { app, clientSecret } = await node.services.apps.create({ name: 'exp', audiences: ['api'], scopes: [] }, 'test');
    const auth = { authorization: basic(app.clientId, clientSecret!) };
    const t = (await postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'client_credentials' }, auth)).body.access_token as string;
    assert.equal((await postForm(`${node.urls.identity}/oauth2/introspect`, { token: t }, auth)).body.active, true);
    clock.advance(10 * 60_000 - 1000);
    assert.equal((await postForm(`${node.urls.identity}/oauth2/introspect`, { token: t }, auth)).body.active, true, 'still valid one second before exp');
    clock.advance(1000);
    assert.deepEqual((await postForm(`${node.urls.identity}/oauth2/introspect`, { token: t }, auth)).body, { active: false });
    // Revoking an expired token is a no-op success (RFC 7009 §2.2).
    assert.equal((await postForm(`${node.urls.identity}/oauth2/revoke`, { token: t }, auth)).status, 200);
  } finally {
    await node.stop();
  }
});
