/**
 * oidc-provider's storage adapter. Sessions, grants, refresh tokens and the ids of
 * issued JWTs live in OidcModelStore (SQLite/PostgreSQL); the short-lived models of a
 * sign-in under way (interactions, one hour; authorization codes, one minute) live in
 * the ephemeral store, shared by every node like the sign-in state beside them, which
 * spares each sign-in eight durable commits (each an fsync on the event loop with
 * SQLite). `consume` is a compare-and-set in both: of two concurrent uses of one
 * authorization code or refresh token exactly one wins; the loser revokes and destroys
 * the grant (RFC 9700 §4.14: a replayed code or rotated refresh token means it leaked) and
 * fails with invalid_grant. A revoked grant is also marked in the ephemeral store, so a code
 * of it not yet redeemed is dead too.
 *
 * A session ended (destroyed: a logout, a new sign-in's new id, "End", "End every session") is
 * marked in the ephemeral store too. oidc-provider saves a browser's existing session at the
 * end of every request that carries its cookie: a request under way while the session ends
 * would write it back and keep that browser signed in. A Session stored after its end is
 * removed again (the mark is set before the row is deleted and read after a row is written,
 * so one of the two sees the other) and is found no more.
 *
 * For opaque tokens, codes and sessions the model id IS the secret (the refresh token,
 * the code, the session cookie's value): those are kept under a SHA-256 of the id, and
 * the id (oidc-provider's `jti`) is left out of the stored payload, so storage and its
 * backups hold no live credential. (The ids are 256-bit random values: a fast hash is
 * beyond guessing.) An Interaction is stored without the session id oidc-provider puts in it.
 */
import { createHash } from 'node:crypto';
import { errors } from 'oidc-provider';
import type { Clock } from '../../core/clock.js';
import type { EphemeralStore } from '../../core/ephemeral.js';
import type { OidcModelRecord, OidcModelStore } from '../store.js';

export interface AdapterHooks {
  /** Called with every record deleted with a grant (the IssuedJwt rows carry JWT access token ids to revoke). */
  onGrantRevoked(grantId: string, removed: OidcModelRecord[]): Promise<void>;
  /** Called when a Session written after its end was removed again (`accountId`: its user, if signed in). */
  onSessionRefused?(accountId: string | undefined): void;
}

/** oidc-provider models revoked with their grant (`revokeByGrantId`). */
const GRANT_BOUND = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/** oidc-provider models kept in the ephemeral store (short-lived, found by id only). */
export const EPHEMERAL_MODELS: ReadonlySet<string> = new Set(['Interaction', 'AuthorizationCode']);

/** oidc-provider models whose id is a bearer secret: stored under storageId(), without their `jti`. */
export const SECRET_ID_MODELS: ReadonlySet<string> = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'Session', 'DeviceCode', 'BackchannelAuthenticationRequest', 'ClientCredentials']);

/**
 * The key a model is stored under: for SECRET_ID_MODELS a SHA-256 of the model and id
 * (migration 0008 computes the same for rows written before), the id itself otherwise.
 *
 * @example
 * await store.findOidcModel('RefreshToken', storageId('RefreshToken', refreshToken));
 */
export function storageId(model: string, id: string): string {
  if (!SECRET_ID_MODELS.has(model)) return id;
  return createHash('sha256').update(`portcullis/oidc-model-id/v1\0${model}\0${id}`).digest('base64url');
}

/**
 * The payload as stored: without the id when the id is a secret, and an Interaction without
 * the id of the browser's session, which oidc-provider copies into it (`session.cookie`, the
 * session cookie's value) and never reads back: it finds the session from the cookie.
 */
function storable(model: string, payload: Payload): Payload {
  if (model === 'Interaction' && isRecord(payload.session) && 'cookie' in payload.session) {
    const { cookie: _secret, ...session } = payload.session;
    return { ...payload, session };
  }
  if (!SECRET_ID_MODELS.has(model) || !('jti' in payload)) return payload;
  const { jti: _secret, ...rest } = payload;
  return rest;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The payload as oidc-provider expects it back: with its id. */
function withId(model: string, id: string, payload: Payload | undefined): Payload | undefined {
  return payload === undefined || !SECRET_ID_MODELS.has(model) ? payload : { ...payload, jti: id };
}

/** Outlives every ephemeral model (interactions live an hour, codes a minute). */
const MARKER_TTL_MS = 2 * 3600_000;

type Payload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; accountId?: string; consumed?: number };

const grantRevokedKey = (grantId: string): string => `oidc:grant-revoked:${grantId}`;

/**
 * Marks a grant revoked for the ephemeral models: its authorization codes not yet
 * redeemed are found no more.
 *
 * @example
 * await markGrantRevoked(ephemeral, grantId);
 */
export function markGrantRevoked(ephemeral: EphemeralStore, grantId: string): Promise<void> {
  return ephemeral.set(grantRevokedKey(grantId), '1', MARKER_TTL_MS);
}

const sessionEndedKey = (sessionStorageId: string): string => `oidc:session-ended:${sessionStorageId}`;

/**
 * Marks a session ended (by the key it is stored under, `storageId('Session', id)`), before
 * its row is deleted: a request under way that writes it back removes it again, and no
 * request finds it (within the marker's two hours, longer than any request takes).
 *
 * @example
 * await markSessionEnded(ephemeral, storageId('Session', session.jti));
 */
export function markSessionEnded(ephemeral: EphemeralStore, sessionStorageId: string): Promise<void> {
  return ephemeral.set(sessionEndedKey(sessionStorageId), '1', MARKER_TTL_MS);
}

/**
 * Whether `grantId` was revoked (within the marker's two hours). A token recorded after its
 * grant's rows were revoked checks this after it is stored: the revocation marks before it
 * deletes, so one of the two sees the other.
 *
 * @example
 * if (await grantRevoked(ephemeral, token.grantId)) await revokeTheToken();
 */
export async function grantRevoked(ephemeral: EphemeralStore, grantId: string): Promise<boolean> {
  return (await ephemeral.get(grantRevokedKey(grantId))) !== undefined;
}

/** Builds the adapter class oidc-provider instantiates once per model name. */
export function oidcAdapter(store: OidcModelStore, ephemeral: EphemeralStore, clock: Clock, hooks: AdapterHooks) {
  const keyOf = (model: string, id: string): string => `oidc:${model}:${storageId(model, id)}`;

  async function findEphemeral(model: string, id: string): Promise<Payload | undefined> {
    const key = keyOf(model, id);
    const [value, consumedAt] = await Promise.all([ephemeral.get(key), model === 'AuthorizationCode' ? ephemeral.get(`${key}:consumed`) : undefined]);
    if (value === undefined) return undefined;
    const p = JSON.parse(value) as Payload;
    if (typeof p.grantId === 'string' && (await ephemeral.get(grantRevokedKey(p.grantId))) !== undefined) return undefined;
    return consumedAt === undefined ? p : { ...p, consumed: Math.floor(Number(consumedAt) / 1000) };
  }

  return class PortcullisOidcAdapter {
    /** Whether this model lives in the ephemeral store. */
    readonly transient: boolean;

    constructor(readonly model: string) {
      this.transient = EPHEMERAL_MODELS.has(model);
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      if (this.transient) {
        await ephemeral.set(keyOf(this.model, id), JSON.stringify(storable(this.model, payload)), (expiresIn ?? 3600) * 1000);
        return;
      }
      await store.upsertOidcModel({
        model: this.model,
        id: storageId(this.model, id),
        payload: storable(this.model, payload),
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
      // A session ended while the request that saves it was under way: written back after its
      // row was deleted, it is removed again (the end marks before it deletes).
      if (this.model === 'Session' && (await ephemeral.get(sessionEndedKey(storageId(this.model, id)))) !== undefined) {
        await store.destroyOidcModel(this.model, storageId(this.model, id));
        hooks.onSessionRefused?.(typeof payload.accountId === 'string' ? payload.accountId : undefined);
      }
    }

    live(r: OidcModelRecord | undefined): Payload | undefined {
      if (!r || (r.expiresAt !== null && r.expiresAt <= clock.now())) return undefined;
      const p = r.payload as Payload;
      return r.consumedAt === null ? p : { ...p, consumed: Math.floor(r.consumedAt / 1000) };
    }

    async find(id: string): Promise<Payload | undefined> {
      if (this.transient) return withId(this.model, id, await findEphemeral(this.model, id));
      const key = storageId(this.model, id);
      if (this.model === 'Session') {
        const [r, ended] = await Promise.all([store.findOidcModel(this.model, key), ephemeral.get(sessionEndedKey(key))]);
        return ended === undefined ? withId(this.model, id, this.live(r)) : undefined;
      }
      return withId(this.model, id, this.live(await store.findOidcModel(this.model, key)));
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      const r = await store.findOidcModelBy(this.model, 'uid', uid);
      if (r && this.model === 'Session' && (await ephemeral.get(sessionEndedKey(r.id))) !== undefined) return undefined;
      return this.live(r);
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      return this.live(await store.findOidcModelBy(this.model, 'userCode', userCode));
    }

    async consume(id: string): Promise<void> {
      const now = clock.now();
      if (this.transient) {
        if (await ephemeral.consumeOnce(`${keyOf(this.model, id)}:consume`, MARKER_TTL_MS)) {
          await ephemeral.set(`${keyOf(this.model, id)}:consumed`, String(now), MARKER_TTL_MS);
          return;
        }
        const v = await ephemeral.get(keyOf(this.model, id));
        const grantId = v === undefined ? undefined : (JSON.parse(v) as Payload).grantId;
        if (typeof grantId === 'string') await this.revokeReplayed(grantId);
        throw new errors.InvalidGrant!(`${this.model} already consumed`);
      }
      if (await store.consumeOidcModel(this.model, storageId(this.model, id), now)) return;
      const r = await store.findOidcModel(this.model, storageId(this.model, id));
      if (r?.grantId) await this.revokeReplayed(r.grantId);
      throw new errors.InvalidGrant!(`${this.model} already consumed`);
    }

    /**
     * The loser of a concurrent use revokes the grant, and destroys it: the winner, still
     * issuing, may store its new refresh token after the revocation deleted the grant's
     * rows, and that token must find no grant (oidc-provider refuses it, invalid_grant).
     */
    async revokeReplayed(grantId: string): Promise<void> {
      await this.revokeByGrantId(grantId);
      await store.destroyOidcModel('Grant', grantId);
    }

    async destroy(id: string): Promise<void> {
      if (this.transient) {
        await ephemeral.delete(keyOf(this.model, id));
        return;
      }
      if (this.model === 'Session') await markSessionEnded(ephemeral, storageId(this.model, id));
      await store.destroyOidcModel(this.model, storageId(this.model, id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await markGrantRevoked(ephemeral, grantId);
      const removed = await store.revokeOidcGrant(grantId);
      await hooks.onGrantRevoked(grantId, removed);
    }
  };
}
