/**
 * WebAuthn ceremonies (identity/pages/webauthn.ts) against a software authenticator
 * (soft-authenticator.ts: P-256 key, `none` attestation) whose counter and UV flag the
 * test sets at will — which Chromium's virtual authenticator does not allow. Real
 * SQLite store.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { systemClock } from '../../src/core/clock.js';
import { WebAuthnCeremonies } from '../../src/identity/pages/webauthn.js';
import type { UserRecord } from '../../src/identity/store.js';
import { openDurableStore, type DurableStore } from '../../src/store/index.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { SoftAuthenticator as Soft, b64u } from './soft-authenticator.js';

const RP_ID = 'login.example.test';
const ORIGIN = `https://${RP_ID}`;
const dir = mkdtempSync(join(tmpdir(), 'pc-webauthn-'));
let store: DurableStore;
let ephemeral: MemoryEphemeralStore;
let ceremonies: WebAuthnCeremonies;

before(async () => {
  store = await openDurableStore(`sqlite:${join(dir, 'p.db')}`);
  ephemeral = new MemoryEphemeralStore();
  ceremonies = new WebAuthnCeremonies(store, ephemeral, systemClock, { rpId: RP_ID, rpName: 'Portcullis', origin: ORIGIN }, new MemoryAuditSink());
});
after(async () => {
  await ephemeral.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

class SoftAuthenticator extends Soft {
  constructor(origin = ORIGIN) {
    super(origin, RP_ID);
  }
}

let n = 0;
async function newUser(): Promise<UserRecord> {
  const now = Date.now();
  const u: UserRecord = { id: `usr_wa${++n}`, email: `wa${n}@example.test`, emailNormalized: `wa${n}@example.test`, status: 'active', mfaRequired: false, tokensRevokedBefore: 0, createdAt: now, updatedAt: now };
  await store.createUser(u);
  return u;
}

/** Registers `auth` for `user` through the ceremony (slot = an interaction id). */
async function registered(user: UserRecord, auth = new SoftAuthenticator(), uv = true) {
  const slot = `reg-${user.id}-${randomBytes(4).toString('hex')}`;
  const options = (await ceremonies.registrationOptions(slot, user)) as { challenge: string };
  const r = await ceremonies.verifyRegistration(slot, user.id, auth.register(options, uv), 'Key');
  return { auth, id: r.id, userVerified: r.userVerified };
}

/** One authentication ceremony: options for `userId` (undefined: passwordless passkey), then the assertion. */
async function authenticate(userId: string | undefined, make: (o: { challenge: string }) => string) {
  const slot = `auth-${randomBytes(4).toString('hex')}`;
  const options = (await ceremonies.authenticationOptions(slot, userId)) as { challenge: string; userVerification: string };
  return { options, result: ceremonies.verifyAuthentication(slot, userId, make(options)) };
}

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

test('a registered key signs in as a second factor; each use stores its counter (compare-and-set) and the time of use', async () => {
  const user = await newUser();
  const { auth, id } = await registered(user);
  assert.equal((await store.getWebAuthnCredential(id))!.counter, 0);
  const { result } = await authenticate(user.id, (o) => auth.assert(o, { counter: 7 }));
  assert.deepEqual(await result, { userId: user.id, userVerified: false, method: 'hwk' });
  const stored = (await store.getWebAuthnCredential(id))!;
  assert.equal(stored.counter, 7);
  assert.ok(stored.lastUsedAt !== null);
  const again = await authenticate(user.id, (o) => auth.assert(o));
  assert.equal((await again.result).userId, user.id);
  assert.equal((await store.getWebAuthnCredential(id))!.counter, 8);
});

test('attack: a cloned authenticator — an assertion whose counter does not grow is refused with webauthn.counter-regressed, moves no counter and suspends the credential', async () => {
  const user = await newUser();
  const { auth, id } = await registered(user);
  const clone = auth.clone();
  await (await authenticate(user.id, (o) => auth.assert(o, { counter: 5 }))).result;
  // The clone replays the counter it copied, then a lower one; a passwordless attempt is refused the same way.
  await rejectsWith((await authenticate(user.id, (o) => clone.assert(o, { counter: 5 }))).result, 'webauthn.counter-regressed');
  // a suspended key is no longer offered as a second factor: refused at the options already
  await rejectsWith(authenticate(user.id, (o) => clone.assert(o, { counter: 3 })).then((a) => a.result), 'webauthn.credential-suspended');
  await rejectsWith((await authenticate(undefined, (o) => clone.assert(o, { counter: 4, uv: true }))).result, 'webauthn.credential-suspended');
  assert.equal((await store.getWebAuthnCredential(id))!.counter, 5, 'the stored counter did not move');
  // Which copy is genuine cannot be told: the key, moving forward, is suspended as well (webauthn.cloned-authenticator.attacks.test.ts).
  await rejectsWith(authenticate(user.id, (o) => auth.assert(o, { counter: 6 })).then((a) => a.result), 'webauthn.credential-suspended');
});

test('authenticators that keep no counter (always 0, synced passkeys) are accepted each time; one that starts counting cannot go back to 0', async () => {
  const user = await newUser();
  const { auth, id } = await registered(user);
  for (let i = 0; i < 2; i++) await (await authenticate(user.id, (o) => auth.assert(o, { counter: 0 }))).result;
  await (await authenticate(user.id, (o) => auth.assert(o, { counter: 1 }))).result;
  await rejectsWith((await authenticate(user.id, (o) => auth.assert(o, { counter: 0 }))).result, 'webauthn.counter-regressed');
  assert.equal((await store.getWebAuthnCredential(id))!.counter, 1);
});

test('user verification honoured: a passwordless passkey sign-in asks for UV and refuses an assertion without it (webauthn.user-verification-required); with UV it signs the user in', async () => {
  const user = await newUser();
  const { auth } = await registered(user);
  const noUv = await authenticate(undefined, (o) => auth.assert(o, { uv: false }));
  assert.equal(noUv.options.userVerification, 'required');
  await rejectsWith(noUv.result, 'webauthn.user-verification-required');
  const withUv = await authenticate(undefined, (o) => auth.assert(o, { uv: true }));
  assert.deepEqual(await withUv.result, { userId: user.id, userVerified: true, method: 'hwk' });
  // As a second factor UV is preferred, not required, and reported as it was (the sign-in page adds amr "user" only when true).
  const second = await authenticate(user.id, (o) => auth.assert(o, { uv: true }));
  assert.equal(second.options.userVerification, 'preferred');
  assert.equal((await second.result).userVerified, true);
});

test('attack: an assertion replayed (its challenge was used), from another origin, or with another user’s key is refused (webauthn.invalid-response)', async () => {
  const alice = await newUser();
  const bob = await newUser();
  const { auth } = await registered(alice);
  const slot = 'replay-slot';
  const options = (await ceremonies.authenticationOptions(slot, alice.id)) as { challenge: string };
  const response = auth.assert(options);
  await ceremonies.verifyAuthentication(slot, alice.id, response);
  await rejectsWith(ceremonies.verifyAuthentication(slot, alice.id, response), 'webauthn.invalid-response');

  // A look-alike site relaying the ceremony: the browser puts its own origin in clientDataJSON.
  const { auth: relayed } = await registered(await newUser());
  relayed.origin = 'https://login.example-test.evil';
  await rejectsWith((await authenticate(undefined, (o) => relayed.assert(o, { uv: true }))).result, 'webauthn.invalid-response');
  await rejectsWith(registered(await newUser(), new SoftAuthenticator('https://login.example-test.evil')), 'webauthn.invalid-response');

  await rejectsWith((await authenticate(bob.id, (o) => auth.assert(o))).result, 'webauthn.invalid-response');
  const forged = await authenticate(alice.id, (o) => JSON.stringify({ ...JSON.parse(auth.assert(o)), id: b64u(randomBytes(16)) }));
  await rejectsWith(forged.result, 'webauthn.invalid-response');
});

test('attack: a passwordless passkey assertion whose userHandle names another user is refused (webauthn.user-handle-mismatch, WebAuthn §7.2 step 6) and moves no counter', async () => {
  const alice = await newUser();
  const mallory = await newUser();
  const { auth, id } = await registered(alice);
  const other = await authenticate(undefined, (o) => auth.assert(o, { uv: true, counter: 3, userHandle: b64u(Buffer.from(mallory.id)) }));
  await rejectsWith(other.result, 'webauthn.user-handle-mismatch');
  assert.equal((await store.getWebAuthnCredential(id))!.counter, 0, 'the stored counter did not move');
  // the credential's own user handle signs alice in
  assert.deepEqual(await (await authenticate(undefined, (o) => auth.assert(o, { uv: true, counter: 4 }))).result, { userId: alice.id, userVerified: true, method: 'hwk' });
});

test('attack: a passwordless passkey assertion without a userHandle is refused (webauthn.user-handle-mismatch): a discoverable credential must name its user', async () => {
  const user = await newUser();
  const { auth } = await registered(user);
  await rejectsWith((await authenticate(undefined, (o) => auth.assert(o, { uv: true, userHandle: null }))).result, 'webauthn.user-handle-mismatch');
});

test('second factor: a userHandle, when present, must be the signed-in user\'s (webauthn.user-handle-mismatch); an assertion without one is accepted (§7.2 step 6)', async () => {
  const alice = await newUser();
  const bob = await newUser();
  const { auth } = await registered(alice);
  await rejectsWith((await authenticate(alice.id, (o) => auth.assert(o, { userHandle: b64u(Buffer.from(bob.id)) }))).result, 'webauthn.user-handle-mismatch');
  assert.equal((await (await authenticate(alice.id, (o) => auth.assert(o, { userHandle: null }))).result).userId, alice.id);
  assert.equal((await (await authenticate(alice.id, (o) => auth.assert(o))).result).userId, alice.id);
});

test('registration: several keys per user, the user’s existing keys excluded in the options; a key registered without UV reports it', async () => {
  const user = await newUser();
  const first = await registered(user);
  const options = (await ceremonies.registrationOptions('reg-more', user)) as { challenge: string; excludeCredentials: Array<{ id: string }> };
  assert.deepEqual(options.excludeCredentials.map((c) => c.id), [first.id]);
  const second = new SoftAuthenticator();
  const r = await ceremonies.verifyRegistration('reg-more', user.id, second.register(options, false), 'Backup key');
  assert.equal(r.userVerified, false);
  const creds = await store.listWebAuthnCredentials(user.id);
  assert.deepEqual(creds.map((c) => c.name).sort(), ['Backup key', 'Key']);
  // attack: a registration answered twice (the challenge is single use).
  await rejectsWith(ceremonies.verifyRegistration('reg-more', user.id, new SoftAuthenticator().register(options), 'Third'), 'webauthn.invalid-response');
});

test('a synced passkey (backup eligible: its key lives in a cloud keychain, not one device) is reported as swk, a device-bound key as hwk (RFC 8176)', async () => {
  const user = await newUser();
  const synced = new SoftAuthenticator();
  synced.synced = true;
  const reg = await registered(user, synced);
  assert.equal((await store.getWebAuthnCredential(reg.id))!.deviceType, 'multiDevice');
  const { result } = await authenticate(undefined, (o) => synced.assert(o, { uv: true }));
  assert.deepEqual(await result, { userId: user.id, userVerified: true, method: 'swk' });
  const bound = await registered(user);
  const second = await authenticate(user.id, (o) => bound.auth.assert(o));
  assert.equal((await second.result).method, 'hwk');
});
