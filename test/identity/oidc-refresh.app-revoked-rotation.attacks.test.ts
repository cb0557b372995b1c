/**
 * Revoking an app's tokens (`revoke-tokens`, or disabling it) sets its "revoked before"
 * watermark: every token the app holds then is refused on every node, and tokens issued
 * afterwards work. A refresh token is refused by when its family began (oidc-provider's
 * `iiat`), not by when it was last rotated: a refresh token of the app rotated after the
 * watermark, by a refresh under way at the moment of the revocation or on a node that had
 * not yet heard of it (a lost or late `app.changed` event, which should only delay the
 * revocation), used to carry a fresh `iat`, so the leaked token's family lived on for good.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as client from 'openid-client';
import { registerOidcApp, saveRotatedRefreshToken, signIn, startOidcNode } from '../support/oidc-node.js';
import { basic, postForm, startTestNode, tempDir, testConfig } from '../support/portcullis.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';

test('attack: a refresh racing revoke-tokens stores a rotated refresh token after the watermark, and that token is refused (invalid_grant)', async (t) => {
  const node = await startOidcNode();
  t.after(() => node.stop());
  const app = await registerOidcApp(node, AUD);
  const other = await registerOidcApp(node, AUD);
  await node.services.identity.users.add({ email: 'racing@example.test', password: PASSWORD }, 'test');
  const { tokens } = await signIn(node, app, AUD, 'racing@example.test', PASSWORD);
  const kept = await signIn(node, other, AUD, 'racing@example.test', PASSWORD);
  const provider = node.services.identity.oidc.provider as any;

  // The refresh under way: it found the token before the app's tokens were revoked ...
  const found = await provider.RefreshToken.find(tokens.refresh_token!);
  assert.ok(found, 'the refresh token is live');
  await node.services.apps.revokeTokens(app.clientId, 'test');
  // ... and stores its rotated token (a new iat, the family's iiat) after the watermark.
  const value = await saveRotatedRefreshToken(provider, app.clientId, found);

  await assert.rejects(client.refreshTokenGrant(app.config, value, { resource: AUD }), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
  const still = await client.refreshTokenGrant(other.config, kept.tokens.refresh_token!, { resource: AUD });
  assert.ok(still.refresh_token, "the other app's refresh token still works");
});

test('attack: a node that missed the revocation rotates a refresh token of the revoked app; once it knows, neither node accepts the rotated token (invalid_grant)', async (t) => {
  const shared = join(tempDir('portcullis-rt-cluster-'), 'shared.db');
  const a = await startOidcNode(`store: sqlite:${shared}`);
  t.after(() => a.stop());
  const app = await registerOidcApp(a, AUD);
  const secret = app.config.clientMetadata().client_secret as string;
  await a.services.identity.users.add({ email: 'lagging@example.test', password: PASSWORD }, 'test');
  const { tokens } = await signIn(a, app, AUD, 'lagging@example.test', PASSWORD);

  // node B shares the database but no event bus: it hears of nothing until it reconciles
  const dirB = tempDir();
  copyFileSync(join(a.dir, 'master.key'), join(dirB, 'master.key'));
  copyFileSync(join(a.dir, 'admin.token'), join(dirB, 'admin.token'));
  const b = await startTestNode({ config: testConfig(`store: sqlite:${shared}`, a.urls.identity!), dir: dirB });
  t.after(() => b.stop());

  await a.services.apps.revokeTokens(app.clientId, 'test');
  const refresh = (node: typeof a, rt: string) => postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: rt }, { authorization: basic(app.clientId, secret) });
  const stale = await refresh(b, tokens.refresh_token!);
  assert.equal(stale.status, 200, `node B does not know of the revocation yet: ${JSON.stringify(stale.body)}`);
  const rotated = stale.body.refresh_token as string;

  await b.reconcile();
  for (const [name, node] of [['A', a], ['B', b]] as const) {
    const r = await refresh(node, rotated);
    assert.equal(r.status, 400, `node ${name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, 'invalid_grant', `node ${name}`);
  }
});
