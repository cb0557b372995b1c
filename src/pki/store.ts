/**
 * What the certificate authority needs from durable storage: the inventory of
 * issued certificates, the CA records (certificates with their keys encrypted at
 * rest), one CRL number counter per CA and the CRL each CA last published. Adapters (memory, SQLite, PostgreSQL)
 * implement it; the domain never imports an adapter.
 */

/** RFC 5280 §5.3.1 CRLReason names (value 7 is unused). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/**
 * The reasons a certificate of this CA (a leaf) may be revoked for. RFC 5280 §5.3.1:
 * removeFromCRL "is for use with delta CRLs" only; cACompromise and aACompromise are the
 * compromise of a CA's or an attribute authority's key; certificateHold suspends a
 * certificate until the hold is lifted, which nothing here does (and the CA/Browser Forum
 * baseline requirements §7.2.2 forbid). A stored record may still carry one of those, and
 * the CRL and OCSP answers render it.
 */
export const LEAF_REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn'] as const satisfies readonly RevocationReason[];
export type LeafRevocationReason = (typeof LEAF_REVOCATION_REASONS)[number];

export type CertificateStatus = 'active' | 'revoked';

export interface CertificateRecord {
  /** Lower-case hex of the serial number's content octets. */
  serial: string;
  /** The CA record that issued it. */
  issuerId: string;
  /** Subject, as a one-line text for humans (e.g. `CN=api.example.org`). */
  subject: string;
  /** The app (client_id) a client certificate is bound to; null for server certificates. */
  owner: string | null;
  /** Issuance profile name (`server`, `client`). */
  profile: string;
  notBefore: number;
  notAfter: number;
  status: CertificateStatus;
  revokedAt: number | null;
  reason: RevocationReason | null;
  /** The certificate, DER. */
  der: Uint8Array;
  /** Serial of the certificate this one renewed (its lineage), or null/absent. */
  renewedFrom?: string | null;
}

export interface CertificateFilter {
  owner?: string;
  status?: CertificateStatus;
  issuerId?: string;
  /** Only certificates whose notAfter is before this time. */
  expiringBefore?: number;
  /** Only certificates renewed from this serial. */
  renewedFrom?: string;
  /** Only certificates after this one in the list order (notBefore, then serial): the keyset cursor of a page. */
  after?: { notBefore: number; serial: string };
  limit?: number;
}

export type CaRole = 'root' | 'intermediate';

export interface CaRecord {
  id: string;
  role: CaRole;
  /** The CA certificate, DER. */
  certDer: Uint8Array;
  /** The id of the signer kind that holds the key (`file`, later `pkcs11`, `kms`…). */
  signerKind: string;
  /**
   * What that signer needs to find the key: for `file`, the sealed PKCS#8 (SecretBox
   * output); for an HSM, a key label. Null when the key is kept offline (an offline root).
   */
  keyRef: string | null;
  /** The issuing CA the service signs with (exactly one intermediate is active). */
  active: boolean;
  createdAt: number;
}

/** A CRL as published for the whole cluster: every node serves this one (RFC 5280 §5.2.3: one number sequence per issuer). */
export interface PublishedCrl {
  number: bigint;
  thisUpdate: number;
  nextUpdate: number;
  /** Digest of the entries it lists: a CRL built now with the same digest would list the same revocations. */
  entriesDigest: string;
  /** The signed CRL, DER. */
  der: Uint8Array;
}

/**
 * What a CRL is built from (`readCrlPublication`), read without holding any lock and
 * handed back to `publishCrlIfUnchanged`, which publishes only if it is still current.
 */
export interface CrlPublication {
  /** The CRL published last; undefined before the first. */
  published: PublishedCrl | undefined;
  /** The number a CRL published now takes: above every number drawn or published before. */
  next: bigint;
  /** The issuer's revoked certificates, including expired ones. */
  revoked: CertificateRecord[];
}

export interface CertificateStore {
  insertCertificate(rec: CertificateRecord): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  listCertificates(filter?: CertificateFilter): Promise<CertificateRecord[]>;
  /**
   * Marks an active certificate revoked. Race-safe: under concurrent calls exactly one
   * caller gets the updated record; the others (and calls on an already revoked or
   * unknown serial) get undefined.
   */
  revokeCertificate(serial: string, at: number, reason: RevocationReason): Promise<CertificateRecord | undefined>;
  /** Revoked certificates of one issuer (for its CRL), including expired ones. */
  listRevoked(issuerId: string): Promise<CertificateRecord[]>;
  /** Atomically increments and returns the CRL number of a CA (first call returns 1). */
  nextCrlNumber(issuerId: string): Promise<bigint>;
  /**
   * What a CRL is built from: the next CRL number of a CA and its revoked certificates,
   * read in one transaction that holds the number until it commits. Race-safe: of two
   * concurrent calls on any nodes, the one with the higher number read after the other
   * committed, so its list holds every revocation the lower number's list held and every
   * revocation committed before the call.
   */
  crlSnapshot(issuerId: string): Promise<{ number: bigint; revoked: CertificateRecord[] }>;
  /**
   * What a new CRL of a CA would be built from: the published CRL, the next CRL number and
   * the revoked certificates. Plain reads: it takes no lock and waits for none, so a CRL
   * is built and signed while every node goes on writing (`publishCrlIfUnchanged`).
   */
  readCrlPublication(issuerId: string): Promise<CrlPublication>;
  /**
   * Publishes `crl`, built from `read`, as the CRL of a CA for every node, if what it was
   * built from is still current: in one short transaction that holds the CA's CRL number
   * counter, checks that no CRL number was drawn or published and no certificate of the
   * CA revoked since `read` (revocation is one-way and the inventory only grows, so the
   * same number of revoked certificates is the same list), then stores it and moves the
   * counter to its number. Returns false, changing nothing, when something changed: the
   * caller reads again. Race-safe: of concurrent calls on any nodes with one `read`, at
   * most one returns true, so CRL numbers are unique and only go up. A `crl` not numbered
   * `read.next` is `internal`.
   */
  publishCrlIfUnchanged(issuerId: string, read: CrlPublication, crl: PublishedCrl): Promise<boolean>;

  insertCa(rec: CaRecord): Promise<void>;
  getCa(id: string): Promise<CaRecord | undefined>;
  listCas(): Promise<CaRecord[]>;
  /** Makes `id` the only active issuing CA of its role. */
  activateCa(id: string): Promise<void>;
  /** Replaces the key reference (bring an offline root online, or take it offline with null). */
  setCaKeyRef(id: string, keyRef: string | null): Promise<void>;
}
