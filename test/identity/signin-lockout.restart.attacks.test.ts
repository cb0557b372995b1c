/**
 * Sign-in limits across a node restart with `ephemeral: memory` (the default), on a whole
 * node whose clock the test moves forward: a restart (or a crash an attacker provokes)
 * used to wipe every failure counter and lock, so a locked account could be guessed again
 * at once. Locks and counts made through the sign-in page hold after a new node starts on
 * the same database; an admin unlock and a successful sign-in are kept too; a failure the
 * durable store cannot take refuses the attempt (503 `unavailable`, audited).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Clock } from '../../src/core/clock.js';
import { DEFAULT_LOCKOUT_POLICY } from '../../src/identity/lockout.js';
import { Browser } from '../support/oidc-harness.js';
import { authorizationRequest, type OidcApp, post, registerOidcApp, restartOidcNode, startOidcNode } from '../support/oidc-node.js';
import type { TestNode } from '../support/portcullis.js';
import { createTempPostgresDatabase, serviceTest } from '../support/services.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
const WRONG = 'The e-mail address or password is wrong.';
const LOCKED = /Too many failed attempts: locked, try again in \d+ s or ask an administrator\./;

/** The wall clock moved forward by hand: the node's every time check reads it. */
class MovedClock implements Clock {
  private shift = 0;
  now(): number {
    return Date.now() + this.shift;
  }
  advance(ms: number): void {
    this.shift += ms;
  }
}

/** Opens the sign-in page of a new authorization request and submits the password. */
async function passwordStep(node: TestNode, app: OidcApp, email: string, password: string) {
  const issuer = node.urls.identity!;
  const { url } = await authorizationRequest(app.config, { resource: AUD });
  const browser = new Browser();
  const page = await browser.follow(url.toString(), issuer);
  assert.match(page.body, /Sign in/);
  return { issuer, r: await post(browser, issuer, page.body, 'login', { email, password }) };
}

/** Signed in with the password: the page leads on into the flow (consent), not back to the form. */
async function passes(node: TestNode, app: OidcApp, email: string): Promise<void> {
  const { issuer, r } = await passwordStep(node, app, email, PASSWORD);
  assert.ok(r.location?.startsWith(issuer), `a redirect on into the flow, got ${r.status} ${r.body.slice(0, 300)}`);
}

async function refusedLocked(node: TestNode, app: OidcApp, email: string): Promise<void> {
  const { r } = await passwordStep(node, app, email, PASSWORD);
  assert.equal(r.status, 429, r.body.slice(0, 300));
  assert.match(r.body, LOCKED);
}

/** Wrong passwords on the sign-in page (the address's `n`th guess at `email(n)`) until `kind` `id` is locked, each delay waited out on the clock. */
async function wrongUntilLocked(node: TestNode, app: OidcApp, clock: MovedClock, email: (n: number) => string, kind: 'account' | 'ip', id: string): Promise<void> {
  const lockAfter = DEFAULT_LOCKOUT_POLICY[kind].lockAfter;
  for (let n = 0; n < lockAfter; n++) {
    const { r } = await passwordStep(node, app, email(n), 'not the password');
    assert.equal(r.status, 401, `guess ${n + 1}: ${r.body.slice(0, 300)}`);
    assert.ok(r.body.includes(WRONG));
    const st = await node.services.identity.lockout.state(kind, id);
    if (n < lockAfter - 1) {
      assert.equal(st.locked, false, `not locked before guess ${lockAfter}`);
      clock.advance(Math.max(0, st.blockedUntil - clock.now()));
    } else assert.equal(st.locked, true, `locked at guess ${lockAfter}`);
  }
}

async function admin(node: TestNode, path: string): Promise<number> {
  const res = await fetch(node.urls.admin + path, { method: 'POST', headers: { authorization: `Bearer ${node.adminToken}` } });
  await res.body?.cancel();
  return res.status;
}

/** A node on `extra` (SQLite and memory by default) with a sign-in app and one user; `restart()` replaces `node`. */
async function setup(extra = '') {
  const clock = new MovedClock();
  const s = { clock, node: await startOidcNode(extra, { clock }), app: undefined as unknown as OidcApp, userId: '' };
  s.app = await registerOidcApp(s.node, AUD);
  s.userId = (await s.node.services.identity.users.add({ email: 'victim@example.test', password: PASSWORD }, 'test')).id;
  return {
    ...s,
    restart: async () => {
      s.node = await restartOidcNode(s.node, { clock });
      return s.node;
    },
    stop: () => s.node.stop(),
  };
}

async function accountLockOutlivesRestart(extra: string): Promise<void> {
  const s = await setup(extra);
  try {
    await wrongUntilLocked(s.node, s.app, s.clock, () => 'victim@example.test', 'account', s.userId);
    await refusedLocked(s.node, s.app, 'victim@example.test');
    const before = await s.node.services.identity.lockout.state('account', s.userId);
    const node = await s.restart();
    // the right password, on a node that never saw the guesses
    await refusedLocked(node, s.app, 'victim@example.test');
    assert.deepEqual(await node.services.identity.lockout.state('account', s.userId), before);
    await node.services.audit.flush();
    const refused = (await node.services.store.tailAudit(20)).filter((e) => e.type === 'signin.failed' && (e.data as { userId?: string }).userId === s.userId);
    assert.equal(refused.at(-1)?.reason, 'auth.locked');
    // the lock ends when it would have without the restart
    s.clock.advance(before.blockedUntil - s.clock.now());
    await passes(node, s.app, 'victim@example.test');
  } finally {
    await s.stop();
  }
}

test('attack: a node restart does not lift an account lock made by wrong passwords: the right password is refused with the lock after it (SQLite file, ephemeral memory)', async () => {
  await accountLockOutlivesRestart('');
});

await serviceTest(['postgres'], 'attack: a node restart does not lift an account lock made by wrong passwords (PostgreSQL, ephemeral memory)', async () => {
  const db = await createTempPostgresDatabase();
  try {
    await accountLockOutlivesRestart(`store: ${db.url}`);
  } finally {
    await db.drop();
  }
});

test('attack: a node restart does not lift an address lock made by guessing many accounts; the admin unlock of the address is kept across the next restart', async () => {
  const s = await setup();
  try {
    await wrongUntilLocked(s.node, s.app, s.clock, (n) => `sprayed-${n}@example.test`, 'ip', '127.0.0.1');
    let node = await s.restart();
    // a right password for another account, from the locked address
    await refusedLocked(node, s.app, 'victim@example.test');
    assert.equal((await node.services.identity.lockout.state('ip', '127.0.0.1')).locked, true);
    assert.equal(await admin(node, '/v1/lockouts/addresses/127.0.0.1/unlock'), 200);
    node = await s.restart();
    assert.deepEqual(await node.services.identity.lockout.state('ip', '127.0.0.1'), { failures: 0, blockedUntil: 0, locked: false });
    await passes(node, s.app, 'victim@example.test');
  } finally {
    await s.stop();
  }
});

test("an admin unlock of an account is kept across a restart, and a successful sign-in clears the account's kept failures", async () => {
  const s = await setup();
  try {
    await wrongUntilLocked(s.node, s.app, s.clock, () => 'victim@example.test', 'account', s.userId);
    assert.equal(await admin(s.node, `/v1/users/${s.userId}/unlock`), 200);
    let node = await s.restart();
    await passes(node, s.app, 'victim@example.test');
    // four guesses, then the right password: nothing of the guesses is left after a restart
    for (let i = 0; i < 4; i++) assert.equal((await passwordStep(node, s.app, 'victim@example.test', 'not the password')).r.status, 401);
    assert.equal((await node.services.identity.lockout.state('account', s.userId)).failures, 4);
    await passes(node, s.app, 'victim@example.test');
    const kept = (await node.services.store.listLockoutStates(s.clock.now())).filter((r) => r.subject === s.userId);
    assert.deepEqual(kept.map((r) => r.failures), []);
    node = await s.restart();
    assert.deepEqual(await node.services.identity.lockout.state('account', s.userId), { failures: 0, blockedUntil: 0, locked: false });
  } finally {
    await s.stop();
  }
});

test('fail closed: a failed sign-in that the durable store cannot record is refused with 503 unavailable and audited as signin.failed (unavailable)', async () => {
  const s = await setup();
  const raw = new BetterSqlite3(join(s.node.dir, 'portcullis.db'));
  try {
    raw.exec(`create trigger injected_fault before insert on lockout_state begin select raise(abort, 'injected fault'); end`);
    const { r } = await passwordStep(s.node, s.app, 'victim@example.test', 'not the password');
    assert.equal(r.status, 503, r.body.slice(0, 300));
    assert.doesNotMatch(r.body, new RegExp(WRONG));
    await s.node.services.audit.flush();
    const failed = (await s.node.services.store.tailAudit(20)).filter((e) => e.type === 'signin.failed' && (e.data as { userId?: string }).userId === s.userId);
    assert.deepEqual(failed.map((e) => e.reason), ['unavailable']);
    // the node counts the failure all the same
    assert.equal((await s.node.services.identity.lockout.state('account', s.userId)).failures, 1);
    raw.exec('drop trigger injected_fault');
  } finally {
    raw.close();
    await s.stop();
  }
});
