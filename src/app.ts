/**
 * The composition root: config → stores → services → listeners. The only place that
 * chooses adapters. `startPortcullis` serves the planes the config names; `close`
 * stops accepting, lets in-flight requests finish, flushes the audit trail and
 * closes the stores.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Server as TlsServer } from 'node:tls';
import { envelopeSecretBox } from './crypto/secret-box.js';
import { CertificateAuthority } from './pki/authority.js';
import { fileSignerKind, SignerRegistry } from './pki/signer.js';
import { openServerTls } from './http/tls.js';
import { gracefulCloser } from './http/graceful-close.js';
import { certificateSteps, peerCertificate } from './gateway/client-certificate-policy.js';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { systemClock, type Clock } from './core/clock.js';
import { PortcullisError } from './core/errors.js';
import { loadConfig, resolveIn, type LoadedConfig } from './core/config/load.js';
import type { Config } from './core/config/schema.js';
import { isLoopbackAddress } from './core/loopback.js';
import { EventBus, type ClusterEvent } from './core/events.js';
import type { EphemeralStore } from './core/ephemeral.js';
import { createLogger, type Logger } from './core/logger.js';
import { AuditAnchor } from './audit/anchor.js';
import { openAuditHeadKey, type AuditHeadKey } from './audit/head-key.js';
import { AuditTrail } from './audit/trail.js';
import { Envelope } from './crypto/envelope.js';
import { KeyRing } from './crypto/keyring.js';
import { EncryptionKeys } from './crypto/jwe/encryption-keys.js';
import type { EncryptionKeyType } from './crypto/jwe/generate.js';
import { Transit } from './crypto/transit/transit.js';
import { GcmMeter } from './crypto/gcm-usage.js';
import { AppEncryptionKeys } from './tokens/app-encryption-keys.js';
import { registerTransitPlane } from './http/transit-plane.js';
import { readMasterKeyFile } from './crypto/master-key.js';
import { AppService } from './tokens/apps.js';
import { AppSigningKeys } from './tokens/app-keys.js';
import { WebhookService } from './webhooks/service.js';
import { KeyRingWebhookSigner } from './webhooks/sign.js';
import { DeliveryWorker } from './webhooks/worker.js';
import { sealStoredUrls, sealedWebhookStore } from './webhooks/sealed-urls.js';
import { RevocationSet } from './tokens/revocation-set.js';
import { TokenService } from './tokens/service.js';
import { attachGateway, createGateway, gatewayServerOptions } from './gateway/gateway.js';
import { messagePolicySteps } from './gateway/message-policies.js';
import { startGatewayThread, type GatewayThread } from './gateway/thread.js';
import { GatewayGate } from './gateway/gate.js';
import { keepInForce } from './gateway/in-force.js';
import { buildIdentityPlane } from './http/identity-plane.js';
import { buildAdminPlane } from './http/admin-plane.js';
import { discoveryDocument } from './http/identity-plane.js';
import type { IdentityServices } from './identity/services.js';
import { AdminTokenFile } from './http/admin-token-file.js';
import { KyselyDurableStore } from './store/durable/store.js';
import { openDurableStore, openEphemeralStore, type DurableStore } from './store/index.js';
import { MemoryEphemeralStore } from './store/memory/ephemeral.js';

export interface StartOptions {
  /** Path of portcullis.yaml. */
  configFile: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  clock?: Clock;
  /** Listen on port 0 for every plane (tests). */
  ephemeralPorts?: boolean;
  /**
   * Start although the audit trail no longer holds what this node saw (`audit.rolled-back`)
   * or its anchor cannot be trusted (`audit.anchor-invalid`): audited, and the anchor is
   * rewritten at the trail's head (`start --accept-audit-rollback`, after a legitimate restore).
   */
  acceptAuditRollback?: boolean;
  /** How often the admin plane looks for a replaced admin token file (tests; http/admin-token-file.ts `ADMIN_TOKEN_CHECK_MS`). */
  adminTokenCheckIntervalMs?: number;
  /** How often the audit anchor follows the head (tests; audit/anchor.ts `ANCHOR_INTERVAL_MS`). */
  auditAnchorIntervalMs?: number;
  /** How often the stored rows that are over (revoked tokens, webhook deliveries, sign-in limits) are purged (tests; an hour by default). */
  purgeIntervalMs?: number;
  /**
   * Set only by the gateway thread (gateway/thread-entry.ts): serve the gateway plane
   * alone, on `listen` when given, with the main thread's ephemeral store when given,
   * and leave key rotation, webhook delivery and purges to the main thread. Its gateway
   * refuses requests while `gate` is closed; `faults` (tests only) makes applying an
   * event or re-reading the store fail, or holds a re-read between its read and its install.
   */
  gatewayThread?: {
    listen?: string;
    ephemeral?: EphemeralStore;
    gate?: GatewayGate;
    eventsOf?: string;
    faults?: (what: 'apply' | 'reconcile' | 'reconcile-read') => void | Promise<void>;
    /** After each periodic re-read of the store: its failure (the store's `downReason` when it is taken for down), or undefined (for the main thread's /readyz). */
    reconciled?: (err: unknown) => void;
  };
}

/**
 * Every service but the identity plane's (users, OpenID Connect, second factors, pages):
 * what a gateway-only node and the CLI's store tools need. Building the identity services
 * loads oidc-provider and its dependencies, so those are imported only when needed.
 */
export interface CoreServices {
  config: Config;
  dir: string;
  store: DurableStore;
  ephemeral: EphemeralStore;
  envelope: Envelope;
  keys: KeyRing;
  /** Encryption key pairs (JWE recipients, `use: enc` in the JWKS), rotated with the signing keys. */
  encryptionKeys: EncryptionKeys;
  /** Per-app encryption keys; `symmetric(clientId, kid?, alg?)` / `public(clientId)` are in memory. */
  appEncryptionKeys: AppEncryptionKeys;
  /** Encryption as a service over the durable store. */
  transit: Transit;
  /** AES-GCM invocation counts per key (transit versions, data keys, apps' `dir` keys), reserved in blocks from the store. */
  gcmUsage: GcmMeter;
  /** The built-in CA: issuance, revocation (in-memory revoked serials), CRL, OCSP, client-certificate verification. */
  pki: CertificateAuthority;
  apps: AppService;
  /** Per-app RFC 9421 signing keys; `lookup(keyid)` is in memory. */
  appSigningKeys: AppSigningKeys;
  webhooks: WebhookService;
  tokens: TokenService;
  revocations: RevocationSet;
  events: EventBus;
  audit: AuditTrail;
  /** Authenticates the audit chain's head (audit/head-key.ts): every append records its MAC, verify checks it. */
  auditHeadKey: AuditHeadKey;
  /** The newest audit event this node saw, kept outside the database (audit/anchor.ts); set by a node's main thread at start, verify checks it. */
  auditAnchor?: AuditAnchor;
  metrics: Registry;
  clock: Clock;
  logger: Logger;
}

export interface Services extends CoreServices {
  /**
   * Users, OpenID Connect sign-in, second factors, the sign-in and account pages. A node
   * that serves neither the identity nor the admin plane (a gateway-only node, the gateway
   * thread) does not build them: reading this there throws `internal`.
   */
  identity: IdentityServices;
}

export interface Portcullis {
  services: Services;
  /** Base URLs of the planes served, e.g. { identity: 'http://127.0.0.1:8080' }. */
  urls: Partial<Record<'identity' | 'gateway' | 'admin', string>>;
  /** Re-reads apps, revocations and keys from the store (also runs on a timer). */
  reconcile(): Promise<void>;
  /** The gateway's own thread, when `gateway.thread` put it on one. */
  gatewayThread?: GatewayThread;
  close(): Promise<void>;
}

function splitHostPort(hp: string): { host: string; port: number } {
  const i = hp.lastIndexOf(':');
  return { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) };
}

/**
 * Listens on `hp`; with `loopbackOnly` (the config key that asked for it) a listener whose
 * bound address is not loopback is closed at once and start fails: a name such as
 * `localhost` is the resolver's to answer (a hosts file may say 0.0.0.0), the bound address is not.
 */
function listen(server: Server, hp: string, ephemeral: boolean, loopbackOnly?: string): Promise<string> {
  const { host, port } = splitHostPort(hp);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EADDRNOTAVAIL' ? 'the address is not local to this machine' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new PortcullisError('listen.failed', `cannot listen on ${hp}: ${why}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(ephemeral ? 0 : port, host, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      // checked before the loop turns, so no connection is taken on that address
      if (loopbackOnly !== undefined && !isLoopbackAddress(a.address)) {
        server.close();
        reject(
          new PortcullisError(
            'listen.failed',
            `cannot listen on ${hp} (${loopbackOnly}): ${host} resolved to ${a.address}, which is not loopback, and this plane speaks plain HTTP only. Listen on a loopback IP address (127.0.0.1 or [::1]), fix what ${host} resolves to, or set admin.allowInsecureHttp: true if the path to it is private or already encrypted`,
          ),
        );
        return;
      }
      resolve(`${server instanceof TlsServer ? 'https' : 'http'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
    });
  });
}

interface OpenOptions {
  logger?: Logger;
  clock?: Clock;
  /** An ephemeral store to use instead of opening `config.ephemeral` (the gateway thread's bridge). */
  ephemeral?: EphemeralStore;
  /** Whether this process serves sign-ins (it then announces development-only OTP senders). */
  signIns?: boolean;
  /** Audit appends on a thread of their own (a node's main thread on a SQLite file; store/durable/audit-writer.ts). */
  auditThread?: boolean;
  /** The event bus this node's bus is a peer of (the gateway thread's main thread): see `EventBusOptions.peerOf`. */
  eventsOf?: string;
}

/** Opens stores and builds every service without listening (CLI tools and tests use this too). */
export async function openServices(loaded: LoadedConfig, opts: OpenOptions = {}): Promise<Services> {
  const core = await openCoreServices(loaded, opts);
  try {
    return await withIdentity(core, opts.signIns ?? true);
  } catch (e) {
    await core.ephemeral.close().catch(() => undefined);
    await core.store.close().catch(() => undefined);
    throw e;
  }
}

/** Builds the identity services over `core` (importing oidc-provider on first use). */
async function withIdentity(core: CoreServices, announce: boolean): Promise<Services> {
  const { buildIdentityServices } = await import('./identity/services.js');
  const { config, dir, store, ephemeral, envelope, keys, apps, events, audit, clock, logger, pki } = core;
  const trustDomain = config.pki.trustDomain;
  // RFC 8705 mutual TLS for sign-in apps: the same reader (and, for tls_client_auth, which needs the trust domain, verifier) as the client-credentials grant's.
  const mtls = {
    clientCertificate: (req: IncomingMessage) => peerCertificate(req.socket).chain,
    ...(trustDomain ? { trustDomain, verifyTlsClient: async (chain: readonly Uint8Array[]) => (await pki.verifyPeer(chain, { mapToApp: true })).clientId } : {}),
  };
  const identity = await buildIdentityServices({ config, dir, store, ephemeral, envelope, keys, apps, events, audit, clock, logger, announce, mtls });
  return { ...core, identity };
}

/** `core` for a node without identity or admin plane: its `identity` refuses to be read. */
function withoutIdentity(core: CoreServices): Services {
  return Object.defineProperty({ ...core }, 'identity', {
    enumerable: false,
    get(): never {
      throw new PortcullisError('internal', 'this node serves neither the identity nor the admin plane, so its identity services are not built');
    },
  }) as Services;
}

/** Opens stores and builds every service but the identity plane's (see CoreServices). */
export async function openCoreServices(loaded: LoadedConfig, opts: OpenOptions = {}): Promise<CoreServices> {
  const { config, dir } = loaded;
  const logger = opts.logger ?? createLogger(config.log.level);
  const clock = opts.clock ?? systemClock;
  const masterKey = readMasterKeyFile(resolveIn(dir, config.masterKeyFile));
  const store = await openDurableStore(config.store, { baseDir: dir, logger, auditThread: opts.auditThread ?? false, statementTimeoutMs: config.postgres.statementTimeout });
  let ephemeral: EphemeralStore | undefined;
  try {
    ephemeral = opts.ephemeral ?? (await openEphemeralStore(config.ephemeral, { prefix: config.ephemeralPrefix }));
    const audit = new AuditTrail(store, logger);
    // once per key and process: the per-request refusals that follow are each audited where they happen
    const onExhausted = (keyId: string, limit: number): void =>
      audit.record({ time: clock.now(), type: 'crypto.key-exhausted', actor: 'system', data: { key: keyId, limit } });
    const gcmUsage = new GcmMeter(store, { limit: config.encryption.aesGcm.invocationLimit, block: config.encryption.aesGcm.reserveBlock, onExhausted });
    // a switch of data key is audited in the transaction that makes it (envelope.ts)
    const envelope = await Envelope.open(store, masterKey, { usage: gcmUsage, audit: store, clock });
    masterKey.fill(0);
    // before the first event is written: every head this node records carries its MAC
    const auditHeadKey = await openAuditHeadKey(store, envelope, logger);
    store.useAuditHeadKey(auditHeadKey);
    const keys = new KeyRing(store, envelope, clock, {
      alg: config.tokens.signingAlg,
      rotationIntervalMs: config.keys.rotationInterval,
      prepublishMs: config.keys.prepublish,
      maxTokenLifetimeMs: config.tokens.accessTokenTtl + config.tokens.leeway,
    });
    const encryptionKeys = new EncryptionKeys(store, envelope, clock, {
      types: config.encryption.keyTypes.map((t): EncryptionKeyType => (t === 'RSA' ? 'RSA-3072' : t)),
      rotationIntervalMs: config.encryption.rotationInterval,
      decryptOverlapMs: config.encryption.decryptOverlap,
      prepublishMs: config.encryption.prepublish,
    });
    const events = new EventBus(ephemeral, logger, opts.eventsOf !== undefined ? { peerOf: opts.eventsOf } : {});
    const transit = new Transit(store, envelope, clock, {
      usage: gcmUsage,
      audit,
      onRotated: (name) => void events.emit({ type: 'transit.changed', name }).catch((e: unknown) => logger.warn({ err: e, key: name }, 'transit.changed event not published')),
    });
    const revocations = new RevocationSet();
    const apps = new AppService(store, events, audit, clock, config.pki.trustDomain !== undefined ? { trustDomain: config.pki.trustDomain } : {});
    const appSigningKeys = new AppSigningKeys(store, envelope, events, audit, clock, apps);
    const appEncryptionKeys = new AppEncryptionKeys(store, envelope, events, audit, clock, apps);
    const webhooks = new WebhookService(sealedWebhookStore(store, envelope), audit, clock, logger, { allowPrivateTargets: config.webhooks.allowPrivateTargets, allowInsecureHttp: config.webhooks.allowInsecureHttp });
    webhooks.attach(audit);
    const pki = new CertificateAuthority({
      store,
      signers: new SignerRegistry([fileSignerKind(envelopeSecretBox(envelope))]),
      clock,
      urlBase: config.issuer,
      ...(config.pki.trustDomain ? { trustDomain: config.pki.trustDomain } : {}),
      serverLifetimeMs: config.pki.serverCertLifetime,
      clientLifetimeMs: config.pki.clientCertLifetime,
      crlLifetimeMs: config.pki.crlLifetime,
      ocspLifetimeMs: config.pki.ocspLifetime,
      onRevoked: (rec) => events.emit({ type: 'cert.revoked', serial: rec.serial, issuerId: rec.issuerId }),
    });
    await pki.load();
    const tokens = new TokenService({
      issuer: config.issuer,
      apps,
      keys,
      revokedTokens: store,
      revocations,
      events,
      ephemeral,
      audit,
      clock,
      accessTokenTtlMs: config.tokens.accessTokenTtl,
      leewayMs: config.tokens.leeway,
      maxTokenLifetimeMs: config.tokens.maxTokenLifetime,
      cacheSize: config.gateway.tokenCacheSize,
      assertionIssuerAudienceOnly: config.tokens.clientAssertions.issuerAudienceOnly,
      verifyTlsClient: async (chain) => (await pki.verifyPeer(chain, { mapToApp: true })).clientId,
    });
    const metrics = new Registry();
    if (ephemeral instanceof MemoryEphemeralStore) {
      const memory = ephemeral;
      new Gauge({
        name: 'portcullis_ephemeral_once_bytes',
        help: 'Bytes the in-memory ephemeral store holds for consumeOnce markers (signature nonces, used codes): its fingerprint table.',
        registers: [metrics],
        collect() {
          this.set(memory.onceBytes());
        },
      });
    }
    if (store instanceof KyselyDurableStore && store.commitStats() !== undefined) {
      // SQLite group commit (store/durable/sqlite-driver.ts): statements ÷ commits is how many writes share an fsync
      const sqlite = store;
      countersReading(metrics, (field) => sqlite.commitStats()?.[field] ?? 0, [
        ['portcullis_sqlite_commits_total', 'Commits of grouped writes on this process’s SQLite connection (each one fsync).', 'groups'],
        ['portcullis_sqlite_committed_statements_total', 'Statements run in those commits (writes, and reads queued behind them).', 'statements'],
      ]);
    }
    if (store instanceof KyselyDurableStore && store.synchronousCommit() !== undefined) {
      // off: acknowledged writes do not survive a crash of the PostgreSQL server (logged at start)
      new Gauge({
        name: 'portcullis_postgres_synchronous_commit',
        help: 'synchronous_commit of this node’s PostgreSQL sessions as read at start (label setting; always 1). off: writes are acknowledged before they are flushed, and a server crash loses them.',
        labelNames: ['setting'],
        registers: [metrics],
      }).set({ setting: store.synchronousCommit()! }, 1);
    }
    // the audit trail must not stop silently: alert on unstorable events, failed writes and a growing backlog
    countersReading(metrics, (field) => audit.stats[field], [
      ['portcullis_audit_unstorable_events_total', 'Audit events the store refused on their own; each was stored as an audit.unstorable marker instead.', 'unstorable'],
      ['portcullis_audit_failed_writes_total', 'Audit writes that failed as a whole (store unreachable); their events were kept in order and retried.', 'failedWrites'],
      ['portcullis_audit_dropped_events_total', 'Audit events dropped because the in-memory queue was full.', 'dropped'],
    ]);
    new Gauge({
      name: 'portcullis_audit_pending_events',
      help: 'Audit events recorded on this process and not stored yet.',
      registers: [metrics],
      collect() {
        this.set(audit.pending);
      },
    });
    return { pki, config, dir, store, ephemeral, envelope, keys, encryptionKeys, appEncryptionKeys, transit, gcmUsage, apps, appSigningKeys, webhooks, tokens, revocations, events, audit, auditHeadKey, metrics, clock, logger };
  } catch (e) {
    await ephemeral?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw e;
  }
}

async function reconcileFrom(s: Services, afterRead?: () => void | Promise<void>): Promise<void> {
  const now = s.clock.now();
  // A gateway accepts a token until exp + leeway: its revocation is kept (and loaded) as long.
  const revokedSince = now - s.config.tokens.leeway;
  const read = s.revocations.readStarts();
  const [apps, revoked, users] = await Promise.all([s.apps.load(), s.store.listRevokedTokens(revokedSince), s.store.listUserTokenWatermarks()]);
  await afterRead?.();
  s.revocations.reconcile(
    {
      tokens: revoked.map((t) => ({ jti: t.jti, expiresAt: t.expiresAt })),
      apps: apps.map((a) => ({ clientId: a.clientId, tokensRevokedBefore: a.tokensRevokedBefore, disabled: a.status === 'disabled' })),
      users,
    },
    read,
  );
  s.revocations.purge(revokedSince);
  await s.keys.load();
  await s.encryptionKeys.load();
  await s.appSigningKeys.load();
  if (s.pki.ready) await s.pki.reconcile();
  await s.appEncryptionKeys.load();
}

/**
 * The event handler of a thread that serves no gateway (its gateway is on a thread of
 * its own, or elsewhere): an event it fails to apply makes it re-read the store; a
 * failed re-read is logged and the reconcile timer tries again.
 */
function afterRereading(apply: (e: ClusterEvent) => Promise<void>, reread: () => Promise<void>, logger: Logger) {
  return async (e: ClusterEvent): Promise<void> => {
    try {
      await apply(e);
    } catch (err) {
      logger.warn({ err, event: e.type }, 'could not apply a cluster event; re-reading the store');
      await reread().catch((cause: unknown) => logger.error({ err: cause, event: e.type }, 'could not re-read the store after a cluster event; the reconcile timer will'));
    }
  };
}

function applyEvent(s: Services) {
  return async (e: ClusterEvent): Promise<void> => {
    switch (e.type) {
      case 'token.revoked':
        s.revocations.apply({ type: 'token.revoked', jti: e.jti, expiresAt: e.expiresAt });
        break;
      case 'app.tokens-revoked':
        s.revocations.apply(e);
        break;
      case 'app.status': {
        // The status the store holds, not the event's: a disable and an enable made on two
        // nodes can arrive in either order, and the late one must not win (a numbered read:
        // one begun earlier never undoes it). An app no longer stored stays refused.
        const read = s.revocations.readStarts();
        const app = await s.store.getApp(e.clientId);
        s.revocations.statusRead(e.clientId, app?.status !== 'active', read);
        break;
      }
      case 'user.tokens-revoked':
        s.revocations.apply(e);
        break;
      case 'app.changed':
        await s.apps.refresh(e.clientId);
        break;
      case 'keys.changed':
        await s.keys.load();
        await s.encryptionKeys.load();
        break;
      case 'app-enc-keys.changed':
        await s.appEncryptionKeys.refresh(e.kid);
        break;
      case 'transit.changed':
        s.transit.invalidate(e.name);
        break;
      case 'cert.revoked':
        await s.pki.applyRevoked(e.serial, e.issuerId);
        break;
      case 'app-keys.changed':
        await s.appSigningKeys.refresh(e.keyid);
        break;
    }
  };
}

export async function startPortcullis(opts: StartOptions): Promise<Portcullis> {
  const loaded = loadConfig(opts.configFile, opts.env);
  const inThread = opts.gatewayThread !== undefined;
  const planes: Config['planes'] = inThread ? ['gateway'] : loaded.config.planes;
  const openOpts: OpenOptions = { ...opts, signIns: !inThread, auditThread: !inThread, ...(opts.gatewayThread?.ephemeral ? { ephemeral: opts.gatewayThread.ephemeral } : {}), ...(opts.gatewayThread?.eventsOf !== undefined ? { eventsOf: opts.gatewayThread.eventsOf } : {}) };
  // the admin plane manages users, so it needs the identity services too
  const s = planes.includes('identity') || planes.includes('admin') ? await openServices(loaded, openOpts) : withoutIdentity(await openCoreServices(loaded, openOpts));
  const { config, logger } = s;
  // before anything else this node does: a database set back from what the node saw is refused (audit/anchor.ts)
  if (!inThread) {
    try {
      s.auditAnchor = await AuditAnchor.open({ file: resolveIn(s.dir, config.audit.anchorFile), store: s.store, headKey: s.auditHeadKey, audit: s.audit, logger, now: () => s.clock.now(), accept: opts.acceptAuditRollback ?? false });
    } catch (e) {
      await s.ephemeral.close().catch(() => undefined);
      await s.store.close().catch(() => undefined);
      throw e;
    }
    s.auditAnchor.start(opts.auditAnchorIntervalMs);
  }
  if (!inThread && loaded.ignoredEnv.length > 0) logger.info({ variables: loaded.ignoredEnv }, 'PORTCULLIS_* variables that name no configuration key were left alone');
  // the gateway on a thread of its own (gateway/thread.ts); an injected clock cannot cross threads
  const threaded = !inThread && config.gateway.thread && planes.includes('gateway') && planes.length > 1 && opts.clock === undefined;
  let gatewayThread: GatewayThread | undefined;
  const timers: NodeJS.Timeout[] = [];
  /** `stop` drains the listener: fastify's own close for the fastify planes, `gracefulCloser` for the gateway. */
  const servers: Array<{ name: string; server: Server; stop: () => Promise<void>; closeExtra?: () => Promise<void> }> = [];
  const urls: Portcullis['urls'] = {};
  const faults = opts.gatewayThread?.faults;
  const reconcile = async (): Promise<void> => {
    await faults?.('reconcile');
    await reconcileFrom(s, faults && (() => faults('reconcile-read')));
  };
  const webhookWorker = new DeliveryWorker(sealedWebhookStore(s.store, s.envelope), new KeyRingWebhookSigner(s.keys, s.clock), s.clock, logger, {
    allowPrivateTargets: config.webhooks.allowPrivateTargets,
    allowInsecureHttp: config.webhooks.allowInsecureHttp,
    disableAfterAbandoned: config.webhooks.disableAfterAbandoned,
    audit: s.audit,
  });
  // events a subscriber will never get: alert on any increase (each is audited, webhook.delivery-abandoned)
  if (!inThread)
    countersReading(s.metrics, (field) => webhookWorker.stats[field], [
      ['portcullis_webhook_deliveries_abandoned_total', 'Webhook deliveries this node gave up after their last attempt (each audited as webhook.delivery-abandoned); the subscriber never got the event.', 'abandoned'],
      ['portcullis_webhook_subscriptions_disabled_total', 'Webhook subscriptions this node disabled after webhooks.disableAfterAbandoned abandoned deliveries in a row (each audited as webhook.subscription-disabled); no event is queued for them until enabled again.', 'disabled'],
    ]);
  // a gateway served by this thread keeps every event in force or refuses requests (gateway/in-force.ts)
  const localGate = !inThread && !threaded && planes.includes('gateway') ? new GatewayGate() : undefined;
  const apply = applyEvent(s);
  const inForce = localGate && keepInForce({ apply, reread: reconcile, gate: localGate, logger, audit: s.audit });
  try {
    // (the gateway thread's own handler fails as the event does: the main thread acts on it, gateway/thread.ts)
    const onThread = faults === undefined ? apply : (e: ClusterEvent) => (void faults('apply'), apply(e));
    s.events.on(inThread ? onThread : (inForce?.apply ?? afterRereading(apply, reconcile, logger)));
    await s.events.start();
    // the gateway thread re-reads through its own gate (thread-entry.ts)
    if (!inThread) s.events.resyncWhileMissing(inForce ? () => inForce.reread() : reconcile);
    // The CA exists from init; a store initialised before the CA existed gets one now.
    if (!inThread && !s.pki.ready && !(await s.pki.load())) {
      await s.pki.create(fileSignerKind(envelopeSecretBox(s.envelope)), { organization: config.pki.organization, ...(config.pki.permittedDns ? { permittedDns: config.pki.permittedDns } : {}) });
    }
    const serverTls = await openServerTls(config, (f) => resolveIn(s.dir, f), s.pki, s.clock, logger);
    if (!inThread) {
      // subscriptions stored before their URLs were sealed (a URL often carries the receiver's credential)
      const sealed = await sealStoredUrls(s.store, s.envelope);
      if (sealed > 0) logger.info({ webhooks: sealed }, 'sealed the stored URLs of webhook subscriptions');
      if (config.ephemeral !== 'memory') {
        // the sign-in limits are in Redis (identity/lockout.ts): rows kept while the node ran on
        // `ephemeral: memory` (user ids, addresses, digests of typed names) are never read again
        const left = await s.store.deleteAllLockoutStates();
        if (left > 0) logger.info({ rows: left }, 'deleted the sign-in limits kept in the durable store while this node ran on ephemeral: memory');
      }
      const signingChanged = await s.keys.maintain();
      if ((await s.encryptionKeys.maintain()) || signingChanged) await s.events.emit({ type: 'keys.changed' });
    }
    await reconcile();
    if (!inThread && config.pki.trustDomain === undefined) {
      // RFC 8705 tls_client_auth maps a certificate to an app through the trust domain: such apps cannot authenticate here
      const stranded = s.apps.list().filter((a) => a.tokenEndpointAuthMethod === 'tls_client_auth').map((a) => a.clientId);
      if (stranded.length > 0) logger.warn({ apps: stranded }, 'apps registered with tls_client_auth cannot authenticate on this node: pki.trustDomain is not set');
    }
    // process-wide figures once per process: the gateway thread's registry holds its own metrics only
    if (!inThread) collectDefaultMetrics({ register: s.metrics });

    const every = (ms: number, what: string, fn: () => Promise<unknown>) => {
      const t = setInterval(() => {
        fn().catch((err) => logger.warn({ err }, `${what} failed; will retry`));
      }, ms);
      t.unref();
      timers.push(t);
    };
    const reconciled = opts.gatewayThread?.reconciled;
    every(
      config.revocation.reconcileInterval,
      'reconcile',
      reconciled === undefined
        ? reconcile
        : () =>
            reconcile().then(
              () => reconciled(undefined),
              (err: unknown) => {
                // a store taken for down says why (a refused password is not a partition)
                reconciled(s.store.downReason() ?? err);
                throw err;
              },
            ),
    );
    if (!inThread) {
      every(config.keys.checkInterval, 'key rotation check', async () => {
        const signing = await s.keys.maintain();
        const encryption = await s.encryptionKeys.maintain();
        if (signing || encryption) await s.events.emit({ type: 'keys.changed' });
      });
      webhookWorker.start();
      const purgeEvery = opts.purgeIntervalMs ?? 3_600_000;
      every(purgeEvery, 'revocation purge', () => s.store.purgeRevokedTokens(s.clock.now() - config.tokens.leeway));
      every(purgeEvery, 'webhook delivery purge', () => s.store.purgeDeliveries(s.clock.now() - config.webhooks.deliveryRetention));
      // the sign-in limits' rows a node on `ephemeral: memory` keeps (identity/lockout.ts): every node
      // purges them, whatever its ephemeral store or planes, so a row that is over never outlives the hour
      every(purgeEvery, 'lockout purge', () => s.store.purgeLockoutStates(s.clock.now()));
    }
    if (serverTls) every(serverTls.checkIntervalMs, 'server certificate renewal', () => serverTls.check());

    const health = {
      ready: async () => {
        await s.store.ping();
        await s.ephemeral.ping();
        s.keys.signingKey();
        localGate?.check();
        gatewayThread?.check();
      },
    };

    if (planes.includes('identity')) {
      const fastify = buildIdentityPlane({ issuer: config.issuer, keys: s.keys, encryptionKeys: s.encryptionKeys, tokens: s.tokens, logger, health, pki: s.pki, pkiRenewal: { findApp: (id) => s.apps.find(id), audit: s.audit, clock: s.clock, minIntervalMs: config.pki.renewMinInterval }, trustedProxies: config.gateway.trustedProxies, ...(serverTls ? { https: serverTls.serverOptions() } : {}) });
      registerTransitPlane(fastify, s);
      const { mountOidc } = await import('./http/oidc-mount.js');
      mountOidc(fastify, s.identity.oidc, s.identity.signIn, {
        baseMetadata: discoveryDocument(config.issuer),
        logger,
        account: s.identity.account,
        invitePages: s.identity.invitePages,
        isOidcClient: (id) => s.apps.isSignInApp(id),
        audit: s.audit,
      });
      await fastify.ready();
      servers.push({ name: 'identity', server: fastify.server, stop: () => fastify.close() });
      if (serverTls) serverTls.attach(fastify.server as unknown as TlsServer);
      urls.identity = await listen(fastify.server, config.listen.identity, opts.ephemeralPorts ?? false);
    }
    if (threaded) {
      gatewayThread = await startGatewayThread({
        configFile: opts.configFile,
        env: opts.env ?? process.env,
        ephemeralPorts: opts.ephemeralPorts ?? false,
        ephemeral: config.ephemeral === 'memory' ? s.ephemeral : undefined,
        logger,
        audit: s.audit,
        events: s.events,
      });
      urls.gateway = gatewayThread.url;
      const thread = gatewayThread;
      // (an acknowledged change holds at the thread: it is the events' peer, gateway/thread.ts)
      // a flush (the admin API's, shutdown's) writes the thread's audit events too
      s.audit.addPeer(() => thread.flushAudit());
    } else if (planes.includes('gateway')) {
      const messageSteps = messagePolicySteps({ appSigningKeys: s.appSigningKeys, ephemeral: s.ephemeral, clock: s.clock, encryptionKeys: s.encryptionKeys, appEncryptionKeys: s.appEncryptionKeys, signingKeys: s.keys, keys: s.keys, gcmUsage: s.gcmUsage });
      const gw = createGateway({
        routes: config.routes,
        gateway: config.gateway,
        issuer: config.issuer,
        keys: s.keys,
        revocations: s.revocations,
        audit: s.audit,
        clock: s.clock,
        leewayMs: config.tokens.leeway,
        maxTokenLifetimeMs: config.tokens.maxTokenLifetime,
        logger,
        metrics: s.metrics,
        ...(opts.gatewayThread?.gate ? { gate: opts.gatewayThread.gate } : localGate ? { gate: localGate } : {}),
        connectionSteps: (route) => certificateSteps(route, { pki: s.pki, clock: s.clock, findApp: (id) => s.apps.find(id), resolve: (f) => resolveIn(s.dir, f), logger, audit: s.audit }),
        steps: (route) => messageSteps(route),
      });
      const server = serverTls
        ? createHttpsServer({ ...gatewayServerOptions(config.gateway), ...serverTls.serverOptions() }, gw.handle)
        : createServer(gatewayServerOptions(config.gateway), gw.handle);
      if (serverTls) serverTls.attach(server as unknown as TlsServer);
      attachGateway(server, gw);
      servers.push({ name: 'gateway', server, stop: gracefulCloser(server), closeExtra: () => gw.close() });
      const at = opts.gatewayThread?.listen;
      urls.gateway = await listen(server, at ?? config.listen.gateway, at === undefined && (opts.ephemeralPorts ?? false));
    }
    if (planes.includes('admin')) {
      const adminToken = new AdminTokenFile({
        path: resolveIn(s.dir, config.adminTokenFile),
        shown: config.adminTokenFile,
        audit: s.audit,
        clock: s.clock,
        logger,
        ...(opts.adminTokenCheckIntervalMs !== undefined ? { checkIntervalMs: opts.adminTokenCheckIntervalMs } : {}),
      });
      const thread = gatewayThread;
      const fastify = buildAdminPlane({ services: s, adminToken, health, ...(thread ? { moreMetrics: () => thread.metrics() } : {}) });
      await fastify.ready();
      servers.push({ name: 'admin', server: fastify.server, stop: () => fastify.close() });
      urls.admin = await listen(fastify.server, config.listen.admin, opts.ephemeralPorts ?? false, config.admin.allowInsecureHttp ? undefined : 'listen.admin');
      if (!isLoopbackAddress((fastify.server.address() as AddressInfo).address)) logger.warn({ listen: config.listen.admin }, 'admin plane listens beyond loopback in plain HTTP (admin.allowInsecureHttp): the admin token crosses the network in clear');
    }
    // (the main thread announces the gateway thread's listener with its own)
    if (!inThread) for (const [name, url] of Object.entries(urls)) logger.info({ plane: name, url }, `${name} plane listening on ${url}`);
  } catch (e) {
    inForce?.stop();
    for (const t of timers) clearInterval(t);
    await s.auditAnchor?.close(false);
    for (const { server } of servers) server.close();
    await gatewayThread?.close().catch(() => undefined);
    await webhookWorker.stop();
    await s.events.stop().catch(() => undefined);
    await s.ephemeral.close().catch(() => undefined);
    await s.store.close().catch(() => undefined);
    throw e;
  }

  let closing: Promise<void> | undefined;
  return {
    services: s,
    urls,
    ...(gatewayThread ? { gatewayThread } : {}),
    reconcile: async () => {
      await reconcile();
      await gatewayThread?.reconcile();
    },
    close: () =>
      (closing ??= (async () => {
        inForce?.stop();
        for (const t of timers) clearInterval(t);
        await Promise.all(
          servers.map(async ({ stop, closeExtra }) => {
            await stop();
            await closeExtra?.();
          }),
        );
        await gatewayThread?.close();
        await webhookWorker.stop();
        // a store that cannot take them now must not keep the node from stopping: say what is lost
        await s.audit.flush().catch((err: unknown) =>
          s.audit.pending === 0
            ? // everything held was written; only events dropped earlier (queue full) are missing, counted in the audit.dropped marker
              logger.error({ err }, 'audit events dropped earlier (the audit queue was full) are missing; every other event was written before stopping')
            : logger.error({ err, events: s.audit.pending }, 'audit events could not be written before stopping and are lost'),
        );
        // what this node saw last, for its next start
        await s.auditAnchor?.close();
        await s.webhooks.flush();
        await s.events.stop().catch(() => undefined);
        await s.ephemeral.close();
        await s.store.close();
        // (the main thread says it for the gateway thread too: it closes that thread first)
        if (!inThread) logger.info('stopped');
      })()),
  };
}

/** Counters whose value is read at scrape time from a running total (`read(field)`): [name, help, field]. */
function countersReading<F extends string>(metrics: Registry, read: (field: F) => number, counters: ReadonlyArray<readonly [string, string, F]>): void {
  for (const [name, help, field] of counters) {
    new Counter({
      name,
      help,
      registers: [metrics],
      collect() {
        this.reset();
        this.inc(read(field));
      },
    });
  }
}
