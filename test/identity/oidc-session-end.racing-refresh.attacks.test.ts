/**
 * Ending a session (the account page's "End", the admin API) revokes the grants made in it.
 * A refresh under way at that moment has already checked its token and grant: the rotated
 * refresh token it stores after the revocation deleted the grant's rows must not outlive
 * the session (as for a replayed refresh token, adapter.ts revokeReplayed).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as client from 'openid-client';
import { registerOidcApp, saveRotatedRefreshToken, signIn, startOidcNode } from '../support/oidc-node.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';

test('attack: a refresh racing the end of its session stores a rotated refresh token after the revocation, and that token is refused (invalid_grant)', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const app = await registerOidcApp(node, AUD);
  const user = await node.services.identity.users.add({ email: 'racing@example.test', password: PASSWORD }, 'test');
  const { tokens } = await signIn(node, app, AUD, 'racing@example.test', PASSWORD);
  const oidc = node.services.identity.oidc;
  const provider = oidc.provider as any;

  // The refresh under way: it found the token (and its grant) before the session ended ...
  const found = await provider.RefreshToken.find(tokens.refresh_token!);
  assert.ok(found, 'the refresh token is live');
  const [session] = await oidc.listSessions(user.id);
  assert.ok(await oidc.endSession(user.id, session!.id));
  // ... and stores its rotated token after the grant's rows were revoked.
  const value = await saveRotatedRefreshToken(provider, app.clientId, found);

  await assert.rejects(client.refreshTokenGrant(app.config, value, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
});
