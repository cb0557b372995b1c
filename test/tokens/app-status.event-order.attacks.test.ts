/**
 * An `app.status` event says only that an app's status changed. A disable and an enable
 * made on two nodes reach a third in either order (each node publishes on its own
 * connection); applying the flag each event carries let the late one win, so an app
 * the store holds disabled could be left working on that node until its next reconcile.
 * Each node now reads the status the store holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestNode } from '../admin/node.js';

test('attack: a stale "enabled" app.status event arriving after the disable does not re-enable the app (token.app-disabled stays)', async () => {
  const n = await startTestNode();
  try {
    const created = await n.api('/v1/apps', { body: { name: 'orders', audiences: ['orders-api'], scopes: ['orders:read'] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const clientId: string = created.body.app.client_id;
    const s = n.node.services;
    const iat = s.clock.now() + 60_000;
    assert.equal(s.revocations.check('jti-1', clientId, iat), undefined);
    assert.equal((await n.api(`/v1/apps/${clientId}/disable`, { method: 'POST' })).status, 200);
    assert.equal(s.revocations.check('jti-1', clientId, iat), 'token.app-disabled');
    // another node's older "enable", delivered late (as the bus hands a remote event to its handlers)
    await s.events.apply({ type: 'app.status', clientId, disabled: false });
    assert.equal(s.revocations.check('jti-1', clientId, iat), 'token.app-disabled');
    // and the other way round: enabled in the store, a late "disable" does not disable it
    assert.equal((await n.api(`/v1/apps/${clientId}/enable`, { method: 'POST' })).status, 200);
    assert.equal(s.revocations.check('jti-1', clientId, iat), undefined);
    await s.events.apply({ type: 'app.status', clientId, disabled: true });
    assert.equal(s.revocations.check('jti-1', clientId, iat), undefined);
  } finally {
    await n.close();
  }
});

test('an app.status event for an app the store does not hold leaves it refused (token.app-disabled)', async () => {
  const n = await startTestNode();
  try {
    const s = n.node.services;
    await s.events.apply({ type: 'app.status', clientId: 'app_gone', disabled: false });
    assert.equal(s.revocations.check('jti-1', 'app_gone', s.clock.now()), 'token.app-disabled');
  } finally {
    await n.close();
  }
});
