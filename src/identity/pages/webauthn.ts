/**
 * WebAuthn ceremonies (W3C WebAuthn L3) with @simplewebauthn/server: registration of
 * several credentials per user, authentication as a second factor (the user's
 * credentials) or as a passwordless passkey (discoverable credential, user
 * verification required, and the assertion's userHandle must name the credential's
 * user, WebAuthn L3 §7.2 step 6). Challenges are single-use (consumed from the ephemeral
 * store); the signature counter is updated by compare-and-set. A counter that does not
 * grow, in an assertion whose signature verifies, is a cloned authenticator (§6.1.1): the
 * assertion is refused and the credential suspended, as either copy may be the clone.
 * Neither ceremony is accepted from a cross-origin frame (§7.1 step 10, §7.2 step 13).
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticatorTransportFuture,
} from '@simplewebauthn/server';
import type { Clock } from '../../core/clock.js';
import type { EphemeralStore } from '../../core/ephemeral.js';
import { PortcullisError } from '../../core/errors.js';
import { nameControlCharacter } from '../../core/control-chars.js';
import type { AuditSink } from '../../audit/sink.js';
import type { UserRecord, WebAuthnStore } from '../store.js';

export interface WebAuthnConfig {
  rpId: string;
  rpName: string;
  /** Expected origin(s) of the pages (the issuer origin). */
  origin: string | string[];
}

const CHALLENGE_TTL_MS = 5 * 60_000;
/** How many security keys and passkeys one user may register. */
export const MAX_WEBAUTHN_CREDENTIALS = 20;
/** WebAuthn L3 §7.1 step 24: "Verify that the credentialId is ≤ 1023 bytes." */
const MAX_CREDENTIAL_ID_BYTES = 1023;
/** The AuthenticatorTransport values (WebAuthn L3 §5.8.4) kept from a registration; the browser's list is the client's word. */
const TRANSPORTS: ReadonlySet<string> = new Set<AuthenticatorTransportFuture>(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

function knownTransports(list: unknown): AuthenticatorTransportFuture[] {
  if (!Array.isArray(list)) return [];
  return [...new Set(list.filter((t): t is AuthenticatorTransportFuture => typeof t === 'string' && TRANSPORTS.has(t)))];
}

/** The browser's JSON answer as an object; anything else (bad JSON, `null`, a number, an array) is a malformed request (400). */
function parseResponse(json: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw new PortcullisError('webauthn.invalid-response', 'malformed WebAuthn response', { status: 400, cause: e });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new PortcullisError('webauthn.invalid-response', 'malformed WebAuthn response', { status: 400 });
  return v as Record<string, unknown>;
}

function invalid(message: string, cause?: unknown): PortcullisError {
  return new PortcullisError('webauthn.invalid-response', message, cause === undefined ? {} : { cause });
}

/**
 * WebAuthn L3 §7.2 step 6: when the user was identified before the ceremony, a userHandle
 * that is present MUST be that user's; when not (a passwordless passkey), the userHandle
 * MUST be present and name the user the credential belongs to. The handle is the user id's
 * UTF-8 bytes (registrationOptions `userID`).
 */
function checkUserHandle(response: Record<string, unknown>, owner: string, discoverable: boolean): void {
  const inner = response.response;
  const handle = inner !== null && typeof inner === 'object' ? (inner as Record<string, unknown>).userHandle : undefined;
  if (handle === undefined || handle === null || handle === '') {
    if (discoverable) throw new PortcullisError('webauthn.user-handle-mismatch', 'a passkey sign-in needs the userHandle of the credential');
    return;
  }
  if (typeof handle !== 'string' || !/^[A-Za-z0-9_-]+$/.test(handle)) throw new PortcullisError('webauthn.invalid-response', 'malformed userHandle', { status: 400 });
  if (!Buffer.from(handle, 'base64url').equals(Buffer.from(owner, 'utf8'))) throw new PortcullisError('webauthn.user-handle-mismatch', 'the userHandle is not the user the credential belongs to');
}

/**
 * WebAuthn L3 §7.1 step 10 and §7.2 step 13 leave `crossOrigin` and `topOrigin` to the
 * Relying Party, and @simplewebauthn/server reads neither. Portcullis is never meant to be
 * framed by another site, so a ceremony run in a cross-origin iframe (`crossOrigin` true, or a
 * `topOrigin` at all) is refused, as is a `crossOrigin` that is not a boolean. A client that
 * omits the member (older browsers) is taken as same-origin. Called once the library has
 * verified the response (origin, challenge; for an assertion, the signature over it).
 */
function checkNotFramed(response: Record<string, unknown>): void {
  const inner = response.response;
  const raw = inner !== null && typeof inner === 'object' ? (inner as Record<string, unknown>).clientDataJSON : undefined;
  let clientData: unknown;
  try {
    clientData = JSON.parse(Buffer.from(String(raw), 'base64url').toString('utf8'));
  } catch (e) {
    throw new PortcullisError('webauthn.invalid-response', 'malformed clientDataJSON', { status: 400, cause: e });
  }
  if (clientData === null || typeof clientData !== 'object') throw new PortcullisError('webauthn.invalid-response', 'malformed clientDataJSON', { status: 400 });
  const { crossOrigin, topOrigin } = clientData as Record<string, unknown>;
  if (crossOrigin === undefined && topOrigin === undefined) return;
  if (crossOrigin === false && topOrigin === undefined) return;
  throw new PortcullisError('webauthn.invalid-response', 'the WebAuthn ceremony ran in a cross-origin frame (clientDataJSON crossOrigin/topOrigin): use this site\'s own page, not one embedded in another site', { status: 400 });
}

/** RFC 8176 method of a WebAuthn key: `hwk` (hardware-secured) or `swk` (software-secured). */
export type KeyMethod = 'hwk' | 'swk';

/**
 * A synced passkey (`multiDevice`: backup eligible) has its private key copied through a
 * cloud keychain, so it is not a hardware-secured key (RFC 8176 `hwk`) but `swk`.
 */
function keyMethod(deviceType: 'singleDevice' | 'multiDevice'): KeyMethod {
  return deviceType === 'multiDevice' ? 'swk' : 'hwk';
}

export class WebAuthnCeremonies {
  constructor(
    private readonly store: WebAuthnStore,
    private readonly ephemeral: EphemeralStore,
    private readonly clock: Clock,
    private readonly cfg: WebAuthnConfig,
    private readonly audit: AuditSink,
  ) {}

  private async saveChallenge(slot: string, challenge: string): Promise<void> {
    await this.ephemeral.set(`webauthn:${slot}`, challenge, CHALLENGE_TTL_MS);
  }

  /** Reads and deletes the challenge: each is answered at most once. */
  private async takeChallenge(slot: string): Promise<string> {
    const c = await this.ephemeral.get(`webauthn:${slot}`);
    if (!c || !(await this.ephemeral.consumeOnce(`webauthn-used:${slot}:${c}`, CHALLENGE_TTL_MS))) throw invalid('no pending WebAuthn challenge');
    await this.ephemeral.delete(`webauthn:${slot}`);
    return c;
  }

  /** Records a refused registration (never the slot: it names the browser session) and throws `e`. */
  private refuseRegistration(userId: string, e: unknown, credential?: string): never {
    this.audit.record({ time: this.clock.now(), type: 'webauthn.registration-refused', actor: `user:${userId}`, reason: e instanceof PortcullisError ? e.code : 'internal', data: { userId, ...(credential ? { credential } : {}) } });
    throw e;
  }

  private async roomFor(userId: string) {
    const existing = await this.store.listWebAuthnCredentials(userId);
    if (existing.length >= MAX_WEBAUTHN_CREDENTIALS) {
      this.refuseRegistration(userId, new PortcullisError('webauthn.too-many-credentials', `an account holds at most ${MAX_WEBAUTHN_CREDENTIALS} security keys and passkeys; remove one first`));
    }
    return existing;
  }

  async registrationOptions(slot: string, user: UserRecord): Promise<unknown> {
    const existing = await this.roomFor(user.id);
    const options = await generateRegistrationOptions({
      rpName: this.cfg.rpName,
      rpID: this.cfg.rpId,
      userName: user.email,
      userID: new TextEncoder().encode(user.id),
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports as AuthenticatorTransportFuture[] })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    await this.saveChallenge(`reg:${slot}`, options.challenge);
    return options;
  }

  async verifyRegistration(slot: string, userId: string, responseJson: string, name: string): Promise<{ id: string; userVerified: boolean; method: KeyMethod }> {
    let credentialId: string | undefined;
    try {
      // the name is shown to the user and to operators (`portcullis user show`): one line of text
      const badName = nameControlCharacter(name);
      if (badName !== undefined) throw new PortcullisError('request.invalid', `name: ${badName}`);
      const expectedChallenge = await this.takeChallenge(`reg:${slot}`);
      const response = parseResponse(responseJson);
      let v;
      try {
        v = await verifyRegistrationResponse({ response: response as never, expectedChallenge, expectedOrigin: this.cfg.origin, expectedRPID: this.cfg.rpId, requireUserVerification: false });
      } catch (e) {
        throw invalid('the registration did not verify', e);
      }
      if (!v.verified || !v.registrationInfo) throw invalid('the registration did not verify');
      checkNotFramed(response);
      const { credential, credentialBackedUp, credentialDeviceType, userVerified } = v.registrationInfo;
      if (Buffer.from(credential.id, 'base64url').length > MAX_CREDENTIAL_ID_BYTES) throw new PortcullisError('webauthn.invalid-response', 'the credential id is longer than 1023 bytes', { status: 400 });
      credentialId = credential.id;
      await this.roomFor(userId);
      const exists = () => new PortcullisError('webauthn.credential-exists', 'this security key or passkey is already registered');
      if (await this.store.getWebAuthnCredential(credential.id)) throw exists();
      try {
        await this.store.addWebAuthnCredential({
          id: credential.id,
          userId,
          // at most 64 UTF-16 units, a surrogate pair never cut in half
          name: (name.trim() || 'Security key').slice(0, 64).replace(/[\uD800-\uDBFF]$/, ''),
          publicKey: Buffer.from(credential.publicKey).toString('base64url'),
          counter: credential.counter,
          transports: knownTransports(credential.transports),
          backedUp: credentialBackedUp,
          deviceType: credentialDeviceType,
          createdAt: this.clock.now(),
          lastUsedAt: null,
          suspendedAt: null,
        });
      } catch (e) {
        // registered by a concurrent ceremony since the look-up above
        if (e instanceof PortcullisError && e.code === 'conflict') throw exists();
        throw e;
      }
      return { id: credential.id, userVerified, method: keyMethod(credentialDeviceType) };
    } catch (e) {
      // roomFor audited its own refusal
      if (e instanceof PortcullisError && e.code === 'webauthn.too-many-credentials') throw e;
      return this.refuseRegistration(userId, e, credentialId);
    }
  }

  /**
   * With `userId`: a second factor among the user's credentials that are not suspended
   * (`webauthn.credential-suspended` when every one is: an empty `allowCredentials` would
   * let the browser offer any passkey); without: a passwordless passkey (UV required).
   */
  async authenticationOptions(slot: string, userId: string | undefined): Promise<unknown> {
    const all = userId ? await this.store.listWebAuthnCredentials(userId) : [];
    const creds = all.filter((c) => c.suspendedAt === null);
    if (all.length > 0 && creds.length === 0) throw new PortcullisError('webauthn.credential-suspended', 'every security key of this account was suspended: its signature counter went back, so it may have been copied');
    const options = await generateAuthenticationOptions({
      rpID: this.cfg.rpId,
      allowCredentials: creds.map((c) => ({ id: c.id, transports: c.transports as AuthenticatorTransportFuture[] })),
      userVerification: userId ? 'preferred' : 'required',
    });
    await this.saveChallenge(`auth:${slot}`, options.challenge);
    return options;
  }

  /**
   * `method` is the key's RFC 8176 method: `swk` for a synced passkey (backup eligible, its
   * key kept in a cloud keychain and copied to the user's devices), `hwk` for a key bound to
   * one device, as the authenticator data signed with this assertion says (WebAuthn §6.1 BE).
   */
  async verifyAuthentication(slot: string, userId: string | undefined, responseJson: string): Promise<{ userId: string; userVerified: boolean; method: KeyMethod }> {
    const expectedChallenge = await this.takeChallenge(`auth:${slot}`);
    const response = parseResponse(responseJson);
    const cred = typeof response.id === 'string' ? await this.store.getWebAuthnCredential(response.id) : undefined;
    if (!cred || (userId !== undefined && cred.userId !== userId)) throw invalid('unknown credential');
    checkUserHandle(response, cred.userId, userId === undefined);
    let v;
    try {
      // The library compares counters before it checks the signature, so it is given none
      // (0: no check) and the counter is judged below, once the assertion is known genuine;
      // user verification likewise.
      v = await verifyAuthenticationResponse({
        response: response as never,
        expectedChallenge,
        expectedOrigin: this.cfg.origin,
        expectedRPID: this.cfg.rpId,
        credential: { id: cred.id, publicKey: new Uint8Array(Buffer.from(cred.publicKey, 'base64url')), counter: 0, transports: cred.transports as AuthenticatorTransportFuture[] },
        requireUserVerification: false,
      });
    } catch (e) {
      throw invalid('the assertion did not verify', e);
    }
    if (!v.verified) throw invalid('the assertion did not verify');
    checkNotFramed(response);
    if (cred.suspendedAt !== null) throw new PortcullisError('webauthn.credential-suspended', 'this key was suspended: its signature counter went back, so it may have been copied');
    const next = v.authenticationInfo.newCounter;
    // §6.1.1: counters of 0 on both sides mean the authenticator keeps none (passkeys synced across devices).
    if ((next !== 0 || cred.counter !== 0) && next <= cred.counter) {
      if (await this.store.suspendWebAuthnCredential(cred.id, this.clock.now())) {
        this.audit.record({ time: this.clock.now(), type: 'webauthn.credential-suspended', actor: 'system', reason: 'webauthn.counter-regressed', data: { userId: cred.userId, credential: cred.id, storedCounter: cred.counter, assertedCounter: next } });
      }
      throw new PortcullisError('webauthn.counter-regressed', 'the authenticator counter did not increase');
    }
    if (userId === undefined && !v.authenticationInfo.userVerified) throw new PortcullisError('webauthn.user-verification-required', 'the authenticator did not verify the user');
    if (!(await this.store.updateWebAuthnCounter(cred.id, cred.counter, next, this.clock.now()))) throw new PortcullisError('webauthn.counter-regressed', 'the credential was used concurrently');
    return { userId: cred.userId, userVerified: v.authenticationInfo.userVerified, method: keyMethod(v.authenticationInfo.credentialDeviceType) };
  }
}
