/**
 * Attack: a cloned authenticator (WebAuthn L3 §6.1.1, §7.2 step 21). The signature counter
 * tells a clone from the genuine key only after the fact: whichever of the two is used
 * second is the one refused. So a counter that goes back, in an assertion whose signature
 * verifies, suspends the credential for good (both copies refused, audited), while an
 * assertion that does not verify (a forged one with a low counter) is only an invalid
 * response: it neither raises the alarm nor suspends anything. Authenticators that keep
 * no counter (always 0) keep working. Real SQLite store, software authenticator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { UserRecord } from '../../src/identity/store.js';
import { SoftAuthenticator, b64u } from './soft-authenticator.js';
import { ceremoniesFixture, ORIGIN, RP_ID } from './webauthn-ceremonies-fixture.js';

const fx = ceremoniesFixture('clone');
const newUser = () => fx.newUser();

async function registered(user: UserRecord) {
  const auth = new SoftAuthenticator(ORIGIN, RP_ID);
  const slot = `reg-${randomBytes(4).toString('hex')}`;
  const options = (await fx.ceremonies.registrationOptions(slot, user)) as { challenge: string };
  const r = await fx.ceremonies.verifyRegistration(slot, user.id, auth.register(options), 'Key');
  return { auth, id: r.id };
}

function authenticate(userId: string | undefined, make: (o: { challenge: string }) => string): Promise<{ userId: string; userVerified: boolean }> {
  const slot = `auth-${randomBytes(4).toString('hex')}`;
  return fx.ceremonies.authenticationOptions(slot, userId).then((o) => fx.ceremonies.verifyAuthentication(slot, userId, make(o as { challenge: string })));
}

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);
const suspensions = (id: string) => fx.audit.events.filter((e) => e.type === 'webauthn.credential-suspended' && (e.data as { credential?: string } | null)?.credential === id);

test('attack: a clone used first (its counter ahead) — once the genuine key shows the counter went back, the credential is suspended: the clone is refused from then on, audited once', async () => {
  const user = await newUser();
  const { auth, id } = await registered(user);
  await authenticate(user.id, (o) => auth.assert(o, { counter: 5 }));
  const clone = auth.clone();
  // The attacker's copy races ahead and signs in.
  await authenticate(user.id, (o) => clone.assert(o, { counter: 50 }));
  // The genuine key comes next with a counter behind the stored one: a clone exists.
  await rejectsWith(authenticate(user.id, (o) => auth.assert(o, { counter: 6 })), 'webauthn.counter-regressed');
  assert.ok((await fx.store.getWebAuthnCredential(id))!.suspendedAt, 'the credential is flagged');
  assert.equal(suspensions(id).length, 1);
  const ev = suspensions(id)[0]!;
  assert.equal(ev.reason, 'webauthn.counter-regressed');
  assert.deepEqual(ev.data, { userId: user.id, credential: id, storedCounter: 50, assertedCounter: 6 });
  // The clone, moving forward, no longer signs in, as a second factor or a passkey; nor does the genuine key.
  await rejectsWith(authenticate(user.id, (o) => clone.assert(o, { counter: 51 })), 'webauthn.credential-suspended');
  await rejectsWith(authenticate(undefined, (o) => clone.assert(o, { counter: 52, uv: true })), 'webauthn.credential-suspended');
  await rejectsWith(authenticate(user.id, (o) => auth.assert(o, { counter: 100 })), 'webauthn.credential-suspended');
  assert.equal((await fx.store.getWebAuthnCredential(id))!.counter, 50, 'no counter moved after the suspension');
  assert.equal(suspensions(id).length, 1, 'suspended once');
});

test('attack: a forged assertion (signature does not verify) with a counter behind is an invalid response, not a clone: nothing is suspended and the key keeps working', async () => {
  const user = await newUser();
  const { auth, id } = await registered(user);
  await authenticate(user.id, (o) => auth.assert(o, { counter: 9 }));
  const forged = (o: { challenge: string }) => {
    const a = JSON.parse(auth.clone().assert(o, { counter: 2 })) as { response: { signature: string } };
    a.response.signature = b64u(randomBytes(72));
    return JSON.stringify(a);
  };
  await rejectsWith(authenticate(user.id, forged), 'webauthn.invalid-response');
  await rejectsWith(authenticate(undefined, forged), 'webauthn.invalid-response');
  assert.equal((await fx.store.getWebAuthnCredential(id))!.suspendedAt, null);
  assert.equal(suspensions(id).length, 0);
  assert.deepEqual(await authenticate(user.id, (o) => auth.assert(o, { counter: 10 })), { userId: user.id, userVerified: false, method: 'hwk' });
});

test('attack: a forged assertion without user verification on a passkey sign-in is an invalid response (the signature is checked before the UV flag is reported)', async () => {
  const user = await newUser();
  const { auth } = await registered(user);
  await rejectsWith(
    authenticate(undefined, (o) => {
      const a = JSON.parse(auth.assert(o, { uv: false })) as { response: { signature: string } };
      a.response.signature = b64u(randomBytes(72));
      return JSON.stringify(a);
    }),
    'webauthn.invalid-response',
  );
});

test('authenticators that keep no counter (always 0, synced passkeys) keep working and are never suspended', async () => {
  const user = await newUser();
  const { auth, id } = await registered(user);
  for (let i = 0; i < 3; i++) await authenticate(i % 2 ? undefined : user.id, (o) => auth.assert(o, { counter: 0, uv: true }));
  assert.equal((await fx.store.getWebAuthnCredential(id))!.suspendedAt, null);
  assert.equal(suspensions(id).length, 0);
});
