/** oidc-provider's adapter: sign-ins under way in the ephemeral store, the rest durable; consume is a compare-and-set in both. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/core/clock.js';
import { markGrantRevoked, oidcAdapter } from '../../src/identity/oidc/adapter.js';
import type { OidcModelRecord } from '../../src/identity/store.js';
import { openDurableStore } from '../../src/store/index.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-oidc-adapter-'));
  const store = await openDurableStore(`sqlite:${join(dir, 'p.db')}`);
  const ephemeral = new MemoryEphemeralStore();
  const revoked: OidcModelRecord[][] = [];
  const Adapter = oidcAdapter(store, ephemeral, systemClock, { onGrantRevoked: async (_g, removed) => void revoked.push(removed) });
  t.after(async () => {
    await ephemeral.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, ephemeral, Adapter, revoked };
}

test('interactions and authorization codes are kept in the ephemeral store, sessions in the durable one', async (t) => {
  const { store, Adapter } = await setup(t);
  const interaction = new Adapter('Interaction');
  await interaction.upsert('i1', { kind: 'Interaction', returnTo: '/x' }, 3600);
  assert.deepEqual(await interaction.find('i1'), { kind: 'Interaction', returnTo: '/x' });
  assert.equal(await store.findOidcModel('Interaction', 'i1'), undefined);
  await interaction.destroy('i1');
  assert.equal(await interaction.find('i1'), undefined);

  const code = new Adapter('AuthorizationCode');
  await code.upsert('c1', { kind: 'AuthorizationCode', grantId: 'g1' }, 60);
  assert.equal(await store.findOidcModel('AuthorizationCode', 'c1'), undefined);
  assert.equal((await code.find('c1'))?.['grantId'], 'g1');

  const session = new Adapter('Session');
  await session.upsert('s1', { kind: 'Session', uid: 'u1', accountId: 'usr_1' }, 3600);
  assert.equal((await store.findOidcModel('Session', 's1'))?.accountId, 'usr_1');
  assert.equal((await session.findByUid('u1'))?.['accountId'], 'usr_1');
});

test('attack: code replay — of concurrent redemptions exactly one wins; the losers revoke the grant and fail with invalid_grant', async (t) => {
  const { store, Adapter, revoked } = await setup(t);
  const code = new Adapter('AuthorizationCode');
  await code.upsert('c1', { kind: 'AuthorizationCode', grantId: 'g1' }, 60);
  // A token already issued under the grant (its id kept for revocation).
  await store.upsertOidcModel({ model: 'IssuedJwt', id: 'jti-1', payload: { clientId: 'app_1', exp: Math.floor(Date.now() / 1000) + 600 }, expiresAt: Date.now() + 600_000, grantId: 'g1', userCode: null, uid: null, accountId: 'usr_1', consumedAt: null });
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => code.consume('c1')));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results.filter((x) => x.status === 'rejected')) assert.equal((r as PromiseRejectedResult).reason.error, 'invalid_grant');
  assert.deepEqual(revoked.flat().map((r) => r.id), ['jti-1']);
  // The grant is revoked: the code is found no more (oidc-provider answers invalid_grant).
  assert.equal(await code.find('c1'), undefined);
});

test('a redeemed code reads as consumed (oidc-provider revokes the grant on a second use)', async (t) => {
  const { Adapter } = await setup(t);
  const code = new Adapter('AuthorizationCode');
  await code.upsert('c1', { kind: 'AuthorizationCode', grantId: 'g1' }, 60);
  assert.equal((await code.find('c1'))?.['consumed'], undefined);
  await code.consume('c1');
  assert.equal(typeof (await code.find('c1'))?.['consumed'], 'number');
});

test('a code not yet redeemed dies with its grant (a session ended, a refresh token reused)', async (t) => {
  const { ephemeral, Adapter } = await setup(t);
  const code = new Adapter('AuthorizationCode');
  await code.upsert('c1', { kind: 'AuthorizationCode', grantId: 'g1' }, 60);
  await code.upsert('c2', { kind: 'AuthorizationCode', grantId: 'g2' }, 60);
  await markGrantRevoked(ephemeral, 'g1');
  assert.equal(await code.find('c1'), undefined);
  assert.ok(await code.find('c2'));
  await new Adapter('RefreshToken').revokeByGrantId('g2');
  assert.equal(await code.find('c2'), undefined);
});
