/**
 * The account page's password change is a compare-and-set on SQLite and PostgreSQL: the
 * new hash is written only if the stored one is still the hash the current password was
 * verified against. Two changes sent together with the right current password (two tabs,
 * or a thief with the password racing the user) cannot both pass, the later silently
 * standing; nor can a change whose verified hash was replaced meanwhile (an administrator's
 * reset, an invite) overwrite what replaced it. The loser is `password.changed-meanwhile`,
 * changes nothing and ends no session.
 */
import assert from 'node:assert/strict';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { EventBus } from '../../src/core/events.js';
import { createLogger } from '../../src/core/logger.js';
import { Lockout } from '../../src/identity/lockout.js';
import { changePassword, type AccountPasswordDeps } from '../../src/identity/pages/account-password.js';
import { Argon2idHasher } from '../../src/identity/passwords/argon2id.js';
import { loadCommonPasswords } from '../../src/identity/passwords/common-passwords.js';
import { PasswordHashers } from '../../src/identity/passwords/hasher.js';
import { UserService } from '../../src/identity/users.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import type { DurableStore } from '../../src/store/types.js';
import { serviceDescribe } from '../support/services.js';
import { postgresStoreFixture, sqliteStoreFixture, storeTests, type StoreFixture } from '../support/store-fixtures.js';

const PASSWORD = 'plum tractor velvet orbit';
const NEW_A = 'quartz lantern meadow ferry';
const NEW_B = 'copper willow harbor jigsaw';
const RESET = 'saffron glacier pebble anthem';

async function accountOn(store: DurableStore) {
  const clock = new FrozenClock(1_700_000_000_000);
  const ephemeral = new MemoryEphemeralStore();
  const audit = new MemoryAuditSink();
  const hashers = new PasswordHashers(new Argon2idHasher());
  const ended: string[] = [];
  const users = new UserService({
    store,
    passwords: store,
    hashers,
    blocklist: await loadCommonPasswords(),
    factors: [],
    enrollments: store,
    events: new EventBus(ephemeral, createLogger('silent')),
    audit,
    clock,
    endSessions: async (id) => void ended.push(id),
  });
  const deps: AccountPasswordDeps = { hashers, passwords: store, lockout: new Lockout(ephemeral, clock), users };
  const user = await users.add({ email: 'race@example.test', password: PASSWORD }, 'test');
  return { users, deps, audit, ended, userId: user.id, close: () => ephemeral.close() };
}

/** Holds the first `n` reads of the user's hash until all `n` have read it (or 2 s pass): every change verifies before any writes. */
function readTogether(store: DurableStore, userId: string, n: number): () => void {
  const read = store.getPasswordHash.bind(store);
  const waiting: Array<() => void> = [];
  store.getPasswordHash = async (id: string) => {
    const hash = await read(id);
    if (id === userId && waiting.length < n) {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === n) for (const go of waiting) go();
        else setTimeout(resolve, 2000);
      });
    }
    return hash;
  };
  return () => {
    store.getPasswordHash = read;
  };
}

const signsInWith = async (deps: AccountPasswordDeps, store: DurableStore, userId: string, password: string) => (await deps.hashers.verify(await store.getPasswordHash(userId), password)).ok;

function suite(t: (title: string, fn: (f: StoreFixture) => Promise<void>) => void): void {
  t('attack: two changes sent together with the right current password → exactly one stands, the other is password.changed-meanwhile', async ({ store }) => {
    const a = await accountOn(store);
    const restore = readTogether(store, a.userId, 2);
    let results: PromiseSettledResult<void>[];
    try {
      results = await Promise.allSettled([
        changePassword(a.deps, a.userId, { current: PASSWORD, next: NEW_A, confirm: NEW_A }, '192.0.2.1'),
        changePassword(a.deps, a.userId, { current: PASSWORD, next: NEW_B, confirm: NEW_B }, '192.0.2.2'),
      ]);
    } finally {
      restore();
    }
    const won = results.findIndex((r) => r.status === 'fulfilled');
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    assert.ok(won >= 0 && lost, `exactly one succeeds: ${results.map((r) => r.status).join(', ')}`);
    assert.ok(lost.reason instanceof PortcullisError, String(lost.reason));
    assert.equal(lost.reason.code, 'password.changed-meanwhile');
    assert.equal(lost.reason.status, 409);
    assert.equal(await signsInWith(a.deps, store, a.userId, won === 0 ? NEW_A : NEW_B), true, "the stored password is the winner's");
    assert.equal(await signsInWith(a.deps, store, a.userId, won === 0 ? NEW_B : NEW_A), false);
    assert.equal(a.audit.events.filter((e) => e.type === 'user.password-set').length, 1);
    assert.deepEqual(a.ended, [a.userId], "only the winner's change ended the sessions");
    await a.close();
  });

  t('attack: a change verified against a hash an administrator replaced meanwhile is password.changed-meanwhile; the reset stands', async ({ store }) => {
    const a = await accountOn(store);
    const read = store.getPasswordHash.bind(store);
    let resetDone = false;
    // the change reads (and verifies against) the old hash; the reset lands before it writes
    store.getPasswordHash = async (id: string) => {
      const hash = await read(id);
      if (!resetDone) {
        resetDone = true;
        await a.users.setPassword(id, RESET, 'admin');
      }
      return hash;
    };
    try {
      await assert.rejects(
        changePassword(a.deps, a.userId, { current: PASSWORD, next: NEW_A, confirm: NEW_A }, '192.0.2.1'),
        (e: unknown) => e instanceof PortcullisError && e.code === 'password.changed-meanwhile',
      );
    } finally {
      store.getPasswordHash = read;
    }
    assert.equal(await signsInWith(a.deps, store, a.userId, RESET), true, "the administrator's password stands");
    assert.equal(await signsInWith(a.deps, store, a.userId, NEW_A), false);
    assert.deepEqual(a.ended, [a.userId], 'the reset ended the sessions once; the refused change ended none');
    assert.deepEqual(
      a.audit.events.filter((e) => e.type === 'user.password-set').map((e) => e.actor),
      ['admin'],
    );
    await a.close();
  });
}

suite(storeTests('sqlite', () => sqliteStoreFixture()));
await serviceDescribe('postgres', 'postgres', () => suite(storeTests('postgres', () => postgresStoreFixture())));
