/** oidc-provider's adapter: sign-ins under way in the ephemeral store, the rest durable; consume is a compare-and-set in both. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/core/clock.js';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { markGrantRevoked, oidcAdapter, storageId } from '../../src/identity/oidc/adapter.js';
import type { OidcModelRecord } from '../../src/identity/store.js';
import { openDurableStore } from '../../src/store/index.js';
import { portcullisMigrator } from '../../src/store/migrations/index.js';
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
  assert.equal((await store.findOidcModel('Session', storageId('Session', 's1')))?.accountId, 'usr_1');
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

test('attack: a database dump holds no live refresh token, opaque access token, session id or code (stored under a SHA-256, payload without jti)', async (t) => {
  const { store, ephemeral, Adapter } = await setup(t);
  const secrets: Record<string, string> = { RefreshToken: 'rt_live_secret_value_0123456789abcdefghijk', AccessToken: 'at_live_secret_value_0123456789abcdefghijk', Session: 'ses_live_secret_value_0123456789abcdefghij' };
  for (const [model, id] of Object.entries(secrets)) {
    const a = new Adapter(model);
    await a.upsert(id, { kind: model, jti: id, accountId: 'usr_1', grantId: 'g1', uid: `uid-${model}` }, 3600);
    assert.equal(await store.findOidcModel(model, id), undefined, `${model} not under its id`);
    const row = await store.findOidcModel(model, storageId(model, id));
    assert.ok(row, `${model} under the hash of its id`);
    assert.ok(!JSON.stringify(row).includes(id), `${model} row holds no copy of the id`);
    assert.equal((await a.find(id))?.['jti'], id, 'oidc-provider gets its id back');
    assert.equal(await a.find(storageId(model, id)), undefined, 'the stored key is not a token');
  }
  await new Adapter('RefreshToken').consume(secrets['RefreshToken']!);
  assert.equal(typeof (await new Adapter('RefreshToken').find(secrets['RefreshToken']!))?.['consumed'], 'number');
  await new Adapter('Session').destroy(secrets['Session']!);
  assert.equal(await store.findOidcModel('Session', storageId('Session', secrets['Session']!)), undefined);

  const code = new Adapter('AuthorizationCode');
  await code.upsert('code_live_secret_value', { kind: 'AuthorizationCode', jti: 'code_live_secret_value', grantId: 'g2' }, 60);
  assert.equal(await ephemeral.get('oidc:AuthorizationCode:code_live_secret_value'), undefined);
  const stored = await ephemeral.get(`oidc:AuthorizationCode:${storageId('AuthorizationCode', 'code_live_secret_value')}`);
  assert.ok(stored && !stored.includes('code_live_secret_value'));
  assert.equal((await code.find('code_live_secret_value'))?.['grantId'], 'g2');
});

test('upgrade: migration 0008 moves existing refresh tokens and sessions to hashed ids (they keep working) and drops stale code rows', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-oidc-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'p.db');
  // A database of the version before 0008, with the rows it wrote: the id in the clear, and again as jti.
  const older = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  const { error } = await portcullisMigrator(older).migrateTo('0007-encryption');
  await older.destroy();
  assert.equal(error, undefined);
  const raw = new BetterSqlite3(file);
  const insert = raw.prepare('insert into oidc_models (model, id, payload, expires_at, grant_id, user_code, uid, account_id, consumed_at) values (?, ?, ?, ?, ?, null, ?, ?, null)');
  const exp = Date.now() + 3_600_000;
  insert.run('RefreshToken', 'legacy_rt', JSON.stringify({ kind: 'RefreshToken', jti: 'legacy_rt', grantId: 'g1', accountId: 'usr_1' }), exp, 'g1', null, 'usr_1');
  insert.run('Session', 'legacy_ses', JSON.stringify({ kind: 'Session', jti: 'legacy_ses', uid: 'su1', accountId: 'usr_1' }), exp, null, 'su1', 'usr_1');
  insert.run('Grant', 'g1', JSON.stringify({ kind: 'Grant', jti: 'g1', accountId: 'usr_1' }), exp, null, null, 'usr_1');
  insert.run('AuthorizationCode', 'legacy_code', JSON.stringify({ kind: 'AuthorizationCode', jti: 'legacy_code' }), exp, 'g1', null, 'usr_1');
  raw.close();

  const store = await openDurableStore(`sqlite:${file}`);
  const ephemeral = new MemoryEphemeralStore();
  t.after(async () => {
    await ephemeral.close();
    await store.close();
  });
  const Adapter = oidcAdapter(store, ephemeral, systemClock, { onGrantRevoked: async () => undefined });
  assert.equal((await new Adapter('RefreshToken').find('legacy_rt'))?.['grantId'], 'g1');
  assert.equal((await new Adapter('Session').find('legacy_ses'))?.['accountId'], 'usr_1');
  assert.equal((await new Adapter('Grant').find('g1'))?.['accountId'], 'usr_1');
  const dump = new BetterSqlite3(file, { readonly: true });
  try {
    const rows = dump.prepare('select model, id, payload from oidc_models').all() as Array<{ model: string; id: string; payload: string }>;
    assert.deepEqual(rows.map((r) => r.model).sort(), ['Grant', 'RefreshToken', 'Session']);
    const text = JSON.stringify(rows);
    assert.ok(!text.includes('legacy_rt') && !text.includes('legacy_ses'), text);
  } finally {
    dump.close();
  }
});
