/**
 * The certificate authority as the running product uses it: the active issuing CA
 * loaded once, issuance with the configured lifetimes, renewal, revocation with its
 * fan-out hook, the CRL publisher and OCSP responder of every intermediate, and the
 * in-memory revoked set the client-certificate verifier checks in O(1) (filled from
 * the store at reconcile and by `cert.revoked` events).
 *
 * RFC 5280 §4.1.2.2: a serial is unique only per issuer, so the revoked set is keyed
 * by issuer and serial, the issuer named by its public key as OCSP's CertID names it
 * (RFC 6960 §4.1.1 issuerKeyHash): a partner CA's certificate that shares a serial with
 * a revoked Portcullis certificate is not that certificate.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import { CrlPublisher, type Crl } from './crl.js';
import { createHierarchy, loadSigner, type Hierarchy } from './hierarchy.js';
import { issueCertificate, type IssueContext, type IssueRequest, type IssuedCertificate } from './issue.js';
import { openIssuingCa, signingView, type IssuingCa } from './issuing-ca.js';
import { OcspResponder, ocspError, OCSP_STATUS, parseOcspRequest } from './ocsp.js';
import { toPem } from './pem.js';
import { DEFAULT_PROFILES, type Profile, type ProfileName } from './profiles.js';
import { renewCertificate, type RenewedCertificate, type RenewRequest } from './renew.js';
import { revokeCertificate } from './revoke.js';
import type { SignerKind, SignerRegistry } from './signer.js';
import type { CaRecord, CertificateRecord, CertificateStore, LeafRevocationReason } from './store.js';
import { verifyCertificateChain, type RevocationLookup } from './verify-chain.js';
import { EKU } from './certificate.js';
import { clientIdFromSpiffe } from './profiles.js';
import { nameToString } from './extensions.js';
import { equalBytes, parseCertificate, type ParsedCertificate } from './parse.js';

export interface AuthorityOptions {
  store: CertificateStore;
  signers: SignerRegistry;
  clock: Clock;
  /** Base URL of the identity plane (CRL, OCSP and CA-issuer URLs). */
  urlBase: string;
  trustDomain?: string;
  serverLifetimeMs: number;
  clientLifetimeMs: number;
  crlLifetimeMs: number;
  ocspLifetimeMs: number;
  /** Called after a revocation was stored (publishes the cluster event). */
  onRevoked?: (rec: CertificateRecord) => void | Promise<void>;
}

export interface VerifiedPeer {
  /** The app the certificate is bound to (`mapToApp`), else null. */
  clientId: string | null;
  serial: string;
  /** One-line subject, e.g. `CN=billing`. */
  subject: string;
  notAfter: number;
  /** The latest notBefore of the verified path (ms): before it some certificate of the path is not valid yet. */
  pathNotBefore: number;
  /** The earliest notAfter of the verified path (ms): after it some certificate of the path (leaf, intermediate or anchor) has expired. */
  pathNotAfter: number;
  leaf: ParsedCertificate;
  /** The certificate that issued the leaf on the verified path (the leaf itself when it is an anchor). */
  issuer: ParsedCertificate;
  /** The verified path, leaf first, anchor last. */
  path: ParsedCertificate[];
}

export interface VerifyPeerOptions {
  /** Trust anchors (DER) instead of the Portcullis root (a route's caBundle). */
  anchors?: ReadonlyArray<Uint8Array>;
  /** Require the `spiffe://<trustDomain>/app/<client_id>` URI SAN. */
  mapToApp: boolean;
  /**
   * With `anchors`: the status of certificates no Portcullis CA issued (the route's
   * CRLs). Absent, their status is `unknown` and the chain is refused (fail closed).
   */
  revocation?: RevocationLookup;
}

const UNKNOWN: RevocationLookup = () => 'unknown';

const issuerKeys = new WeakMap<ParsedCertificate, string>();

/** SHA-256 of an issuer's subjectPublicKey bits, hex: the issuer half of a revoked-set key. */
function issuerKeyOf(issuer: ParsedCertificate): string {
  let k = issuerKeys.get(issuer);
  if (k === undefined) {
    k = createHash('sha256').update(issuer.publicKeyBits).digest('hex');
    issuerKeys.set(issuer, k);
  }
  return k;
}

const revokedKey = (issuerKey: string, serial: string): string => `${issuerKey}:${serial}`;

function profilesFor(o: AuthorityOptions): Record<ProfileName, Profile> {
  const p = (base: Profile, ms: number): Profile => ({ ...base, defaultLifetimeMs: ms, maxLifetimeMs: Math.max(base.maxLifetimeMs, ms) });
  return { server: p(DEFAULT_PROFILES.server, o.serverLifetimeMs), client: p(DEFAULT_PROFILES.client, o.clientLifetimeMs) };
}

export class CertificateAuthority {
  private ca: IssuingCa | undefined;
  private readonly crls = new Map<string, CrlPublisher>();
  /** OCSP responders by intermediate id: the active one and every previous one still valid. */
  private readonly ocsp = new Map<string, OcspResponder>();
  /** Revoked certificates by issuer key and serial (`revokedKey`). */
  private readonly revoked = new Set<string>();
  /** The issuer key of every Portcullis CA, by CA id. */
  private readonly caKeys = new Map<string, string>();
  /** DER of every Portcullis CA certificate (roots and intermediates, current and previous). */
  private caCerts: Uint8Array[] = [];
  private readonly profiles: Record<ProfileName, Profile>;
  /** The in-memory status lookup of the verifier: no store access on the request path. */
  readonly revocationLookup: RevocationLookup = (cert, issuer) => (this.isRevoked(cert, issuer) ? 'revoked' : 'good');
  onRevoked: AuthorityOptions['onRevoked'];

  constructor(private readonly o: AuthorityOptions) {
    this.profiles = profilesFor(o);
    this.onRevoked = o.onRevoked;
  }

  get trustDomain(): string | undefined {
    return this.o.trustDomain;
  }

  /** Whether an issuing CA is loaded. */
  get ready(): boolean {
    return this.ca !== undefined;
  }

  /**
   * Loads the active issuing CA; false when none exists yet.
   * @example if (!(await pki.load())) await pki.create(fileSignerKind(box), { organization: 'Example' });
   */
  async load(): Promise<boolean> {
    const cas = await this.o.store.listCas();
    if (!cas.some((c) => c.role === 'intermediate' && c.active) || !cas.some((c) => c.role === 'root' && c.active)) return false;
    const ca = await openIssuingCa(this.o.store, this.o.signers, this.o.urlBase);
    this.ca = ca;
    const view = signingView(ca);
    if (!this.crls.has(ca.record.id)) this.crls.set(ca.record.id, new CrlPublisher(this.o.store, this.o.clock, view, this.o.crlLifetimeMs));
    this.ocsp.set(ca.record.id, new OcspResponder(this.o.store, this.o.clock, view, { validityMs: this.o.ocspLifetimeMs }));
    // Previous intermediates: their certificates stay valid until they expire, which the
    // intermediate's own notAfter bounds, so their CRL and OCSP stay served until then.
    const now = this.o.clock.now();
    for (const prev of cas.filter((c) => c.role === 'intermediate' && c.id !== ca.record.id && c.keyRef !== null && !this.ocsp.has(c.id))) {
      const cert = parseCertificate(prev.certDer);
      if (cert.notAfter <= now) continue;
      let signer;
      try {
        signer = await loadSigner(prev, this.o.signers);
      } catch {
        continue;
      }
      const prevView = { id: prev.id, subject: cert.subject, spki: cert.spki, publicKeyBits: cert.publicKeyBits, certDer: cert.der, signer };
      if (!this.crls.has(prev.id)) this.crls.set(prev.id, new CrlPublisher(this.o.store, this.o.clock, prevView, this.o.crlLifetimeMs));
      this.ocsp.set(prev.id, new OcspResponder(this.o.store, this.o.clock, prevView, { validityMs: this.o.ocspLifetimeMs }));
    }
    // The intermediate's CRL distribution point names its root's CRL: served while the root key is online.
    for (const root of cas.filter((c) => c.role === 'root' && c.keyRef !== null && !this.crls.has(c.id))) {
      const cert = parseCertificate(root.certDer);
      let signer;
      try {
        signer = await loadSigner(root, this.o.signers);
      } catch {
        continue; // a root whose key cannot be loaded publishes no CRL; issuance does not need it
      }
      this.crls.set(root.id, new CrlPublisher(this.o.store, this.o.clock, { id: root.id, subject: cert.subject, spki: cert.spki, signer }, this.o.crlLifetimeMs));
    }
    await this.reconcile();
    return true;
  }

  /** Creates the root and the issuing intermediate (init), then loads them. */
  async create(kind: SignerKind, o: { organization?: string; permittedDns?: string[]; rootKeyOffline?: boolean; saveRootKey?: (pem: string) => Promise<void> | void } = {}): Promise<Hierarchy> {
    const h = await createHierarchy({
      store: this.o.store,
      signerKind: kind,
      clock: this.o.clock,
      urlBase: this.o.urlBase,
      ...(o.organization ? { organization: o.organization } : {}),
      ...(this.o.trustDomain ? { trustDomain: this.o.trustDomain, permittedDns: o.permittedDns ?? [this.o.trustDomain, 'localhost'] } : {}),
      ...(o.rootKeyOffline ? { rootKeyOffline: true } : {}),
      ...(o.saveRootKey ? { saveRootKey: o.saveRootKey } : {}),
    });
    await this.load();
    return h;
  }

  /** The loaded issuing CA (throws `pki.ca-not-found` before init). */
  issuing(): IssuingCa {
    if (!this.ca) throw new PortcullisError('pki.ca-not-found', 'no issuing CA is loaded; run portcullis init or portcullis ca import');
    return this.ca;
  }

  issueContext(): IssueContext {
    return { store: this.o.store, clock: this.o.clock, ca: this.issuing(), profiles: this.profiles, ...(this.o.trustDomain ? { trustDomain: this.o.trustDomain } : {}) };
  }

  rootPem(): string {
    return toPem(this.issuing().root.der, 'CERTIFICATE');
  }

  /** A CA certificate record by id (root or intermediate), for `/pki/ca/<id>.crt`. */
  async caCertificate(id: string): Promise<CaRecord | undefined> {
    return this.o.store.getCa(id);
  }

  /** @example const c = await pki.issue({ profile: 'client', clientId: 'billing' }); */
  issue(req: IssueRequest): Promise<IssuedCertificate> {
    return issueCertificate(this.issueContext(), req);
  }

  /**
   * Renewal authenticated by the current certificate (DER, proven by the TLS handshake or
   * taken from the inventory by an admin). The certificate renewed is revoked `superseded`
   * before the new one is returned: a stolen key does not keep a working credential next
   * to the holder's new one. Fail closed: when that revocation cannot be stored, or a
   * concurrent renewal of the same certificate stored it first (`pki.already-renewed`),
   * the new certificate is revoked and never handed out, and the old one stays as it was.
   * A revocation stored but not confirmed on every node (`onRevoked` threw) is in force
   * at the next reconcile; the renewal stands (`supersedeUnconfirmed`), since undoing it
   * would leave the holder with neither certificate.
   * @example const next = await pki.renew({ current: peerDer, csrPem });
   */
  async renew(req: RenewRequest): Promise<RenewedCertificate & { supersedeUnconfirmed?: unknown }> {
    const next = await renewCertificate(this.issueContext(), req);
    if (next.replayed) return next;
    const unconfirmed: { error?: unknown } = {};
    try {
      await this.revokeOne(next.previous, 'superseded', unconfirmed);
    } catch (e) {
      // the new certificate goes nowhere: revoked, so no copy of it (a CSR holder's key) is a credential
      await this.revokeOne(next.serial, 'superseded', {}).catch(() => undefined);
      const old = await this.o.store.getCertificate(next.previous).catch(() => undefined);
      if (e instanceof PortcullisError && e.code === 'conflict' && old?.status === 'revoked') {
        if (old.reason === 'superseded') {
          const won = (await this.o.store.listCertificates({ renewedFrom: next.previous })).find((c) => c.status === 'active');
          throw new PortcullisError('pki.already-renewed', 'the presented certificate was renewed by a concurrent request; a certificate renews once', { details: { successor: won?.serial ?? null } });
        }
        throw new PortcullisError('pki.renewal-denied', 'the presented certificate was revoked during the renewal');
      }
      throw e;
    }
    return 'error' in unconfirmed ? { ...next, supersedeUnconfirmed: unconfirmed.error } : next;
  }

  /**
   * Revokes, regenerates the CRL, drops cached OCSP answers, then tells every node. A
   * revocation for keyCompromise also revokes (for keyCompromise) every certificate
   * renewed from this one, at any depth: whoever held the key could have renewed it, so
   * its renewals are as compromised as it is. `descendants` lists the serials revoked so.
   * A keyCompromise of a certificate already revoked (superseded by its renewal) revokes
   * its active descendants and keeps its own record and reason (`alreadyRevoked`); with
   * none left to revoke it is a `conflict`, as any second revocation.
   * `unconfirmed` is set when telling the nodes failed for one of them (`onRevoked`
   * threw, e.g. `change.not-in-force`): every revocation is stored all the same, and the
   * caller must not answer as if it were in force everywhere.
   * @example const { descendants } = await pki.revoke(serial, 'keyCompromise');
   */
  async revoke(serial: string, reason: LeafRevocationReason = 'unspecified'): Promise<CertificateRecord & { descendants: string[]; unconfirmed?: unknown; alreadyRevoked?: true }> {
    // every revocation of the lineage is stored before a failure to confirm one is reported
    const unconfirmed: { error?: unknown } = {};
    let rec: CertificateRecord;
    let already: PortcullisError | undefined;
    try {
      rec = await this.revokeOne(serial, reason, unconfirmed);
    } catch (e) {
      // already revoked (e.g. superseded by its renewal): its key may still have renewed it, so a
      // keyCompromise revokes its lineage all the same; conflict only when nothing was left to revoke
      const existing = reason === 'keyCompromise' && e instanceof PortcullisError && e.code === 'conflict' ? await this.o.store.getCertificate(serial.toLowerCase()) : undefined;
      if (existing === undefined) throw e;
      rec = existing;
      already = e as PortcullisError;
    }
    const descendants: string[] = [];
    if (reason === 'keyCompromise') {
      const queue = [rec.serial];
      const seen = new Set(queue);
      for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
        for (const child of await this.o.store.listCertificates({ renewedFrom: s })) {
          if (seen.has(child.serial)) continue;
          seen.add(child.serial);
          queue.push(child.serial);
          // an already revoked renewal still passes its lineage on
          if (child.status === 'active' && child.notAfter >= this.o.clock.now()) {
            try {
              await this.revokeOne(child.serial, 'keyCompromise', unconfirmed);
              descendants.push(child.serial);
            } catch (e) {
              if (!(e instanceof PortcullisError && e.code === 'conflict')) throw e;
            }
          }
        }
      }
    }
    if (already !== undefined && descendants.length === 0) throw already;
    return { ...rec, descendants, ...('error' in unconfirmed ? { unconfirmed: unconfirmed.error } : {}), ...(already !== undefined ? { alreadyRevoked: true as const } : {}) };
  }

  /** Revokes one certificate; a failure of `onRevoked` (the event) is kept in `unconfirmed`, not thrown. */
  private revokeOne(serial: string, reason: LeafRevocationReason, unconfirmed: { error?: unknown }): Promise<CertificateRecord> {
    return revokeCertificate(
      {
        store: this.o.store,
        clock: this.o.clock,
        crls: this.crls,
        ocsp: [...this.ocsp.values()],
        onRevoked: async (rec) => {
          await this.markRevoked(rec.serial, rec.issuerId);
          try {
            await this.onRevoked?.(rec);
          } catch (error) {
            if (!('error' in unconfirmed)) unconfirmed.error = error;
          }
        },
      },
      serial,
      reason,
    );
  }

  /** Applies a revocation another node made (the `cert.revoked` event): at once for the verifier, then CRL and OCSP. */
  async applyRevoked(serial: string, issuerId: string): Promise<void> {
    await this.markRevoked(serial, issuerId);
    for (const r of this.ocsp.values()) r.invalidate(serial);
    await this.crls.get(issuerId)?.regenerate();
  }

  /** Adds a revocation to the in-memory set; a CA this node does not know yet is read from the store with its revocations. */
  private async markRevoked(serial: string, issuerId: string): Promise<void> {
    const key = this.caKeys.get(issuerId);
    if (key !== undefined) this.revoked.add(revokedKey(key, serial));
    else await this.reconcile();
  }

  /**
   * Whether a Portcullis CA revoked `cert`, which `issuer` signed (O(1), no store access).
   * @example if (pki.isRevoked(peer.leaf, peer.issuer)) throw new PortcullisError('cert.revoked', '…');
   */
  isRevoked(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
    return this.revoked.has(revokedKey(issuerKeyOf(issuer), cert.serial));
  }

  /**
   * Re-reads the CAs and every intermediate's revoked serials from the store (start and
   * the reconcile timer). A revocation this node learns of here (its `cert.revoked` event
   * was lost) is put in force as the event would have: the verifier's set, the cached
   * OCSP answers for the serial, and the CRL of its issuer.
   */
  async reconcile(): Promise<void> {
    const all = await this.o.store.listCas();
    for (const c of all) if (!this.caKeys.has(c.id)) this.caKeys.set(c.id, issuerKeyOf(parseCertificate(c.certDer)));
    this.caCerts = all.map((c) => c.certDer);
    const cas = all.filter((c) => c.role === 'intermediate');
    const lists = await Promise.all(cas.map((c) => this.o.store.listRevoked(c.id)));
    const missed = new Set<string>();
    cas.forEach((c, i) => {
      const key = this.caKeys.get(c.id)!;
      for (const r of lists[i]!) {
        const k = revokedKey(key, r.serial);
        if (this.revoked.has(k)) continue;
        this.revoked.add(k);
        for (const o of this.ocsp.values()) o.invalidate(r.serial);
        missed.add(c.id);
      }
    });
    for (const id of missed) {
      const crl = this.crls.get(id);
      // a failed build keeps no CRL in hand: the next one served is built afresh
      if (crl?.built) await crl.regenerate().catch(() => undefined);
    }
  }

  /** The current CRL of an intermediate (by CA id); undefined for an unknown id. */
  async crl(caId: string): Promise<Crl | undefined> {
    return this.crls.get(caId)?.get();
  }

  /** Answers a DER OCSPRequest (never throws). */
  async ocspRespond(der: Uint8Array): Promise<Uint8Array> {
    const active = this.ca ? this.ocsp.get(this.ca.record.id) : undefined;
    if (!active) return ocspError(OCSP_STATUS.internalError);
    if (this.ocsp.size > 1) {
      // routed by the issuer hashes of the first CertID (RFC 6960 §4.1.1); a CertID of another issuer
      // makes it unauthorized there: §4.2.2 "The response MUST include a SingleResponse for each
      // certificate in the request", under one signature, which §2.2 says "MUST belong to ... the CA
      // who issued the certificate in question". An intermediate re-certified with the same subject and
      // key matches both records' responders: the first answers for the certificates of both (ocsp.ts)
      let first;
      try {
        first = parseOcspRequest(der).certIds[0];
      } catch {
        first = undefined;
      }
      if (first !== undefined) for (const r of this.ocsp.values()) if (r.answersFor(first)) return r.respond(der);
    }
    return active.respond(der);
  }

  /**
   * The revocation status source of a peer's path under `o`: the in-memory revoked set
   * for certificates a Portcullis CA issued, else (below a route's `anchors`) `o.revocation`,
   * `unknown` without one.
   */
  peerRevocation(o: VerifyPeerOptions): RevocationLookup {
    if (o.anchors === undefined) return this.revocationLookup;
    const other = o.revocation ?? UNKNOWN;
    return (cert, issuer) => (this.isOwnCa(issuer) ? this.revocationLookup(cert, issuer) : other(cert, issuer));
  }

  /** Whether a certificate is one of the Portcullis CA certificates. */
  private isOwnCa(cert: ParsedCertificate): boolean {
    return this.caCerts.some((d) => equalBytes(d, cert.der));
  }

  /**
   * Verifies a client certificate chain (peer first) presented in a TLS handshake:
   * a path to the anchors, valid now, EKU clientAuth, not revoked, and bound to an app
   * when `mapToApp`. Certificates a Portcullis CA issued are checked against the
   * in-memory revoked set; any other (below a route's `anchors`) with `o.revocation`,
   * else refused as `cert.revocation-unknown`. Throws `cert.*`.
   * @example const peer = await pki.verifyPeer([leafDer], { mapToApp: true });
   */
  async verifyPeer(chain: ReadonlyArray<Uint8Array>, o: VerifyPeerOptions): Promise<VerifiedPeer> {
    if (chain.length === 0) throw new PortcullisError('cert.missing', 'no client certificate was presented');
    const ca = this.issuing();
    const v = await verifyCertificateChain(chain[0]!, {
      anchors: o.anchors ?? [ca.root.der],
      intermediates: [...chain.slice(1), ca.cert.der],
      at: this.o.clock.now(),
      eku: EKU.clientAuth,
      revocation: this.peerRevocation(o),
    });
    let clientId: string | null = null;
    if (o.mapToApp) {
      const td = this.o.trustDomain;
      const ids = td ? v.sans.flatMap((n) => (n.type === 'uri' ? [clientIdFromSpiffe(n.value, td)] : [])).filter((x): x is string => x !== null) : [];
      if (ids.length !== 1) throw new PortcullisError('cert.name-mismatch', 'the client certificate is not bound to exactly one app of this trust domain');
      clientId = ids[0]!;
    }
    let subject = '';
    try {
      subject = nameToString(v.leaf.subject);
    } catch {
      subject = '';
    }
    let pathNotBefore = -Infinity;
    let pathNotAfter = Infinity;
    for (const c of v.path) {
      pathNotBefore = Math.max(pathNotBefore, c.notBefore);
      pathNotAfter = Math.min(pathNotAfter, c.notAfter);
    }
    return { clientId, serial: v.leaf.serial, subject, notAfter: v.leaf.notAfter, pathNotBefore, pathNotAfter, leaf: v.leaf, issuer: v.path[1] ?? v.leaf, path: v.path };
  }
}
