/**
 * `removeSecondFactor` with `keepOneOf` (a user who must keep MFA) on SQLite and PostgreSQL:
 * the last usable factor stays, and two removals at the same moment, each of "the other"
 * factor (an enrolment and a passkey: two tables), cannot both pass: one is `last`.
 */
import assert from 'node:assert/strict';
import type { DurableStore } from '../../src/store/types.js';
import { serviceDescribe } from '../support/services.js';
import { postgresStoreFixture, sqliteStoreFixture, storeTests, type StoreFixture } from '../support/store-fixtures.js';

const T0 = 1_700_000_000_000;
const OFFERED = ['totp', 'email'];

async function userWithTwoFactors(store: DurableStore, id: string): Promise<void> {
  await store.createUser({ id, email: `${id}@example.test`, emailNormalized: `${id}@example.test`, status: 'active', mfaRequired: true, tokensRevokedBefore: 0, createdAt: T0, updatedAt: T0 });
  await store.putEnrollment({ userId: id, factorId: 'totp', status: 'confirmed', data: { sealedSecret: 'x' }, createdAt: T0, confirmedAt: T0 });
  await store.addWebAuthnCredential({ id: `key-${id}`, userId: id, name: 'key', publicKey: 'AQID', counter: 0, transports: [], backedUp: false, deviceType: 'singleDevice', createdAt: T0, lastUsedAt: null, suspendedAt: null });
}

async function usableLeft(store: DurableStore, id: string): Promise<number> {
  const enrolments = (await store.listEnrollments(id)).filter((e) => e.status === 'confirmed' && OFFERED.includes(e.factorId)).length;
  return enrolments + (await store.listWebAuthnCredentials(id)).filter((k) => k.suspendedAt === null).length;
}

function suite(t: (title: string, fn: (f: StoreFixture) => Promise<void>) => void): void {
  t('attack: two concurrent removals of the two last factors → one removed, one last; a usable factor remains', async ({ store }) => {
    for (let round = 0; round < 5; round++) {
      const id = `u${round}`;
      await userWithTwoFactors(store, id);
      const results = await Promise.all([store.removeSecondFactor(id, { enrollment: 'totp' }, OFFERED), store.removeSecondFactor(id, { passkey: `key-${id}` }, OFFERED)]);
      assert.deepEqual([...results].sort(), ['last', 'removed'], `round ${round}`);
      assert.equal(await usableLeft(store, id), 1, `round ${round}`);
    }
  });

  t('the last usable factor stays; a suspended key or a factor no longer offered does not count; without keepOneOf it goes', async ({ store }) => {
    await userWithTwoFactors(store, 'v');
    await store.suspendWebAuthnCredential('key-v', T0 + 1);
    await store.putEnrollment({ userId: 'v', factorId: 'sms', status: 'confirmed', data: { address: '+15551234567' }, createdAt: T0, confirmedAt: T0 });
    assert.equal(await store.removeSecondFactor('v', { enrollment: 'totp' }, OFFERED), 'last');
    assert.equal((await store.getEnrollment('v', 'totp'))?.status, 'confirmed');
    // a suspended key is not usable: removing it leaves the usable factor
    assert.equal(await store.removeSecondFactor('v', { passkey: 'key-v' }, OFFERED), 'removed');
    assert.equal(await store.removeSecondFactor('v', { passkey: 'key-v' }, OFFERED), 'absent');
    assert.equal(await store.removeSecondFactor('v', { passkey: 'key-v' }), 'absent');
    assert.equal(await store.removeSecondFactor('nobody', { enrollment: 'totp' }, OFFERED), 'absent');
    assert.equal(await store.removeSecondFactor('v', { enrollment: 'totp' }), 'removed');
    assert.equal(await store.getEnrollment('v', 'totp'), undefined);
  });
}

suite(storeTests('sqlite', () => sqliteStoreFixture()));
await serviceDescribe('postgres', 'postgres', () => suite(storeTests('postgres', () => postgresStoreFixture())));
