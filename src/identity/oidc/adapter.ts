/**
 * oidc-provider's storage adapter over OidcModelStore (SQLite/PostgreSQL). `consume`
 * is a compare-and-set: of two concurrent uses of one authorization code or refresh
 * token exactly one wins; the loser revokes the grant (RFC 9700 §4.14: a replayed code
 * or rotated refresh token means it leaked) and fails with invalid_grant.
 */
import { errors } from 'oidc-provider';
import type { Clock } from '../../core/clock.js';
import type { OidcModelRecord, OidcModelStore } from '../store.js';

export interface AdapterHooks {
  /** Called with every record deleted with a grant (the IssuedJwt rows carry JWT access token ids to revoke). */
  onGrantRevoked(grantId: string, removed: OidcModelRecord[]): Promise<void>;
}

/** oidc-provider models revoked with their grant (`revokeByGrantId`). */
const GRANT_BOUND = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

type Payload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; accountId?: string; consumed?: number };

/** Builds the adapter class oidc-provider instantiates once per model name. */
export function oidcAdapter(store: OidcModelStore, clock: Clock, hooks: AdapterHooks) {
  return class PortcullisOidcAdapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      await store.upsertOidcModel({
        model: this.model,
        id,
        payload,
        expiresAt: expiresIn ? clock.now() + expiresIn * 1000 : null,
        // Only tokens die with their grant. An Interaction carries the grantId of the
        // browser's previous sign-in: indexing it let a logout of that grant (another user
        // signing in in the same browser) delete the interaction under way.
        grantId: GRANT_BOUND.has(this.model) && typeof payload.grantId === 'string' ? payload.grantId : null,
        userCode: typeof payload.userCode === 'string' ? payload.userCode : null,
        uid: typeof payload.uid === 'string' ? payload.uid : null,
        accountId: typeof payload.accountId === 'string' ? payload.accountId : null,
        consumedAt: null,
      });
    }

    live(r: OidcModelRecord | undefined): Payload | undefined {
      if (!r || (r.expiresAt !== null && r.expiresAt <= clock.now())) return undefined;
      const p = r.payload as Payload;
      return r.consumedAt === null ? p : { ...p, consumed: Math.floor(r.consumedAt / 1000) };
    }

    async find(id: string): Promise<Payload | undefined> {
      return this.live(await store.findOidcModel(this.model, id));
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      return this.live(await store.findOidcModelBy(this.model, 'uid', uid));
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      return this.live(await store.findOidcModelBy(this.model, 'userCode', userCode));
    }

    async consume(id: string): Promise<void> {
      if (await store.consumeOidcModel(this.model, id, clock.now())) return;
      const r = await store.findOidcModel(this.model, id);
      if (r?.grantId) await this.revokeByGrantId(r.grantId);
      throw new errors.InvalidGrant!(`${this.model} already consumed`);
    }

    async destroy(id: string): Promise<void> {
      await store.destroyOidcModel(this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const removed = await store.revokeOidcGrant(grantId);
      await hooks.onGrantRevoked(grantId, removed);
    }
  };
}
