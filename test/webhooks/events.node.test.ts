/**
 * Webhooks for identity and certificate events on a real node (issue 4: "token revoked,
 * app disabled, user locked, certificate revoked, …"): a user account locked by the
 * brute-force limits, a certificate revoked through the admin API, every session of a
 * user ended; each delivered by the node's worker, signed with a key the identity plane
 * publishes, and verified by the SDK. Plus a check that every advertised event type is
 * raised by an audit record the code really writes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { verifyWebhook } from '../../src/sdk/index.js';
import { FROM_AUDIT, WEBHOOK_EVENT_TYPES, webhookTypeOf } from '../../src/webhooks/events.js';
import { startTestNode, type TestNode } from '../admin/node.js';
import { startReceiver, type Receiver, type Received } from './helpers.js';

let t: TestNode;
let rx: Receiver;
before(async () => {
  // receivers on 127.0.0.1: the explicit opt-in
  t = await startTestNode({ config: 'webhooks: { allowPrivateTargets: true }\n' });
  rx = await startReceiver('/portcullis/events');
});
after(async () => {
  await rx.close();
  await t.close();
});

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, limitMs = 5000): Promise<T> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what} did not happen within ${limitMs} ms`);
}

/** Waits for a delivery of `type`, verifies its signature against the node's JWKS and returns the event. */
async function delivered(type: string) {
  const got: Received = await until(`a ${type} delivery`, () => rx.received.find((r) => (JSON.parse(r.body.toString('utf8')) as { type: string }).type === type));
  const { event } = await verifyWebhook(rx.asRequest(got), { jwksUrl: `${t.identity}/jwks` });
  return event;
}

test('user.locked: the lock engaged by repeated failures reaches the subscriber, signed, once per lock; an admin unlock clears it', async () => {
  assert.equal((await t.api('/v1/webhooks', { body: { url: rx.url, events: ['user.locked'] } })).status, 201);
  const user = (await t.api('/v1/users', { body: { email: 'locked@example.test', password: 'plum tractor velvet orbit' } })).body.user as { id: string };
  const lockout = t.node.services.identity.lockout;
  // The failures the sign-in pages and second factors count (lockout.guard), ten of them.
  for (let i = 0; i < 10; i++) await lockout.recordFailure({ account: user.id, ip: '198.51.100.23' });
  const event = await delivered('user.locked');
  assert.equal((event as unknown as { actor: string }).actor, 'system');
  assert.equal(event.client_id, null);
  assert.equal(event.data['userId'], user.id);
  assert.equal(event.data['failures'], 10);
  const until15 = Date.parse(String(event.data['lockedUntil'])) - Date.parse(event.time);
  assert.ok(until15 > 14 * 60_000 && until15 <= 15 * 60_000, `locked for 15 minutes, got ${until15} ms`);
  assert.equal(rx.received.filter((r) => r.body.toString().includes('"user.locked"')).length, 1, 'one event per lock');
  assert.equal((await t.api(`/v1/users/${user.id}/unlock`, { method: 'POST' })).status, 200);
  assert.equal((await lockout.state('account', user.id)).locked, false);
});

test('user.locked is not raised for a login name that matches no user (no webhook naming what a guesser typed)', async () => {
  const before = rx.received.length;
  const lockout = t.node.services.identity.lockout;
  for (let i = 0; i < 10; i++) await lockout.recordFailure({ account: 'email:nobody@example.test' });
  await t.node.services.audit.flush();
  await t.node.services.webhooks.flush();
  const rows = await t.node.services.store.tailAudit(20);
  assert.ok(rows.some((r) => r.type === 'signin.locked' && (r.data as { subject?: string }).subject === 'unknown-account'), 'audited as signin.locked');
  assert.ok(!rows.some((r) => JSON.stringify(r.data ?? {}).includes('nobody@example.test')), 'the typed name is not recorded');
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(rx.received.slice(before).filter((r) => r.body.toString().includes('"user.locked"')).length, 0);
});

test('certificate.revoked: revoking a certificate through the admin API reaches the subscriber with its serial and reason', async () => {
  assert.equal((await t.api('/v1/webhooks', { body: { url: rx.url, events: ['certificate.revoked'] } })).status, 201);
  const issued = await t.api('/v1/certificates', { body: { profile: 'server', dns_names: ['orders.internal.test'] } });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  const serial = issued.body.serial as string;
  const rv = await t.api(`/v1/certificates/${serial}/revoke`, { body: { reason: 'keyCompromise' } });
  assert.equal(rv.status, 200, JSON.stringify(rv.body));
  const event = await delivered('certificate.revoked');
  assert.equal(event.client_id, null, 'a server certificate has no owning app');
  assert.equal((event as unknown as { actor: string }).actor, 'admin');
  assert.deepEqual(event.data, { serial, reason: 'keyCompromise' });
});

test('user.tokens-revoked: ending every session of a user reaches the subscriber', async () => {
  assert.equal((await t.api('/v1/webhooks', { body: { url: rx.url, events: ['user.tokens-revoked'] } })).status, 201);
  const user = (await t.api('/v1/users', { body: { email: 'ended@example.test', password: 'plum tractor velvet orbit' } })).body.user as { id: string };
  assert.equal((await t.api(`/v1/users/${user.id}/end-sessions`, { method: 'POST' })).status, 200);
  const event = await delivered('user.tokens-revoked');
  assert.equal(event.data['userId'], user.id);
});

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts')) out.push(readFileSync(p, 'utf8'));
  }
  return out;
}

test('every advertised webhook event type is raised by an audit record the code writes (none is dead)', () => {
  const src = sources(join(import.meta.dirname, '../../src')).join('\n');
  // Audit records only: cluster events (`events.emit({ type: … })`) share some names but raise no webhook.
  const audited = new Set([...src.matchAll(/audit\.record\(\{[^}]*?type: '([a-z.-]+)'/g)].map((m) => m[1]!));
  assert.ok(audited.has('app.disabled') && audited.has('user.sessions-ended'), 'the scan finds audit records');
  for (const type of WEBHOOK_EVENT_TYPES) {
    const raisedBy = Object.keys(FROM_AUDIT).filter((a) => FROM_AUDIT[a] === type && audited.has(a));
    assert.ok(raisedBy.length > 0, `no audit record raises webhook event ${type}`);
  }
  assert.ok(WEBHOOK_EVENT_TYPES.includes('user.locked') && WEBHOOK_EVENT_TYPES.includes('certificate.revoked'));
  assert.equal(webhookTypeOf({ time: 0, type: 'user.locked', actor: 'system' }), 'user.locked');
  assert.equal(webhookTypeOf({ time: 0, type: 'signin.locked', actor: 'system' }), undefined);
});
