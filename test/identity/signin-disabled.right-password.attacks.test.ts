/**
 * A disabled account signing in with its right password was audited as
 * `auth.invalid-credentials` exactly like a wrong guess, so an operator could not tell that
 * someone holds that account's real password. And it was not a guess like the others: the
 * right password passed the attempt guard as a success (clearing the account's failure
 * count, rehashing an outdated hash), so whoever tried a list of passwords against a disabled
 * account learned which one was right from the throttling that did not come.
 *
 * Now the client's answer and the attempt's cost stay those of a wrong password (the same
 * page, status and hash verifications; counted as a failure; no rehash), and only the
 * operator's `signin.failed` event says `inactive: true`: the password was right for an
 * account that may not sign in.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { Lockout } from '../../src/identity/lockout.js';
import { Argon2idHasher } from '../../src/identity/passwords/argon2id.js';
import { PasswordHashers, type PasswordHasher } from '../../src/identity/passwords/hasher.js';
import { Pbkdf2Hasher } from '../../src/identity/passwords/pbkdf2.js';
import { matchedInactiveAccount, verifyPassword } from '../../src/identity/passwords/verify-password.js';
import { TestEphemeralStore } from '../support/mfa-memory-ephemeral.js';
import { Browser, csrfOf } from '../support/oidc-harness.js';
import { authorizationRequest, registerOidcApp, startOidcNode, type OidcApp } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';

const PASSWORD = 'plum tractor velvet orbit';
const WRONG = 'copper lantern meadow quartz';

function recording(inner: PasswordHasher): PasswordHasher & { verified: string[] } {
  const verified: string[] = [];
  return { id: inner.id, verified, understands: (h) => inner.understands(h), needsRehash: (h) => inner.needsRehash(h), hash: (p) => inner.hash(p), verify: (h, p) => (verified.push(h), inner.verify(h, p)) };
}

test('attack: a password list against a disabled account — the right one costs what a wrong one does, counts as a failure, replaces no hash; only matchedInactiveAccount tells', async () => {
  const preferred = recording(new Argon2idHasher());
  const legacy = recording(new Pbkdf2Hasher(1_000));
  const hashers = new PasswordHashers(preferred, [legacy]);
  const stored = await new Pbkdf2Hasher(1_000).hash(PASSWORD);
  const replaced: string[] = [];
  const store = { getPasswordHash: async () => stored, replacePasswordHash: async (_id: string, _old: string | null, next: string) => (replaced.push(next), true) };
  const clock = new FrozenClock(Date.UTC(2030, 0, 1));
  const lockout = new Lockout(new TestEphemeralStore(clock), clock);
  const attempt = async (password: string) => {
    preferred.verified.length = 0;
    legacy.verified.length = 0;
    try {
      await verifyPassword({ hashers, store, lockout }, { userId: 'u1', account: 'u1', password, inactive: true });
    } catch (e) {
      assert.ok(e instanceof PortcullisError);
      return { e, verified: [...legacy.verified, ...preferred.verified].length };
    }
    assert.fail('a disabled account signed in');
  };

  const wrong = await attempt(WRONG);
  const right = await attempt(PASSWORD);
  for (const { e } of [wrong, right]) {
    assert.equal(e.code, 'auth.invalid-credentials');
    assert.equal(e.status, 401);
    assert.equal(e.message, 'invalid user name or password');
    assert.equal(e.details, undefined);
  }
  assert.equal(right.verified, wrong.verified, 'the same hash verifications');
  assert.deepEqual(replaced, [], 'no rehash for an account that may not sign in');
  assert.equal((await lockout.state('account', 'u1')).failures, 2, 'the right password counts as a failure as well (no success clears the count)');
  assert.equal(matchedInactiveAccount(wrong.e), false);
  assert.equal(matchedInactiveAccount(right.e), true);
});

let node: TestNode;
let app: OidcApp;
before(async () => {
  node = await startOidcNode();
  app = await registerOidcApp(node, 'orders-api');
});
after(async () => node?.stop());

async function postPassword(email: string, password: string) {
  const issuer = node.urls.identity!;
  const browser = new Browser();
  const r = await browser.follow((await authorizationRequest(app.config)).url, issuer);
  assert.match(r.body, /Sign in/);
  const login = new URL(/action="([^"]*\/login)"/.exec(r.body)![1]!.replace(/&amp;/g, '&'), issuer).toString();
  const res = await browser.request(login, { form: { csrf: csrfOf(r.body), email, password } });
  // the interaction's id and CSRF token differ per sign-in
  return { status: res.status, body: res.body.replace(/\/interaction\/[^/"]+/g, '/interaction/UID').replace(/(name="csrf" value|data-csrf)="[^"]+"/g, '$1="CSRF"') };
}

async function lastFailure(): Promise<{ reason: string | null | undefined; data: Record<string, unknown> }> {
  await node.services.audit.flush();
  const e = (await node.services.store.tailAudit(50)).filter((x) => x.type === 'signin.failed').at(-1)!;
  return { reason: e.reason, data: e.data as Record<string, unknown> };
}

test('attack: the right password of a disabled account through the sign-in page → the same 401 page as a wrong one, counted as a failure; signin.failed says inactive: true for the operator only', async () => {
  const user = await node.services.identity.users.add({ email: 'parked@example.test', password: PASSWORD }, 'test');
  await node.services.identity.users.disable(user.id, 'test');

  const wrong = await postPassword('parked@example.test', WRONG);
  const wrongEvent = await lastFailure();
  const right = await postPassword('parked@example.test', PASSWORD);
  const rightEvent = await lastFailure();

  assert.equal(wrong.status, 401);
  assert.deepEqual(right, wrong, 'the client cannot tell the right password from a wrong one');
  assert.deepEqual(wrongEvent, { reason: 'auth.invalid-credentials', data: { ip: '127.0.0.1', userId: user.id } });
  assert.deepEqual(rightEvent, { reason: 'auth.invalid-credentials', data: { ip: '127.0.0.1', userId: user.id, inactive: true } });
  assert.equal((await node.services.identity.lockout.state('account', user.id)).failures, 2);
});
