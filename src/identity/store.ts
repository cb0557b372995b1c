/**
 * What users, OpenID Connect and passkeys need from durable storage. The password
 * hash lives in PasswordStore (passwords/store.ts) and factor enrolments in MfaStore
 * (mfa/store.ts), both keyed by the user id declared here.
 */
import type { PageRequest } from '../core/page.js';

export interface UserRecord {
  /** Stable, opaque id (`sub` of every token for this user). */
  id: string;
  /** As entered, for display and delivery. */
  email: string;
  /** Lower-cased, NFKC-normalised, trimmed: unique. */
  emailNormalized: string;
  status: 'active' | 'disabled';
  /** A second factor is required at every sign-in of this user. */
  mfaRequired: boolean;
  /** Tokens of this user issued before this instant (epoch ms) are revoked; 0 when never. */
  tokensRevokedBefore: number;
  createdAt: number;
  updatedAt: number;
}

export type UserPatch = Partial<Pick<UserRecord, 'email' | 'emailNormalized' | 'status' | 'mfaRequired' | 'tokensRevokedBefore'>>;

export interface UserStore {
  /** Throws PortcullisError('conflict') when the id or the normalised e-mail exists. */
  createUser(user: UserRecord): Promise<void>;
  getUser(id: string): Promise<UserRecord | undefined>;
  getUserByEmail(emailNormalized: string): Promise<UserRecord | undefined>;
  /** Oldest first (createdAt, then id); one page of them when `page` is given. */
  listUsers(page?: PageRequest): Promise<UserRecord[]>;
  /** Users whose tokens were revoked (`tokensRevokedBefore` > 0): the revocation reconcile reads these, never every user. */
  listUserTokenWatermarks(): Promise<Array<{ userId: string; tokensRevokedBefore: number }>>;
  updateUser(id: string, patch: UserPatch, now: number): Promise<UserRecord | undefined>;
  /** Deletes the user and their password hash, enrolments, recovery codes and passkeys. */
  deleteUser(id: string): Promise<boolean>;
}

/** One stored oidc-provider model instance (session, grant, code, refresh token, interaction…). */
export interface OidcModelRecord {
  model: string;
  id: string;
  payload: Record<string, unknown>;
  /** Epoch ms after which the record is dead; null when it never expires. */
  expiresAt: number | null;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  /** Account (user) id, for listing a user's sessions. */
  accountId: string | null;
  consumedAt: number | null;
}

export interface OidcModelStore {
  upsertOidcModel(r: OidcModelRecord): Promise<void>;
  findOidcModel(model: string, id: string): Promise<OidcModelRecord | undefined>;
  findOidcModelBy(model: string, column: 'uid' | 'userCode', value: string): Promise<OidcModelRecord | undefined>;
  destroyOidcModel(model: string, id: string): Promise<void>;
  /** Deletes every record of the grant (all models); returns the deleted records. */
  revokeOidcGrant(grantId: string): Promise<OidcModelRecord[]>;
  /**
   * Marks the record consumed if it is not yet (compare-and-set): under concurrent calls
   * exactly one returns true.
   */
  consumeOidcModel(model: string, id: string, now: number): Promise<boolean>;
  listOidcModelsByAccount(model: string, accountId: string): Promise<OidcModelRecord[]>;
  purgeOidcModels(now: number): Promise<number>;
}

/** A WebAuthn credential (security key or passkey). */
export interface WebAuthnCredentialRecord {
  /** base64url credential id. */
  id: string;
  userId: string;
  name: string;
  /** base64url COSE public key. */
  publicKey: string;
  counter: number;
  transports: string[];
  /** Whether the credential is discoverable and user-verifying (a passkey usable without a password). */
  backedUp: boolean;
  deviceType: string;
  createdAt: number;
  lastUsedAt: number | null;
  /** When an assertion showed the signature counter going back (a suspected clone): the credential signs in no more. */
  suspendedAt: number | null;
}

export interface WebAuthnStore {
  /** Throws PortcullisError('conflict') when the credential id exists. */
  addWebAuthnCredential(c: WebAuthnCredentialRecord): Promise<void>;
  getWebAuthnCredential(id: string): Promise<WebAuthnCredentialRecord | undefined>;
  listWebAuthnCredentials(userId: string): Promise<WebAuthnCredentialRecord[]>;
  renameWebAuthnCredential(userId: string, id: string, name: string): Promise<boolean>;
  deleteWebAuthnCredential(userId: string, id: string): Promise<boolean>;
  /**
   * Sets the counter only if the stored one is still `expected` (compare-and-set), so two
   * concurrent assertions with one counter value cannot both pass.
   */
  updateWebAuthnCounter(id: string, expected: number, next: number, now: number): Promise<boolean>;
  /** Marks the credential suspended (a suspected clone); true only for the call that suspended it. */
  suspendWebAuthnCredential(id: string, now: number): Promise<boolean>;
}

/** One second factor of a user: a factor's enrolment (`totp`, `email`, `sms`) or a passkey by id. */
export type SecondFactorRef = { enrollment: string } | { passkey: string };

/** `last`: the removal would leave the user without a usable second factor, and nothing was removed. */
export type SecondFactorRemoval = 'removed' | 'absent' | 'last';

export interface SecondFactorStore {
  /**
   * Deletes one second factor of the user. With `keepOneOf` (the ids of the factors this
   * deployment offers, recovery codes not among them), refuses with `last`, deleting nothing,
   * when the factor is usable (a confirmed enrolment of one of those factors, or a passkey not
   * suspended) and is the user's only usable one. The check and the delete are one step: of
   * concurrent removals for one user on any node, each judges what the ones before it left, so
   * two cannot each remove "the other one".
   */
  removeSecondFactor(userId: string, which: SecondFactorRef, keepOneOf?: readonly string[]): Promise<SecondFactorRemoval>;
}

export interface IdentityStore extends UserStore, OidcModelStore, WebAuthnStore, SecondFactorStore {}

/**
 * One sign-in limit counter as it stands after a failure (identity/lockout.ts), kept in
 * the durable store while the ephemeral store is a node's memory, so a restart forgets
 * neither the failures nor the lock. No attempt's secret is in it: `subject` is a user
 * id, a counted client address, or a keyed digest of a name that matched no user.
 */
export interface LockoutRecord {
  /** The counter's namespace and step: `auth:account`, `auth:account-factor`, `auth:ip`. */
  counter: string;
  subject: string;
  failures: number;
  /** Epoch ms at which the failures are forgotten (the first failure plus the window). */
  windowEndsAt: number;
  /** Epoch ms before which no attempt is accepted (a delay); 0 when none. */
  delayedUntil: number;
  /** Epoch ms until which the subject is locked; 0 when never. */
  lockedUntil: number;
}

export interface LockoutStore {
  /**
   * Stores a counter's state after a failure, merged with the stored one when its window
   * is still open at `now`: the larger count and the later ends win, so two writes that
   * arrive out of order never lower a count or shorten a lock. A stored row whose window
   * has closed is replaced (with the new window).
   */
  putLockoutState(r: LockoutRecord, now: number): Promise<void>;
  /**
   * Forgets a counter's failures and delay; `includingLock` forgets its lock too (the row
   * goes). Without it, a lock still in force at `now` is kept.
   */
  clearLockoutState(counter: string, subject: string, includingLock: boolean, now: number): Promise<void>;
  /** The rows still in force at `now` (an open window, a delay or a lock not yet over). */
  listLockoutStates(now: number): Promise<LockoutRecord[]>;
  /** Deletes the rows no longer in force at `now`; returns how many. */
  purgeLockoutStates(now: number): Promise<number>;
  /** Deletes every row, in force or not (a node whose counters are in Redis never reads them); returns how many. */
  deleteAllLockoutStates(): Promise<number>;
}
