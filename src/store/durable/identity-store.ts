/**
 * IdentityStore (users, oidc-provider models, WebAuthn credentials) over Kysely, for
 * SQLite and PostgreSQL alike. KyselyDurableStore delegates to it; tests may use it on
 * its own. Failures other than PortcullisErrors surface as `store.unavailable`.
 */
import type { Kysely } from 'kysely';
import type { PageRequest } from '../../core/page.js';
import type { IdentityStore, OidcModelRecord, SecondFactorRef, UserPatch, UserRecord, WebAuthnCredentialRecord } from '../../identity/store.js';
import { storeError } from './store-error.js';
import * as users from './users.js';
import * as oidc from './oidc-models.js';
import * as webauthn from './webauthn.js';
import * as secondFactors from './second-factors.js';

export class KyselyIdentityStore implements IdentityStore {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(
    private readonly db: Kysely<any>,
    /** Sees every failure before it is typed (the durable store's write-fault tracking). */
    private readonly onFailure?: (e: unknown) => void,
  ) {}

  private async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.onFailure?.(e);
      throw storeError(op, e);
    }
  }

  createUser(u: UserRecord) {
    return this.run('createUser', () => users.createUser(this.db, u));
  }
  getUser(id: string) {
    return this.run('getUser', () => users.getUser(this.db, id));
  }
  getUserByEmail(e: string) {
    return this.run('getUserByEmail', () => users.getUserByEmail(this.db, e));
  }
  listUsers(page?: PageRequest) {
    return this.run('listUsers', () => users.listUsers(this.db, page));
  }
  listUserTokenWatermarks() {
    return this.run('listUserTokenWatermarks', () => users.listUserTokenWatermarks(this.db));
  }
  updateUser(id: string, p: UserPatch, now: number) {
    return this.run('updateUser', () => users.updateUser(this.db, id, p, now));
  }
  deleteUser(id: string) {
    return this.run('deleteUser', () => users.deleteUser(this.db, id));
  }

  upsertOidcModel(r: OidcModelRecord) {
    return this.run('upsertOidcModel', () => oidc.upsertOidcModel(this.db, r));
  }
  findOidcModel(model: string, id: string) {
    return this.run('findOidcModel', () => oidc.findOidcModel(this.db, model, id));
  }
  findOidcModelBy(model: string, column: 'uid' | 'userCode', value: string) {
    return this.run('findOidcModelBy', () => oidc.findOidcModelBy(this.db, model, column, value));
  }
  destroyOidcModel(model: string, id: string) {
    return this.run('destroyOidcModel', () => oidc.destroyOidcModel(this.db, model, id));
  }
  revokeOidcGrant(grantId: string) {
    return this.run('revokeOidcGrant', () => oidc.revokeOidcGrant(this.db, grantId));
  }
  consumeOidcModel(model: string, id: string, now: number) {
    return this.run('consumeOidcModel', () => oidc.consumeOidcModel(this.db, model, id, now));
  }
  listOidcModelsByAccount(model: string, accountId: string) {
    return this.run('listOidcModelsByAccount', () => oidc.listOidcModelsByAccount(this.db, model, accountId));
  }
  purgeOidcModels(now: number) {
    return this.run('purgeOidcModels', () => oidc.purgeOidcModels(this.db, now));
  }

  addWebAuthnCredential(c: WebAuthnCredentialRecord) {
    return this.run('addWebAuthnCredential', () => webauthn.addWebAuthnCredential(this.db, c));
  }
  getWebAuthnCredential(id: string) {
    return this.run('getWebAuthnCredential', () => webauthn.getWebAuthnCredential(this.db, id));
  }
  listWebAuthnCredentials(userId: string) {
    return this.run('listWebAuthnCredentials', () => webauthn.listWebAuthnCredentials(this.db, userId));
  }
  renameWebAuthnCredential(userId: string, id: string, name: string) {
    return this.run('renameWebAuthnCredential', () => webauthn.renameWebAuthnCredential(this.db, userId, id, name));
  }
  deleteWebAuthnCredential(userId: string, id: string) {
    return this.run('deleteWebAuthnCredential', () => webauthn.deleteWebAuthnCredential(this.db, userId, id));
  }
  removeSecondFactor(userId: string, which: SecondFactorRef, keepOneOf?: readonly string[]) {
    return this.run('removeSecondFactor', () => secondFactors.removeSecondFactor(this.db, userId, which, keepOneOf));
  }
  updateWebAuthnCounter(id: string, expected: number, next: number, now: number) {
    return this.run('updateWebAuthnCounter', () => webauthn.updateWebAuthnCounter(this.db, id, expected, next, now));
  }
  suspendWebAuthnCredential(id: string, now: number) {
    return this.run('suspendWebAuthnCredential', () => webauthn.suspendWebAuthnCredential(this.db, id, now));
  }
}
