/**
 * Revoking a sign-in grant (refresh token reuse, code replay, session end) revokes the JWT
 * access tokens issued under it. The gateways accept a token until exp + tokens.leeway, so
 * one just past its exp is still usable there and must be revoked too, not skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { FrozenClock } from '../../src/core/clock.js';
import { EventBus } from '../../src/core/events.js';
import { silentLogger } from '../../src/core/logger.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { KeyRing } from '../../src/crypto/keyring.js';
import { createOidcProvider } from '../../src/identity/oidc/provider.js';
import { AppService } from '../../src/tokens/apps.js';
import { RevocationSet } from '../../src/tokens/revocation-set.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { openDurableStore } from '../../src/store/index.js';

test('attack: a grant revoked just after its access token\'s exp (inside the leeway) revokes that token at the gateways', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-grant-leeway-'));
  const store = await openDurableStore(`sqlite:${join(dir, 'p.db')}`);
  const ephemeral = new MemoryEphemeralStore();
  try {
    const clock = new FrozenClock(Date.parse('2026-06-01T00:00:00Z'));
    const envelope = await Envelope.open(store, randomBytes(32));
    const keys = new KeyRing(store, envelope, clock, { alg: 'ES256', rotationIntervalMs: 86_400_000, prepublishMs: 3_600_000, maxTokenLifetimeMs: 700_000 });
    const audit = new MemoryAuditSink();
    const events = new EventBus(ephemeral, silentLogger);
    const revocations = new RevocationSet();
    events.on((e) => {
      if (e.type === 'token.revoked') revocations.apply({ type: 'token.revoked', jti: e.jti, expiresAt: e.expiresAt });
    });
    const apps = new AppService(store, events, audit, clock);
    const oidc = createOidcProvider(
      { issuer: 'http://127.0.0.1:1', apps, keys, identity: store, ephemeral, settings: store, envelope, revokedTokens: store, events, audit, clock, logger: silentLogger },
      { cookieKeys: ['k'], leewayMs: 30_000 },
    );
    const exp = Math.floor(clock.now() / 1000) - 10; // expired 10 s ago: a gateway with 30 s leeway still accepts it
    for (const [jti, e] of [['jwt-in-leeway', exp], ['jwt-long-gone', exp - 60]] as const) {
      await store.upsertOidcModel({ model: 'IssuedJwt', id: jti, payload: { clientId: 'app_x', exp: e }, expiresAt: e * 1000, grantId: 'grant-1', userCode: null, uid: null, accountId: 'usr_1', consumedAt: null });
    }
    await oidc.revokeGrant('grant-1');
    assert.equal(revocations.check('jwt-in-leeway', 'app_x', 0), 'token.revoked');
    assert.deepEqual((await store.listRevokedTokens(clock.now() - 30_000)).map((t) => t.jti), ['jwt-in-leeway']);
    assert.equal(revocations.check('jwt-long-gone', 'app_x', 0), undefined, 'past exp + leeway: refused as expired anyway, nothing to record');
  } finally {
    await ephemeral.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
