/** Admin routes for the signing key ring: list (public facts only) and rotate now. */
import type { Services } from '../../app.js';
import type { KeyRing } from '../../crypto/keyring.js';
import { defineRoute, type AdminRoute } from './route.js';
import { KeyList, KeyRotation } from './schemas.js';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

function viewKeys(keys: KeyRing) {
  return keys.list().map((k) => ({
    kid: k.kid,
    use: k.use,
    alg: k.alg,
    state: k.state,
    created_at: iso(k.createdAt)!,
    activates_at: iso(k.activatesAt)!,
    retires_at: iso(k.retiresAt),
    expires_at: iso(k.expiresAt),
  }));
}

export function keyRoutes(s: Services): AdminRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/keys',
      operationId: 'listKeys',
      summary: 'List signing keys with their state (no key material).',
      tag: 'keys',
      auth: true,
      responses: { 200: { description: 'Keys, oldest first, and the kid that signs now.', schema: KeyList } },
      errors: [],
      async handler() {
        await s.keys.load();
        const keys = viewKeys(s.keys);
        return { body: { signing_kid: keys.find((k) => k.state === 'active')?.kid ?? null, keys } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/keys/rotate',
      operationId: 'rotateKeys',
      summary: 'Rotate now: the next key starts signing, the old one stays published until its tokens expire.',
      tag: 'keys',
      auth: true,
      responses: { 200: { description: 'The kid that signs now and the next kid.', schema: KeyRotation } },
      errors: [],
      async handler() {
        const { activated, next } = await s.keys.rotate();
        s.audit.record({ time: s.clock.now(), type: 'keys.rotated', actor: 'admin', data: { activated, next } });
        await s.events.emit({ type: 'keys.changed' });
        await s.audit.flush();
        return { body: { activated, next, keys: viewKeys(s.keys) } };
      },
    }),
  ];
}
