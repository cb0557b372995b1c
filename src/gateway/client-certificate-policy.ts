/**
 * Mutual TLS at the gateway: the `require.clientCertificate` policy step.
 *
 * The TLS handshake only asks for a certificate; this step decides. A chain must lead
 * to the Portcullis CA (or the route's `caBundle`), be valid now, carry EKU
 * clientAuth, not be revoked (the in-memory set fed by `cert.revoked` events, keyed by
 * issuer and serial; a `caBundle`'s CRLs, unless the route says `revocation: none`)
 * and, with `mapToApp` (the default for the Portcullis CA only), be bound to one active
 * app by `spiffe://<trustDomain>/app/<id>`.
 * The chain is verified once per TLS connection; the validity period of every
 * certificate of the path (leaf, intermediates, anchor) and revocation are checked on
 * every request. The upstream gets the verified identity in
 * `x-portcullis-client-cert-{app,serial,subject}`.
 *
 * RFC 9700 §4.13 (and RFC 8705 §7.2 for TLS-terminating proxies): client-certificate
 * headers sent by a client are forgeries; they never reach an upstream (the header scan,
 * headers.ts, drops them on every route).
 */
import { createHash, type X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AuditSink } from '../audit/sink.js';
import type { Clock } from '../core/clock.js';
import type { ClientCertificateRequirement, RouteConfig } from '../core/config/schema.js';
import { fsErrorText, PortcullisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { CertificateAuthority, VerifiedPeer, VerifyPeerOptions } from '../pki/authority.js';
import { fromPemAll } from '../pki/pem.js';
import type { ParsedCertificate } from '../pki/parse.js';
import { validitySecond, type RevocationLookup, type RevocationStatus } from '../pki/verify-chain.js';
import { crlFilesRevocationLookup } from './partner-revocation.js';
import type { PolicyStep, RequestContext } from './context.js';

export interface PeerCertificate {
  /** DER of the peer's certificate, or null when none was presented or the socket is not TLS. */
  readonly leaf: Uint8Array | null;
  /**
   * DER of every certificate the peer sent, its own first; empty when none. Read on first
   * use: Node copies each certificate of the chain to hand it over.
   */
  readonly chain: readonly Uint8Array[];
  /** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER peer certificate, or null. */
  readonly thumbprint: string | null;
  /** Verification results of this connection, by trust-anchor set. */
  readonly verified: Map<string, VerifiedPeer | PortcullisError>;
}

const peers = new WeakMap<object, PeerCertificate>();
const NONE: readonly Uint8Array[] = [];

/** Every certificate the peer sent, its own first (Node's X509Certificate objects; each issuer is a copy). */
function sentChain(tls: Partial<TLSSocket>): Uint8Array[] {
  const chain: Uint8Array[] = [];
  if (typeof tls.getPeerX509Certificate !== 'function' || tls.encrypted !== true) return chain;
  let c: X509Certificate | undefined = tls.getPeerX509Certificate();
  while (c !== undefined && chain.length < 10) {
    const raw = new Uint8Array(c.raw);
    // a self-issued certificate may name itself as its issuer
    if (chain.length > 0 && Buffer.compare(raw, chain[chain.length - 1]!) === 0) break;
    chain.push(raw);
    c = c.issuerCertificate;
  }
  return chain;
}

/**
 * The client certificate of a connection, read once per socket. The peer's own
 * certificate comes from the short `getPeerCertificate()` form (~0.1 ms);
 * `getPeerX509Certificate()` copies every further certificate the peer sent (~0.4–0.7 ms
 * a connection with one intermediate), so the whole chain is read only when asked for: the
 * verifier needs it only for a path that does not run through the Portcullis
 * intermediate, which it adds itself. The detailed `getPeerCertificate(true)` form decodes
 * every field of every certificate and completes the chain from the server's CA list.
 * @example const { thumbprint } = peerCertificate(req.socket)
 */
export function peerCertificate(socket: Socket): PeerCertificate {
  let p = peers.get(socket);
  if (p !== undefined) return p;
  const tls = socket as Partial<TLSSocket>;
  let leaf: Uint8Array | null = null;
  if (typeof tls.getPeerCertificate === 'function' && tls.encrypted === true) {
    const raw = (tls.getPeerCertificate(false) as { raw?: Buffer } | null)?.raw;
    if (raw !== undefined && raw.length > 0) leaf = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  }
  const thumbprint = leaf !== null ? createHash('sha256').update(leaf).digest('base64url') : null;
  let chain: readonly Uint8Array[] | undefined = leaf === null ? NONE : undefined;
  p = {
    leaf,
    get chain(): readonly Uint8Array[] {
      if (chain === undefined) {
        const sent = sentChain(tls);
        // the chain must start with the certificate the leaf was read as
        chain = sent.length > 0 && Buffer.compare(sent[0]!, leaf!) === 0 ? sent : [leaf!];
      }
      return chain;
    },
    thumbprint,
    verified: new Map(),
  };
  peers.set(socket, p);
  return p;
}

/** Header values may not carry control characters; subjects are free text. */
function headerSafe(v: string): string {
  return v.replace(/[^\x20-\x7E]/g, '?');
}

function statusAllows(s: RevocationStatus): void {
  if (s === 'revoked') throw new PortcullisError('cert.revoked', 'a certificate in the chain has been revoked');
  if (s !== 'good') throw new PortcullisError('cert.revocation-unknown', 'the revocation status of a certificate in the chain is unknown');
}

/** Every certificate of a verified path below its anchor passes `lookup` now; synchronous unless the lookup is not. */
function pathStatusAllows(lookup: RevocationLookup, path: readonly ParsedCertificate[], from = 0): void | Promise<void> {
  for (let i = from; i + 1 < path.length; i++) {
    const s = lookup(path[i]!, path[i + 1]!);
    if (s instanceof Promise) return s.then((r) => (statusAllows(r), pathStatusAllows(lookup, path, i + 1)));
    statusAllows(s);
  }
  return undefined;
}

export interface ClientCertificateDeps {
  pki: CertificateAuthority;
  clock: Clock;
  /** The app a certificate names: undefined when unknown; `active` false when disabled. */
  findApp(clientId: string): { status: 'active' | 'disabled' } | undefined;
  /** Trust anchors (DER) of a route's caBundle, loaded once at compile time. */
  anchors?: ReadonlyArray<Uint8Array>;
  /** A stable name of the anchor set (the bundle path), for the per-connection cache. */
  anchorsKey?: string;
  /** Revocation status of the caBundle's certificates (its CRLs); absent: unknown, refused. */
  revocation?: RevocationLookup;
}

/**
 * The policy step of a route with `require.clientCertificate`.
 * @example steps.push(clientCertificateStep(route.require.clientCertificate, { pki, clock, findApp: (id) => apps.find(id) }))
 */
export function clientCertificateStep(req: ClientCertificateRequirement, d: ClientCertificateDeps): PolicyStep {
  // A partner CA (caBundle) names Portcullis apps only when the route says so explicitly.
  const mapToApp = req.mapToApp ?? d.anchors === undefined;
  const key = `${d.anchorsKey ?? 'portcullis'}|${mapToApp ? 'app' : 'any'}`;
  const verifyOptions: VerifyPeerOptions = { mapToApp, ...(d.anchors ? { anchors: d.anchors } : {}), ...(d.revocation ? { revocation: d.revocation } : {}) };

  // With a caBundle, the route's revocation sources (its CRL files, re-read when they
  // change) are asked on every request too, as the in-memory revoked set is.
  const bundleRevocation = d.anchors === undefined ? undefined : d.pki.peerRevocation(verifyOptions);

  function admit(ctx: RequestContext, v: VerifiedPeer): void | Promise<void> {
    // Checked per request: a connection can outlive its certificate or its revocation.
    // The whole path, not only the leaf: a partner intermediate can expire before the
    // certificates it issued (dates cached at verification, no crypto here).
    const second = validitySecond(d.clock.now());
    if (second > v.notAfter) throw new PortcullisError('cert.expired', 'the client certificate has expired');
    if (second > v.pathNotAfter) throw new PortcullisError('cert.expired', 'a certificate in the client certificate chain has expired');
    if (second < v.pathNotBefore) throw new PortcullisError('cert.not-yet-valid', 'a certificate in the client certificate chain is not valid yet');
    if (d.pki.isRevoked(v.leaf, v.issuer)) throw new PortcullisError('cert.revoked', 'the client certificate has been revoked');
    const pending = bundleRevocation === undefined ? undefined : pathStatusAllows(bundleRevocation, v.path);
    if (pending !== undefined) return pending.then(() => pass(ctx, v));
    pass(ctx, v);
    return undefined;
  }

  function pass(ctx: RequestContext, v: VerifiedPeer): void {
    if (v.clientId !== null) {
      const app = d.findApp(v.clientId);
      if (app === undefined || app.status !== 'active') throw new PortcullisError('cert.app-not-allowed', 'the client certificate is bound to an unknown or disabled app');
    }
    ctx.headers.forward.push('x-portcullis-client-cert-app', v.clientId ?? '', 'x-portcullis-client-cert-serial', v.serial, 'x-portcullis-client-cert-subject', headerSafe(v.subject));
  }

  return (ctx) => {
    const peer = peerCertificate(ctx.req.socket);
    const known = peer.verified.get(key);
    if (known !== undefined) {
      if (known instanceof PortcullisError) throw known;
      return admit(ctx, known);
    }
    if (peer.leaf === null) throw new PortcullisError('cert.missing', 'this route requires a client certificate (mutual TLS)');
    // The peer's certificate alone first, with the Portcullis intermediate the verifier adds.
    // When that finds no valid path and the peer sent more, the whole chain it sent decides,
    // as it always did (another CA's intermediates, or a previous Portcullis intermediate).
    return d.pki
      .verifyPeer([peer.leaf], verifyOptions)
      .catch((e: unknown) => {
        if (!(e instanceof PortcullisError && e.code.startsWith('cert.')) || peer.chain.length < 2) throw e;
        return d.pki.verifyPeer(peer.chain, verifyOptions);
      })
      .then(
        (v) => {
          peer.verified.set(key, v);
          return admit(ctx, v);
        },
        (e: unknown) => {
          // Path failures are facts about the certificate: remember them for the connection.
          if (e instanceof PortcullisError && e.code.startsWith('cert.') && e.code !== 'cert.revocation-unknown') peer.verified.set(key, e);
          throw e;
        },
      );
  };
}

export interface CertificateStepsDeps extends Omit<ClientCertificateDeps, 'anchors' | 'anchorsKey'> {
  /** Resolves a config-relative file name (a route's caBundle). */
  resolve(file: string): string;
  /** Where a CRL file the route cannot use is reported (which file and why), so the refusals it causes are explained. */
  logger?: Logger;
  /** Where a partner CRL gone stale is recorded (`cert.partner-crl-stale`, once per CRL). */
  audit?: AuditSink;
}

/**
 * The certificate-related steps of a route: mutual TLS (`require.clientCertificate`).
 * The RFC 8705 binding of tokens is checked by the token verifier itself (token-policy.ts
 * `check`); forged client-certificate headers are dropped on every route by the header
 * scan (headers.ts).
 * @example createGateway({ ..., steps: (route) => certificateSteps(route, { pki, clock, findApp, resolve, logger }) })
 */
export function certificateSteps(route: RouteConfig, d: CertificateStepsDeps): PolicyStep[] {
  const steps: PolicyStep[] = [];
  const cc = route.require.clientCertificate;
  if (cc !== undefined) {
    const { logger, resolve, audit, ...deps } = d;
    const onStale =
      audit === undefined
        ? undefined
        : (file: string, nextUpdate: number): void =>
            audit.record({ time: d.clock.now(), type: 'cert.partner-crl-stale', actor: 'system', clientId: null, route: route.name, reason: 'cert.revocation-unknown', data: { file, nextUpdate } });
    const { anchors, revocation } = clientCertificateFiles(route.name, cc, resolve, () => d.clock.now(), logger, onStale);
    steps.push(clientCertificateStep(cc, { ...deps, ...(anchors ? { anchors, anchorsKey: `bundle:${cc.caBundle}` } : {}), ...(revocation ? { revocation } : {}) }));
  }
  return steps;
}

/**
 * What a route's `require.clientCertificate` reads from files: the anchors of its
 * `caBundle` and the lookup over its `crls`. Each error names the route, the setting and
 * the file (unreadable: `config.not-found`; no certificate or no CRL in it:
 * `config.invalid`), so start and `config check` refuse the same files alike. A CRL file
 * that cannot be used (no nextUpdate, unreadable later, …) is reported to `logger`; a CRL
 * gone stale to `logger` and `onStale`, once per CRL.
 *
 * @example const { anchors, revocation } = clientCertificateFiles(route.name, cc, (f) => resolveIn(dir, f), () => clock.now(), logger);
 */
export function clientCertificateFiles(
  routeName: string,
  cc: ClientCertificateRequirement,
  resolve: (file: string) => string,
  now: () => number,
  logger?: Logger,
  onStale?: (file: string, nextUpdate: number) => void,
): { anchors?: Uint8Array[]; revocation?: RevocationLookup } {
  let anchors: Uint8Array[] | undefined;
  if (cc.caBundle !== undefined) {
    const where = `routes ${routeName}: require.clientCertificate.caBundle`;
    let text: string;
    try {
      text = readFileSync(resolve(cc.caBundle), 'utf8');
    } catch (cause) {
      throw new PortcullisError('config.not-found', `${where}: file ${cc.caBundle} cannot be read: ${fsErrorText(cause)}`, { cause });
    }
    anchors = fromPemAll(text, 'CERTIFICATE');
    if (anchors.length === 0) throw new PortcullisError('config.invalid', `${where}: ${cc.caBundle} holds no CERTIFICATE`);
  }
  let revocation: RevocationLookup | undefined;
  if (cc.revocation === 'none') revocation = () => 'good';
  else if (cc.crls !== undefined) {
    revocation = crlFilesRevocationLookup(
      cc.crls.map((name) => ({ name, path: resolve(name) })),
      cc.revocation,
      now,
      logger,
      `routes ${routeName}: require.clientCertificate.crls`,
      onStale,
    );
  }
  return { ...(anchors ? { anchors } : {}), ...(revocation ? { revocation } : {}) };
}
