/**
 * Builds the user-facing identity services from the configuration and the stores the
 * composition root chose: users, OpenID Connect (oidc-provider), the second factors
 * (TOTP, one-time codes through the configured sender when there is one, recovery
 * codes, WebAuthn), the brute-force limits, the sign-in pages and the account pages.
 * Takes adapters, never picks them (app.ts does).
 */
import { join, isAbsolute } from 'node:path';
import type { DurableAuditSink } from '../audit/sink.js';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config/schema.js';
import type { EphemeralStore } from '../core/ephemeral.js';
import type { EventBus } from '../core/events.js';
import { randomId } from '../core/ids.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { Envelope } from '../crypto/envelope.js';
import type { KeyRing } from '../crypto/keyring.js';
import { envelopeSecretBox } from '../crypto/secret-box.js';
import type { SettingsStore } from '../crypto/store.js';
import type { Factor } from '../mfa/factor.js';
import { guardFactor } from '../mfa/guarded-factor.js';
import { OneTimeCodes } from '../mfa/otp/codes.js';
import { OtpFactor } from '../mfa/otp/otp-factor.js';
import { otpSenderNotice } from '../mfa/otp/sender-notice.js';
import { ConsoleSender } from '../mfa/otp/senders/console.js';
import { FileOutboxSender } from '../mfa/otp/senders/file-outbox.js';
import type { OtpSender } from '../mfa/otp/senders/sender.js';
import { SmtpSender } from '../mfa/otp/senders/smtp.js';
import { WebhookSender } from '../mfa/otp/senders/webhook.js';
import { RecoveryCodesFactor } from '../mfa/recovery-codes.js';
import type { MfaStore } from '../mfa/store.js';
import { TotpFactor } from '../mfa/totp/totp-factor.js';
import { KeyRingWebhookSigner } from '../webhooks/sign.js';
import type { AppService } from '../tokens/apps.js';
import type { TokenRevocationStore } from '../tokens/store.js';
import { Invites } from './invites.js';
import { DEFAULT_LOCKOUT_POLICY, Lockout } from './lockout.js';
import { createOidcProvider, loadCookieKeys, type OidcMtls, type OidcService } from './oidc/provider.js';
import { AccountPages } from './pages/account.js';
import { InvitePages } from './pages/invite-pages.js';
import { CsrfTokens } from './pages/csrf.js';
import { SignInPages } from './pages/sign-in.js';
import { WebAuthnCeremonies } from './pages/webauthn.js';
import { Argon2idHasher } from './passwords/argon2id.js';
import { loadCommonPasswords } from './passwords/common-passwords.js';
import { PasswordHashers } from './passwords/hasher.js';
import { Pbkdf2Hasher } from './passwords/pbkdf2.js';
import type { PasswordStore } from './passwords/store.js';
import type { IdentityStore, LockoutStore } from './store.js';
import { UserService } from './users.js';

export interface IdentityServiceDeps {
  config: Config;
  /** The config directory (relative file paths resolve in it). */
  dir: string;
  store: IdentityStore & LockoutStore & MfaStore & PasswordStore & SettingsStore & TokenRevocationStore;
  ephemeral: EphemeralStore;
  /** Seals TOTP seeds, cookie keys and the one-time-code key at rest. */
  envelope: Envelope;
  keys: KeyRing;
  apps: AppService;
  events: EventBus;
  /** The account pages wait for a change's event to be stored before they answer. */
  audit: DurableAuditSink;
  clock: Clock;
  logger: Logger;
  /** False on a node part that serves no sign-ins (the gateway thread): it says nothing about the sign-in setup. */
  announce?: boolean;
  /** RFC 8705 mutual TLS for sign-in apps: the certificate reader, and the CA verifier with a trust domain (`tls_client_auth`). */
  mtls?: OidcMtls;
}

export interface IdentityServices {
  users: UserService;
  oidc: OidcService;
  signIn: SignInPages;
  account: AccountPages;
  /** The invite page, where a user added without a password chooses one. */
  invitePages: InvitePages;
  lockout: Lockout;
  /** Invite links for users added without a password. */
  invites: Invites;
  /** Guarded second factors by id (`totp`, `email` or `sms`, `recovery-code`). */
  factors: readonly Factor[];
  webauthn: WebAuthnCeremonies;
}

/**
 * A 32-byte secret created once per deployment and kept sealed in the settings, so
 * every node has the same one.
 */
async function sharedSecret(settings: SettingsStore, envelope: Envelope, name: string): Promise<Uint8Array> {
  const sealed = await settings.setSettingIfAbsent(name, await envelope.encrypt(randomId(43), name));
  return new Uint8Array(Buffer.from(await envelope.decryptString(sealed, name), 'utf8'));
}

/**
 * The configured sender, or undefined for `none` (no code factor). Says once, on the node
 * part that serves sign-ins, when the factor is off or its codes go where no user reads
 * them (otpSenderNotice).
 */
function otpSender(cfg: Config['identity']['otp'], dir: string, keys: KeyRing, clock: Clock, logger: Logger, announce: boolean): OtpSender | undefined {
  const outbox = isAbsolute(cfg.file) ? cfg.file : join(dir, cfg.file);
  const notice = announce ? otpSenderNotice(cfg, outbox) : undefined;
  if (notice) logger[notice.level](notice.message);
  switch (cfg.sender) {
    case 'none':
      return undefined;
    case 'file':
      return new FileOutboxSender(outbox, clock);
    case 'smtp': {
      const s = cfg.smtp!;
      return new SmtpSender({ host: s.host, port: s.port, secure: s.secure, requireTLS: s.requireTLS, from: s.from, deadlineMs: s.timeout, logger: announce ? logger : silentLogger, ...(s.user !== undefined && s.pass !== undefined ? { auth: { user: s.user, pass: s.pass } } : {}) });
    }
    case 'webhook':
      // signed as event webhooks are, so the SMS bridge can tell our requests from forged ones
      return new WebhookSender({ url: cfg.webhook!.url, headers: cfg.webhook!.headers, signer: new KeyRingWebhookSigner(keys, clock), logger: announce ? logger : silentLogger });
    case 'console':
      return new ConsoleSender();
  }
}

/**
 * @example
 * const identity = await buildIdentityServices({ config, dir, store, ephemeral, envelope, keys, apps, events, audit, clock, logger });
 * mountOidc(fastify, identity.oidc, identity.signIn, { baseMetadata: discoveryDocument(config.issuer), logger });
 */
export async function buildIdentityServices(d: IdentityServiceDeps): Promise<IdentityServices> {
  const { config, store, ephemeral, clock } = d;
  const id = config.identity;
  const issuer = config.issuer;
  // a node's memory forgets the counters when it restarts: they are written through to the durable store (Redis keeps them itself);
  // names that match no user are counted as keyed digests wherever the counters live (one may be a password typed in the wrong field)
  const subjectKey = await sharedSecret(store, d.envelope, 'lockout.subject-key');
  const lockout = new Lockout(ephemeral, clock, { ...DEFAULT_LOCKOUT_POLICY, ipv6Prefix: id.lockout.ipv6Prefix }, 'auth', config.ephemeral === 'memory' ? { store, subjectKey } : { subjectKey });
  await lockout.ready();
  lockout.onLock(async (e) => {
    // Accounts are user ids, or `email:<typed name>` for names that match no user.
    const user = e.kind === 'account' ? await store.getUser(e.id).catch(() => undefined) : undefined;
    const lockedUntil = new Date(e.until).toISOString();
    if (user) d.audit.record({ time: clock.now(), type: 'user.locked', actor: 'system', data: { userId: user.id, lockedUntil, failures: e.failures, ...(e.step ? { step: e.step } : {}) } });
    else d.audit.record({ time: clock.now(), type: 'signin.locked', actor: 'system', data: { subject: e.kind === 'ip' ? 'address' : 'unknown-account', ...(e.kind === 'ip' ? { ip: e.id } : {}), lockedUntil } });
    // stored, with the user.locked deliveries it raises, before the failure that set the lock is answered: no flush
    // of a change waits for it, so a crash right after that answer would keep the lock and lose the event
    await d.audit.flush().catch((err: unknown) => d.logger.warn({ err }, 'the lock is set, but its audit event is not stored yet'));
  });
  const hashers = new PasswordHashers(new Argon2idHasher(id.passwords.argon2id), [new Pbkdf2Hasher()]);
  const otpKey = await sharedSecret(store, d.envelope, 'otp.hmac-key');
  const totp = new TotpFactor({ store, box: envelopeSecretBox(d.envelope), clock }, { issuer: 'Portcullis' });
  const sender = otpSender(id.otp, d.dir, d.keys, clock, d.logger, d.announce ?? true);
  // No sender, no code factor: never a default that prints codes where no user reads them.
  // Asking for it is mfa.factor-unavailable (mfa/guarded-factor.ts factorById).
  const otp = sender ? new OtpFactor({ store, ephemeral, codes: new OneTimeCodes(ephemeral, clock, otpKey), sender, clock }, { channel: id.otp.channel, issuer: 'Portcullis', maxSendsPerHour: id.otp.maxSendsPerHour }) : undefined;
  const recovery = new RecoveryCodesFactor({ store, clock });
  const factors = [totp, ...(otp ? [otp] : []), recovery].map((f) => guardFactor(f, lockout));
  const oidc = createOidcProvider(
    { issuer, apps: d.apps, keys: d.keys, identity: store, ephemeral, settings: store, envelope: d.envelope, revokedTokens: store, events: d.events, audit: d.audit, clock, logger: d.logger, ...(d.mtls ? { mtls: d.mtls } : {}) },
    { cookieKeys: await loadCookieKeys(store, d.envelope), mfaForEveryone: id.mfa.everyone, behindProxy: config.gateway.trustedProxies.length > 0, accessTokenTtl: Math.floor(config.tokens.accessTokenTtl / 1000), leewayMs: config.tokens.leeway, assertionIssuerAudienceOnly: config.tokens.clientAssertions.issuerAudienceOnly },
  );
  const invites = new Invites(ephemeral, clock);
  const users = new UserService({
    store,
    passwords: store,
    hashers,
    blocklist: await loadCommonPasswords(),
    factors,
    enrollments: store,
    events: d.events,
    audit: d.audit,
    clock,
    serviceName: 'Portcullis',
    endSessions: (userId) => oidc.endAllSessions(userId),
    invites,
    lockout,
  });
  const url = new URL(issuer);
  const webauthn = new WebAuthnCeremonies(store, ephemeral, clock, { rpId: id.webauthn.rpId ?? url.hostname, rpName: id.webauthn.rpName, origin: url.origin }, d.audit);
  const csrf = new CsrfTokens(ephemeral);
  const signIn = new SignInPages({ oidc, identity: store, passwords: store, hashers, lockout, factors, enrollments: store, webauthn, ephemeral, csrf, audit: d.audit, clock });
  const account = new AccountPages({ oidc, users, identity: store, factors, enrollments: store, passwords: store, hashers, lockout, csrf, webauthn, audit: d.audit, clock, reauthenticateAfterMs: id.account.reauthenticateAfter });
  const invitePages = new InvitePages({ users, identity: store, invites, csrf, audit: d.audit });
  return { users, oidc, signIn, account, invitePages, lockout, invites, factors, webauthn };
}
