/**
 * A real identity plane for the OIDC sign-in tests: SQLite store in a temp dir, key
 * ring, apps, users, oidc-provider, sign-in pages and the factors, served by fastify on
 * 127.0.0.1; plus a cookie-keeping HTTP "browser" for the no-JavaScript pages.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from 'otpauth';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { systemClock } from '../../src/core/clock.js';
import { EventBus } from '../../src/core/events.js';
import { createLogger } from '../../src/core/logger.js';
import { Envelope } from '../../src/crypto/envelope.js';
import { KeyRing } from '../../src/crypto/keyring.js';
import { discoveryDocument, buildIdentityPlane } from '../../src/http/identity-plane.js';
import { mountOidc } from '../../src/http/oidc-mount.js';
import { Lockout } from '../../src/identity/lockout.js';
import { createOidcProvider, loadCookieKeys } from '../../src/identity/oidc/provider.js';
import { CsrfTokens } from '../../src/identity/pages/csrf.js';
import { SignInPages } from '../../src/identity/pages/sign-in.js';
import { WebAuthnCeremonies } from '../../src/identity/pages/webauthn.js';
import { Argon2idHasher } from '../../src/identity/passwords/argon2id.js';
import { loadCommonPasswords } from '../../src/identity/passwords/common-passwords.js';
import { PasswordHashers } from '../../src/identity/passwords/hasher.js';
import { UserService } from '../../src/identity/users.js';
import { guardFactor } from '../../src/mfa/guarded-factor.js';
import { OneTimeCodes } from '../../src/mfa/otp/codes.js';
import { OtpFactor } from '../../src/mfa/otp/otp-factor.js';
import { FileOutboxSender, readOutbox } from '../../src/mfa/otp/senders/file-outbox.js';
import { RecoveryCodesFactor } from '../../src/mfa/recovery-codes.js';
import { TotpFactor } from '../../src/mfa/totp/totp-factor.js';
import { totp } from '../../src/mfa/totp/hotp.js';
import { openDurableStore } from '../../src/store/index.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { AppService } from '../../src/tokens/apps.js';
import { RevocationSet } from '../../src/tokens/revocation-set.js';
import { TokenService } from '../../src/tokens/service.js';
import { MemoryMfaStore, MemoryPasswordStore, TestSecretBox } from './mfa-memory-stores.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function startIdentity(opts: { mfaForEveryone?: boolean; hostname?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pc-oidc-'));
  const port = await freePort();
  // WebAuthn needs a domain as RP id (not an IP address): the browser tests use localhost.
  const host = opts.hostname ?? '127.0.0.1';
  const issuer = `http://${host}:${port}`;
  const clock = systemClock;
  const logger = createLogger(process.env['PC_TEST_LOG'] ?? 'silent');
  const store = await openDurableStore(`sqlite:${join(dir, 'p.db')}`);
  const ephemeral = new MemoryEphemeralStore();
  const envelope = await Envelope.open(store, randomBytes(32));
  const keys = new KeyRing(store, envelope, clock, { alg: 'ES256', rotationIntervalMs: 86_400_000, prepublishMs: 3_600_000, maxTokenLifetimeMs: 700_000 });
  await keys.maintain();
  const audit = new MemoryAuditSink();
  const events = new EventBus(ephemeral, logger);
  const revocations = new RevocationSet();
  events.on((e) => {
    if (e.type === 'token.revoked') revocations.apply({ type: 'token.revoked', jti: e.jti, expiresAt: e.expiresAt });
    if (e.type === 'user.tokens-revoked' || e.type === 'app.tokens-revoked' || e.type === 'app.status') revocations.apply(e);
  });
  const apps = new AppService(store, events, audit, clock);
  const tokens = new TokenService({ issuer, apps, keys, revokedTokens: store, revocations, events, ephemeral, audit, clock, accessTokenTtlMs: 600_000 });
  const hashers = new PasswordHashers(new Argon2idHasher());
  const passwords = new MemoryPasswordStore();
  const mfaStore = new MemoryMfaStore();
  const lockout = new Lockout(ephemeral, clock);
  const outbox = join(dir, 'outbox.jsonl');
  const box = new TestSecretBox();
  const totpFactor = new TotpFactor({ store: mfaStore, box, clock }, { issuer: 'Portcullis' });
  const emailFactor = new OtpFactor(
    { store: mfaStore, ephemeral, codes: new OneTimeCodes(ephemeral, clock, randomBytes(32)), sender: new FileOutboxSender(outbox, clock), clock },
    { channel: 'email', issuer: 'Portcullis', resendIntervalMs: 1 },
  );
  const recovery = new RecoveryCodesFactor({ store: mfaStore, clock });
  const factors = [totpFactor, emailFactor, recovery].map((f) => guardFactor(f, lockout));
  const oidc = createOidcProvider(
    { issuer, apps, keys, identity: store, ephemeral, settings: store, envelope, revokedTokens: store, events, clock, logger },
    { cookieKeys: await loadCookieKeys(store, envelope), mfaForEveryone: opts.mfaForEveryone ?? false },
  );
  const users = new UserService({
    store,
    passwords,
    hashers,
    blocklist: await loadCommonPasswords(),
    factors,
    enrollments: mfaStore,
    events,
    audit,
    clock,
    endSessions: (id) => oidc.endAllSessions(id),
  });
  const webauthn = new WebAuthnCeremonies(store, ephemeral, clock, { rpId: host, rpName: 'Portcullis', origin: issuer }, audit);
  const pages = new SignInPages({ oidc, identity: store, passwords, hashers, lockout, factors, enrollments: mfaStore, webauthn, ephemeral, csrf: new CsrfTokens(ephemeral), audit, clock });
  const app = buildIdentityPlane({ issuer, keys, tokens, logger, health: { ready: async () => undefined } });
  // as the node wires it (app.ts): refresh and opaque tokens of sign-in apps are oidc-provider's to revoke and introspect
  mountOidc(app, oidc, pages, { baseMetadata: discoveryDocument(issuer), logger, isOidcClient: (id) => apps.isSignInApp(id) });
  await app.listen({ port, host: '127.0.0.1' });
  return {
    issuer,
    dir,
    store,
    keys,
    apps,
    users,
    oidc,
    revocations,
    audit,
    totpFactor,
    mfaStore,
    outbox,
    readOutbox: () => readOutbox(outbox),
    totpNow: (secretBase32: string, offsetMs = 0) => totp(new Uint8Array(Secret.fromBase32(secretBase32).buffer), Date.now() + offsetMs, { algorithm: 'SHA1', digits: 6, period: 30 }),
    async close() {
      await app.close();
      await ephemeral.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type Identity = Awaited<ReturnType<typeof startIdentity>>;

/** A minimal browser: keeps cookies per host, never follows redirects by itself. */
export class Browser {
  private readonly cookies = new Map<string, string>();

  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<{ status: number; location: string | undefined; body: string; headers: Headers; url: string }> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (this.cookies.size) headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const loc = res.headers.get('location') ?? undefined;
    return { status: res.status, location: loc && new URL(loc, url).toString(), body: await res.text(), headers: res.headers, url };
  }

  /** A cookie this browser holds (undefined when none). */
  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** Another client holding every cookie of this one: what an attacker who stole them has. */
  copy(): Browser {
    const b = new Browser();
    for (const [k, v] of this.cookies) b.plant(k, v);
    return b;
  }

  /** Plants a cookie, as a sibling subdomain can (cookie tossing) or an attacker at the keyboard. */
  plant(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  /** Follows redirects while they stay on `origin`; returns the last response (a page, or a redirect elsewhere). */
  async follow(url: string, origin: string) {
    let r = await this.request(url);
    for (let i = 0; i < 10 && r.location && r.location.startsWith(origin); i++) r = await this.request(r.location);
    return r;
  }
}

/** The CSRF token in a page. */
export function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token in the page');
  return m[1]!;
}

/** The form action for `suffix` in a page. */
export function actionOf(html: string, suffix: string, base: string): string {
  const m = new RegExp(`action="([^"]*/${suffix.replace('/', '\\/')})"`).exec(html);
  if (!m) throw new Error(`no form for ${suffix}`);
  return new URL(m[1]!.replace(/&amp;/g, '&'), base).toString();
}

type PageResponse = Awaited<ReturnType<Browser['request']>>;

/** Submits a page's form for `action` (with its CSRF token) as `browser`. */
export function submitForm(browser: Browser, html: string, action: string, fields: Record<string, string>, issuer: string): Promise<PageResponse> {
  return browser.request(actionOf(html, action, issuer), { form: { csrf: csrfOf(html), ...fields } });
}

/** Follows `r` on the identity plane, consents if asked, and returns the redirect back to the app (which must start with `redirect`). */
export async function consentAndReturnTo(browser: Browser, r: { status: number; location: string | undefined; body: string }, issuer: string, redirect: string): Promise<URL> {
  let res = r;
  if (res.location?.startsWith(issuer)) res = await browser.follow(res.location, issuer);
  if (res.body.includes('Allow access?')) {
    res = await submitForm(browser, res.body, 'consent', {}, issuer);
    if (res.location?.startsWith(issuer)) res = await browser.follow(res.location, issuer);
  }
  if (!res.location?.startsWith(redirect)) throw new Error(`expected a redirect to the app, got ${res.status} ${res.location} ${res.body.slice(0, 300)}`);
  return new URL(res.location);
}
