/**
 * Attacks on WebAuthn registration (W3C WebAuthn L3 §7.1) and on the bindings of both
 * ceremonies: a credential id another user already holds, an oversized credential id
 * (§7.1 step 24: at most 1023 bytes), a flood of credentials, junk transports stored for
 * later pages; a response from http:// on an https deployment, an rpIdHash of the parent
 * domain, a registration challenge answered as an assertion. Each refusal is typed, and
 * each refused registration audited (`webauthn.registration-refused`). Real SQLite store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MAX_WEBAUTHN_CREDENTIALS } from '../../src/identity/pages/webauthn.js';
import type { UserRecord } from '../../src/identity/store.js';
import { SoftAuthenticator } from './soft-authenticator.js';
import { ceremoniesFixture, ORIGIN, RP_ID } from './webauthn-ceremonies-fixture.js';

const fx = ceremoniesFixture('reg');
const newUser = () => fx.newUser();

/** One registration ceremony; `edit` may change the response JSON the authenticator made. */
async function register(user: UserRecord, auth = new SoftAuthenticator(ORIGIN, RP_ID), edit: (r: Record<string, any>) => void = () => {}) {
  const slot = `reg-${randomBytes(4).toString('hex')}`;
  const options = (await fx.ceremonies.registrationOptions(slot, user)) as { challenge: string };
  const r = JSON.parse(auth.register(options)) as Record<string, any>;
  edit(r);
  return fx.ceremonies.verifyRegistration(slot, user.id, JSON.stringify(r), 'Key');
}

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string; status?: number }) => e.code === code);
const refusals = (userId: string) => fx.audit.events.filter((e) => e.type === 'webauthn.registration-refused' && (e.data as { userId?: string }).userId === userId);

test('attack: registering a credential id that another user holds is refused (webauthn.credential-exists, 409), audited, and the credential stays the owner\'s', async () => {
  const alice = await newUser();
  const mallory = await newUser();
  const key = new SoftAuthenticator(ORIGIN, RP_ID);
  const { id } = await register(alice, key);
  // Mallory's authenticator claims alice's credential id with its own public key.
  const forged = new SoftAuthenticator(ORIGIN, RP_ID);
  Object.assign(forged, { credentialId: key.credentialId });
  await assert.rejects(register(mallory, forged), (e: { code?: string; status?: number }) => e.code === 'webauthn.credential-exists' && e.status === 409);
  await rejectsWith(register(alice, key), 'webauthn.credential-exists');
  const stored = (await fx.store.getWebAuthnCredential(id))!;
  assert.equal(stored.userId, alice.id);
  assert.deepEqual((await fx.store.listWebAuthnCredentials(mallory.id)).length, 0);
  const ev = refusals(mallory.id);
  assert.equal(ev.length, 1);
  assert.equal(ev[0]!.reason, 'webauthn.credential-exists');
  assert.deepEqual(ev[0]!.data, { userId: mallory.id, credential: id });
});

test('attack: a credential id over 1023 bytes is refused (webauthn.invalid-response, §7.1) and nothing is stored', async () => {
  const user = await newUser();
  const big = new SoftAuthenticator(ORIGIN, RP_ID);
  Object.assign(big, { credentialId: randomBytes(1024) });
  await assert.rejects(register(user, big), (e: { code?: string; status?: number }) => e.code === 'webauthn.invalid-response' && e.status === 400);
  assert.equal((await fx.store.listWebAuthnCredentials(user.id)).length, 0);
  assert.equal(refusals(user.id)[0]?.reason, 'webauthn.invalid-response');
});

test('attack: a user registers at most MAX_WEBAUTHN_CREDENTIALS credentials (webauthn.too-many-credentials, 409): asked at the options and at the verify step', async () => {
  const user = await newUser();
  const slot = 'reg-flood';
  const pending = (await fx.ceremonies.registrationOptions(slot, user)) as { challenge: string };
  for (let i = 0; i < MAX_WEBAUTHN_CREDENTIALS; i++) await register(user);
  await assert.rejects(fx.ceremonies.registrationOptions('reg-more', user), (e: { code?: string; status?: number }) => e.code === 'webauthn.too-many-credentials' && e.status === 409);
  // Options fetched while there was room, answered once the room is gone.
  await rejectsWith(fx.ceremonies.verifyRegistration(slot, user.id, new SoftAuthenticator(ORIGIN, RP_ID).register(pending), 'One more'), 'webauthn.too-many-credentials');
  assert.equal((await fx.store.listWebAuthnCredentials(user.id)).length, MAX_WEBAUTHN_CREDENTIALS);
  assert.equal(refusals(user.id).at(-1)?.reason, 'webauthn.too-many-credentials');
});

test('attack: junk transports in a registration response are not stored; the known ones are, once each', async () => {
  const user = await newUser();
  const { id } = await register(user, undefined, (r) => {
    r.response.transports = ['usb', 'usb', 'nfc', 'x'.repeat(10_000), ...Array.from({ length: 5000 }, (_, i) => `t${i}`)];
  });
  assert.deepEqual((await fx.store.getWebAuthnCredential(id))!.transports, ['usb', 'nfc']);
  const { id: id2 } = await register(user, undefined, (r) => {
    r.response.transports = { not: 'an array' };
  });
  assert.deepEqual((await fx.store.getWebAuthnCredential(id2))!.transports, []);
});

test('attack: a registration from http:// on an https deployment, or for the parent domain\'s rpId, is refused (webauthn.invalid-response)', async () => {
  const user = await newUser();
  await rejectsWith(register(user, new SoftAuthenticator(`http://${RP_ID}`, RP_ID)), 'webauthn.invalid-response');
  await rejectsWith(register(user, new SoftAuthenticator(ORIGIN, 'example.test')), 'webauthn.invalid-response');
  await rejectsWith(register(user, new SoftAuthenticator(ORIGIN, `other.${RP_ID.split('.').slice(1).join('.')}`)), 'webauthn.invalid-response');
  assert.equal((await fx.store.listWebAuthnCredentials(user.id)).length, 0);
});

test('attack: an assertion from http://, for the parent domain\'s rpId, or answering a registration challenge is refused (webauthn.invalid-response)', async () => {
  const user = await newUser();
  const key = new SoftAuthenticator(ORIGIN, RP_ID);
  await register(user, key);
  const assertWith = async (make: (o: { challenge: string }) => string) => {
    const slot = `auth-${randomBytes(4).toString('hex')}`;
    const o = (await fx.ceremonies.authenticationOptions(slot, user.id)) as { challenge: string };
    return fx.ceremonies.verifyAuthentication(slot, user.id, make(o));
  };
  const http = key.clone();
  http.origin = `http://${RP_ID}`;
  await rejectsWith(assertWith((o) => http.assert(o)), 'webauthn.invalid-response');
  const parent = key.clone();
  Object.assign(parent, { rpId: 'example.test' });
  await rejectsWith(assertWith((o) => parent.assert(o)), 'webauthn.invalid-response');
  // A registration challenge of the same slot is not an authentication challenge (nor is an attestation an assertion).
  const slot = 'mixed';
  const reg = (await fx.ceremonies.registrationOptions(slot, user)) as { challenge: string };
  const auth = (await fx.ceremonies.authenticationOptions(slot, user.id)) as { challenge: string };
  await rejectsWith(fx.ceremonies.verifyAuthentication(slot, user.id, key.assert(reg)), 'webauthn.invalid-response');
  await rejectsWith(fx.ceremonies.verifyRegistration(slot, user.id, new SoftAuthenticator(ORIGIN, RP_ID).register(auth), 'K'), 'webauthn.invalid-response');
  assert.equal((await fx.store.listWebAuthnCredentials(user.id)).length, 1);
  // The genuine key still works: none of these moved its counter or suspended it.
  assert.equal((await assertWith((o) => key.assert(o))).userId, user.id);
});

test('attack: a key name with a control character (ESC, a line break, a right-to-left override) is refused (request.invalid, 400) and audited; a long name is cut at 64 UTF-16 units, never inside a surrogate pair', async () => {
  const user = await newUser();
  for (const name of ['Key\u001b[2J', 'two\nlines', 'a\u202eb']) {
    const auth = new SoftAuthenticator(ORIGIN, RP_ID);
    const slot = `reg-${randomBytes(4).toString('hex')}`;
    const options = (await fx.ceremonies.registrationOptions(slot, user)) as { challenge: string };
    await assert.rejects(fx.ceremonies.verifyRegistration(slot, user.id, auth.register(options), name), (e: { code?: string; status?: number }) => e.code === 'request.invalid' && e.status === 400);
  }
  assert.equal((await fx.store.listWebAuthnCredentials(user.id)).length, 0);
  assert.deepEqual(refusals(user.id).map((e) => e.reason), ['request.invalid', 'request.invalid', 'request.invalid']);
  const auth = new SoftAuthenticator(ORIGIN, RP_ID);
  const slot = `reg-${randomBytes(4).toString('hex')}`;
  const options = (await fx.ceremonies.registrationOptions(slot, user)) as { challenge: string };
  const { id } = await fx.ceremonies.verifyRegistration(slot, user.id, auth.register(options), `${'k'.repeat(63)}🔑`);
  assert.equal((await fx.store.getWebAuthnCredential(id))!.name, 'k'.repeat(63));
});
