/**
 * An administrator resets a user's second factors after one was lost or stolen: whoever is
 * signed in with it must not stay in. The reset is several writes (each factor, the
 * passkeys, then the sessions' watermark); when one fails half-way (the ephemeral store is
 * down as an e-mail/SMS factor withdraws its codes, a statement fails), the factors removed
 * so far are gone, so the sessions and tokens end all the same and the trail says the reset
 * did not finish (`user.mfa-reset-incomplete` with the error's code). It used to stop at the
 * failure: part of the factors gone, no audit event, and the attacker's session and refresh
 * token kept working.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PortcullisError } from '../../src/core/errors.js';
import type { Factor } from '../../src/mfa/factor.js';
import { enrolTotp, registerOidcApp, signIn, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import { basic, postForm, type TestNode } from '../support/portcullis.js';

const AUD = 'https://orders.example.test';
const PASSWORD = 'plum tractor velvet orbit';
let node: TestNode;
let app: OidcApp;

before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, AUD);
});
after(async () => node?.stop());

const secret = (): string => app.config.clientMetadata().client_secret as string;
const refresh = (rt: string) => postForm(`${node.urls.identity}/oauth2/token`, { grant_type: 'refresh_token', refresh_token: rt }, { authorization: basic(app.clientId, secret()) });

test('attack: an MFA reset that fails half-way (unavailable) still ends the sessions and tokens of the stolen factor, and is audited user.mfa-reset-incomplete', async () => {
  const user = await node.services.identity.users.add({ email: 'stolen-phone@example.test', password: PASSWORD }, 'test');
  const seed = await enrolTotp(node, user.id);
  // the attacker, with the password and the stolen authenticator
  const { tokens } = await signIn(node, app, AUD, 'stolen-phone@example.test', PASSWORD, { totpSecret: seed });
  await new Promise((r) => setTimeout(r, 1_100)); // iat has whole seconds

  // the recovery codes' removal fails, after the TOTP enrolment is gone
  const factors = node.services.identity.factors as Factor[];
  const i = factors.findIndex((f) => f.id === 'recovery-code');
  const original = factors[i]!;
  factors[i] = { ...original, remove: async () => Promise.reject(new PortcullisError('unavailable', 'the ephemeral store is unreachable')) };
  try {
    await assert.rejects(node.services.identity.users.resetMfa(user.id, 'admin'), (e: { code?: string }) => e.code === 'unavailable');
  } finally {
    factors[i] = original;
  }

  const refreshed = await refresh(tokens.refresh_token!);
  assert.equal(refreshed.status, 400, JSON.stringify(refreshed.body));
  assert.equal(refreshed.body.error, 'invalid_grant');
  await node.services.audit.flush();
  const trail = (await node.services.store.tailAudit(50)).filter((e) => (e.data as { userId?: string } | null)?.userId === user.id);
  const incomplete = trail.filter((e) => e.type === 'user.mfa-reset-incomplete');
  assert.equal(incomplete.length, 1, 'the interrupted reset is on record');
  assert.equal(incomplete[0]!.reason, 'unavailable');
  assert.equal(incomplete[0]!.actor, 'admin');
  assert.ok(trail.some((e) => e.type === 'user.sessions-ended'), 'the sessions ended');
  assert.ok(!trail.some((e) => e.type === 'user.mfa-reset'), 'no reset is announced as done');

  // the retry finishes it
  await node.services.identity.users.resetMfa(user.id, 'admin');
  assert.deepEqual((await node.services.identity.users.view(await node.services.identity.users.get(user.id))).factors, []);
});
