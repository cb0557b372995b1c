/**
 * OCSP responder (RFC 6960) for one issuing CA, on the @peculiar/asn1-ocsp
 * structures: parses requests (POST body or the base64 GET path), answers good /
 * revoked / unknown in a response signed by the CA itself (§4.2.2.2 case 1), echoes
 * the nonce (RFC 8954), and serves nonce-less answers from a cache that is refreshed
 * before nextUpdate.
 *
 * The responder answers anyone, so what it keeps must not grow with what anyone sends:
 * the cache is keyed by the CertID (hash algorithm, issuer hashes, serial), never by
 * the request bytes (which may carry kilobytes of extensions); it keeps only answers
 * for certificates in the inventory (never `unknown`), and it is bounded in bytes.
 */
import { createHash } from 'node:crypto';
import {
  BasicOCSPResponse,
  CertID,
  CertStatus,
  KeyHash,
  Nonce,
  OCSPRequest,
  OCSPResponse,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, CRLReason, Certificate } from '@peculiar/asn1-x509';
import type { Clock } from '../core/clock.js';
import { bufferOf, bytesEqual, extensionOf, keyIdentifier, preEncoded, serialize } from './certificate.js';
import { parseCertificate, toHex } from './parse.js';
import type { CaSigner } from './signer.js';
import { REVOCATION_REASONS, type CertificateStore } from './store.js';

const HASHES: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export const OCSP_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 } as const;

/** A malformed OCSPRequest. */
export class OcspRequestError extends Error {}

export interface OcspCertId {
  /** The CertID exactly as requested (echoed in the response). */
  raw: Uint8Array;
  hashOid: string;
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  serial: string;
}

export interface OcspRequestInfo {
  certIds: OcspCertId[];
  /** The nonce extension's extnValue, echoed verbatim; null when absent. */
  nonce: Uint8Array | null;
}

const u8 = (b: ArrayBuffer): Uint8Array => new Uint8Array(b);

/** Parses an OCSPRequest (asn1-ocsp); throws when it is malformed or not DER. */
export function parseOcspRequest(der: Uint8Array): OcspRequestInfo {
  let req: OCSPRequest;
  try {
    req = AsnConvert.parse(der, OCSPRequest);
  } catch (e) {
    throw new OcspRequestError('OCSPRequest', { cause: e });
  }
  // DER only, nothing trailing: the request must be exactly what its fields encode to.
  if (!bytesEqual(serialize(req), der)) throw new OcspRequestError('OCSPRequest is not DER');
  let nonce: Uint8Array | null = null;
  const exts = req.tbsRequest.requestExtensions ?? [];
  // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular
  // extension" (the Extensions of RFC 6960): a second nonce would leave which one binds the answer open.
  if (new Set(exts.map((e) => e.extnID)).size !== exts.length) throw new OcspRequestError('duplicate request extension');
  for (const ext of exts) {
    if (ext.extnID !== id_pkix_ocsp_nonce) continue;
    const inner = u8(ext.extnValue.buffer);
    let n: Nonce;
    try {
      n = AsnConvert.parse(inner, Nonce);
    } catch (e) {
      throw new OcspRequestError('nonce', { cause: e });
    }
    // The extnValue is echoed whole: it must be exactly the DER of the Nonce whose length is
    // checked, not a short Nonce followed by bytes the responder would sign for the sender.
    if (!bytesEqual(serialize(n), inner)) throw new OcspRequestError('nonce is not DER');
    // RFC 8954 §2.1: the nonce is 1 to 32 octets.
    if (n.byteLength < 1 || n.byteLength > 32) throw new OcspRequestError('nonce length');
    nonce = inner;
  }
  const certIds = req.tbsRequest.requestList.map(({ reqCert: c }) => ({
    raw: serialize(c),
    hashOid: c.hashAlgorithm.algorithm,
    issuerNameHash: u8(c.issuerNameHash.buffer),
    issuerKeyHash: u8(c.issuerKeyHash.buffer),
    serial: toHex(u8(c.serialNumber)),
  }));
  if (certIds.length === 0) throw new OcspRequestError('empty requestList');
  return { certIds, nonce };
}

/** The unsuccessful OCSPResponse for a status (no responseBytes). */
export const ocspError = (status: number): Uint8Array => serialize(new OCSPResponse({ responseStatus: status }));

/** The responseStatus of a DER OCSPResponse (`OCSP_STATUS`); internalError when it cannot be read. */
export function ocspResponseStatus(der: Uint8Array): number {
  // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, ... }: the ENUMERATED follows the SEQUENCE header
  const len = der[1] ?? 0;
  const at = 2 + (len & 0x80 ? len & 0x7f : 0);
  return der[0] === 0x30 && der[at] === 0x0a && der[at + 1] === 0x01 && at + 2 < der.length ? der[at + 2]! : OCSP_STATUS.internalError;
}

/** thisUpdate and nextUpdate (ms) of the answers this process signed, by their bytes: HTTP caching must end before nextUpdate. */
const validities = new WeakMap<Uint8Array, { thisUpdate: number; nextUpdate: number }>();

/**
 * The thisUpdate and earliest nextUpdate (ms) of a successful answer `respond` returned; undefined for any other bytes.
 * @example const v = ocspValidity(der); if (v) maxAge = Math.min(maxAge, (v.nextUpdate - now) / 1000);
 */
export function ocspValidity(der: Uint8Array): { thisUpdate: number; nextUpdate: number } | undefined {
  return validities.get(der);
}

/** Decodes the GET form (RFC 6960 Appendix A.1): the URL-encoded base64 of the DER request. */
export function decodeOcspGet(pathSegment: string): Uint8Array {
  return new Uint8Array(Buffer.from(decodeURIComponent(pathSegment), 'base64'));
}

export interface OcspCa {
  id: string;
  certDer: Uint8Array;
  subject: Uint8Array;
  spki: Uint8Array;
  publicKeyBits: Uint8Array;
  signer: CaSigner;
}

interface Cached {
  der: Uint8Array;
  refreshAt: number;
  serial: string;
  /** Bytes this entry holds (key and answer). */
  size: number;
}

/** RFC 5280 §4.1.2.2: serial numbers are at most 20 octets. */
const MAX_SERIAL_HEX = 40;

export interface OcspResponderOptions {
  /** thisUpdate → nextUpdate (default 1 h); cached answers are re-signed after half of it. */
  validityMs?: number;
  /** Most CertIDs accepted in one request (default 10). */
  maxRequests?: number;
  /** Most cached answers (default 100 000). */
  cacheSize?: number;
  /** Most bytes the cached answers and their keys hold together (default 32 MiB). */
  cacheBytes?: number;
}

export class OcspResponder {
  /** Nonce-less single-CertID answers for known certificates, keyed by the DER CertID. */
  private readonly cache = new Map<string, Cached>();
  private cachedBytes = 0;
  /** Bumped by every `invalidate`: an answer whose status was read before one is not cached. */
  private invalidations = 0;
  private readonly validityMs: number;
  private readonly maxRequests: number;
  private readonly cacheSize: number;
  private readonly cacheBytes: number;
  private readonly nameHashes = new Map<string, Uint8Array>();
  private readonly keyHashes = new Map<string, Uint8Array>();
  private readonly responderId: ResponderID;
  private readonly signatureAlgorithm: AlgorithmIdentifier;
  private readonly certs: Certificate[];
  /** Whether a CA record (by id) is this CA re-certified: the same subject and key. CA records never change. */
  private readonly sameIssuer = new Map<string, boolean>();

  constructor(
    private readonly store: CertificateStore,
    private readonly clock: Clock,
    private readonly ca: OcspCa,
    o: OcspResponderOptions = {},
  ) {
    this.validityMs = o.validityMs ?? 3_600_000;
    this.maxRequests = o.maxRequests ?? 10;
    this.cacheSize = o.cacheSize ?? 100_000;
    this.cacheBytes = o.cacheBytes ?? 32 * 1024 * 1024;
    for (const [id, h] of Object.entries(HASHES)) {
      this.nameHashes.set(id, new Uint8Array(createHash(h).update(ca.subject).digest()));
      this.keyHashes.set(id, new Uint8Array(createHash(h).update(ca.publicKeyBits).digest()));
    }
    // ResponderID byKey: SHA-1 of the responder's public key bits (RFC 6960 §4.2.1).
    this.responderId = preEncoded<ResponderID>(serialize(new ResponderID({ byKey: new KeyHash(bufferOf(keyIdentifier(ca.spki))) })));
    this.signatureAlgorithm = preEncoded<AlgorithmIdentifier>(ca.signer.signatureAlgorithm);
    this.certs = [preEncoded<Certificate>(ca.certDer)];
  }

  /** Whether a CertID names this responder's CA as the issuer (its hashes match). */
  answersFor(id: OcspCertId): boolean {
    const n = this.nameHashes.get(id.hashOid);
    const k = this.keyHashes.get(id.hashOid);
    return n !== undefined && k !== undefined && bytesEqual(n, id.issuerNameHash) && bytesEqual(k, id.issuerKeyHash);
  }

  /**
   * Whether the CA record `issuerId` is this CA: this one, or its subject and key certified
   * again and imported as another record. CertIDs name an issuer by the hashes of its name and
   * key only (RFC 6960 §4.1.1), so a request for a certificate of either record is routed to
   * whichever responder comes first, and this key signed it either way: answered `unknown`, a
   * revoked certificate of the other record would not read revoked.
   */
  private async isSameIssuer(issuerId: string): Promise<boolean> {
    if (issuerId === this.ca.id) return true;
    let same = this.sameIssuer.get(issuerId);
    if (same === undefined) {
      const rec = await this.store.getCa(issuerId);
      if (rec === undefined) return false;
      const c = parseCertificate(rec.certDer);
      same = bytesEqual(c.subject, this.ca.subject) && bytesEqual(c.publicKeyBits, this.ca.publicKeyBits);
      this.sameIssuer.set(issuerId, same);
    }
    return same;
  }

  /** Drops cached answers for a serial (call after it is revoked). */
  invalidate(serial: string): void {
    this.invalidations++;
    for (const [k, v] of this.cache) if (v.serial === serial) this.drop(k, v);
  }

  /** What the cache holds: answers and bytes (keys and answers). */
  get cacheUsage(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cachedBytes };
  }

  private drop(key: string, v: Cached): void {
    this.cache.delete(key);
    this.cachedBytes -= v.size;
  }

  private remember(key: string, entry: Cached): void {
    const old = this.cache.get(key);
    if (old !== undefined) this.drop(key, old);
    if (entry.size > this.cacheBytes) return;
    // oldest first: Map iteration follows insertion order
    for (const [k, v] of this.cache) {
      if (this.cache.size < this.cacheSize && this.cachedBytes + entry.size <= this.cacheBytes) break;
      this.drop(k, v);
    }
    this.cache.set(key, entry);
    this.cachedBytes += entry.size;
  }

  /**
   * Answers a DER OCSPRequest with a DER OCSPResponse; never throws for bad input.
   * @example const der = await responder.respond(new Uint8Array(await request.arrayBuffer()));
   */
  async respond(requestDer: Uint8Array): Promise<Uint8Array> {
    const now = this.clock.now();
    let info: OcspRequestInfo;
    try {
      info = parseOcspRequest(requestDer);
    } catch {
      return ocspError(OCSP_STATUS.malformedRequest);
    }
    if (info.certIds.length > this.maxRequests) return ocspError(OCSP_STATUS.malformedRequest);
    const single = info.nonce === null && info.certIds.length === 1 && info.certIds[0]!.serial.length <= MAX_SERIAL_HEX;
    const cacheKey = single ? Buffer.from(info.certIds[0]!.raw).toString('base64') : undefined;
    if (cacheKey !== undefined) {
      const hit = this.cache.get(cacheKey);
      if (hit && now < hit.refreshAt) return hit.der;
    }
    for (const id of info.certIds) {
      // Not issued by this CA: this responder is not authoritative (RFC 6960 §2.3).
      if (!this.answersFor(id)) return ocspError(OCSP_STATUS.unauthorized);
    }
    const generation = this.invalidations;
    try {
      const { der, allKnown } = await this.sign(info, now);
      // `unknown` answers are not kept: anyone can ask about any serial; nor an answer
      // read before a revocation that dropped the cache while it was being signed
      if (cacheKey !== undefined && allKnown && generation === this.invalidations) {
        this.remember(cacheKey, { der, refreshAt: now + this.validityMs / 2, serial: info.certIds[0]!.serial, size: der.byteLength + cacheKey.length });
      }
      return der;
    } catch {
      return ocspError(OCSP_STATUS.tryLater);
    }
  }

  private async sign(info: OcspRequestInfo, now: number): Promise<{ der: Uint8Array; allKnown: boolean }> {
    let allKnown = true;
    const thisUpdate = new Date(Math.floor(now / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.validityMs);
    const responses: SingleResponse[] = [];
    for (const id of info.certIds) {
      const rec = await this.store.getCertificate(id.serial);
      let certStatus: CertStatus;
      if (!rec || !(await this.isSameIssuer(rec.issuerId))) {
        certStatus = new CertStatus({ unknown: null });
        allKnown = false;
      } else if (rec.status === 'revoked') {
        const revoked = new RevokedInfo({ revocationTime: new Date(Math.floor((rec.revokedAt ?? thisUpdate.getTime()) / 1000) * 1000) });
        if (rec.reason && rec.reason !== 'unspecified') revoked.revocationReason = new CRLReason(REVOCATION_REASONS[rec.reason]);
        certStatus = new CertStatus({ revoked });
      } else certStatus = new CertStatus({ good: null });
      responses.push(new SingleResponse({ certID: preEncoded<CertID>(id.raw), certStatus, thisUpdate, nextUpdate }));
    }
    const tbs = serialize(
      new ResponseData({
        responderID: this.responderId,
        producedAt: thisUpdate,
        responses,
        // RFC 8954 §2.1: the nonce extension is echoed exactly.
        ...(info.nonce ? { responseExtensions: [extensionOf(id_pkix_ocsp_nonce, false, info.nonce)] } : {}),
      }),
    );
    const basic = new BasicOCSPResponse({
      tbsResponseData: preEncoded<ResponseData>(tbs),
      signatureAlgorithm: this.signatureAlgorithm,
      signature: bufferOf(await this.ca.signer.sign(tbs)),
      certs: this.certs,
    });
    const der = serialize(
      new OCSPResponse({
        responseStatus: OCSP_STATUS.successful,
        responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
      }),
    );
    validities.set(der, { thisUpdate: thisUpdate.getTime(), nextUpdate: nextUpdate.getTime() });
    return { der, allKnown };
  }
}
