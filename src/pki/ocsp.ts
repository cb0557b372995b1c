/**
 * OCSP responder (RFC 6960) for one issuing CA: parses requests (POST body or the
 * base64 GET path), answers good / revoked / unknown in a response signed by the
 * CA itself (§4.2.2.2 case 1), echoes the nonce (RFC 8954), and serves nonce-less
 * answers from a cache keyed by CertID that is refreshed before nextUpdate.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { bitString, children, content, DerError, enumerated, equalBytes, explicit, generalizedTime, octets, oid, oidToString, readOne, seq, TAG, whole, type Tlv } from './der.js';
import { keyIdentifier } from './certificate.js';
import { toHex } from './parse.js';
import type { CaSigner } from './signer.js';
import { REVOCATION_REASONS, type CertificateStore } from './store.js';

const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const ID_PKIX_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';
const HASHES: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export const OCSP_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 } as const;

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

/** Parses an OCSPRequest; throws DerError when malformed. */
export function parseOcspRequest(der: Uint8Array): OcspRequestInfo {
  const req = readOne(der);
  if (req.tag !== TAG.SEQUENCE) throw new DerError('OCSPRequest');
  const tbs = children(req)[0];
  if (!tbs || tbs.tag !== TAG.SEQUENCE) throw new DerError('TBSRequest');
  let list: Tlv | undefined;
  let nonce: Uint8Array | null = null;
  for (const f of children(tbs)) {
    if (f.tag === TAG.SEQUENCE) list = f;
    else if (f.tag === 0xa2) {
      for (const ext of children(children(f)[0]!)) {
        const parts = children(ext);
        if (oidToString(content(parts[0]!)) !== ID_PKIX_OCSP_NONCE) continue;
        const v = parts[parts.length - 1]!;
        if (v.tag !== TAG.OCTET_STRING) throw new DerError('nonce');
        const inner = content(v);
        // RFC 8954 §2.1: the nonce is 1 to 32 octets.
        const n = readOne(inner);
        if (n.tag !== TAG.OCTET_STRING || n.end - n.contentStart < 1 || n.end - n.contentStart > 32) throw new DerError('nonce length');
        nonce = inner;
      }
    }
  }
  if (!list) throw new DerError('requestList');
  const certIds = children(list).map((r) => {
    const certId = children(r)[0];
    if (!certId || certId.tag !== TAG.SEQUENCE) throw new DerError('CertID');
    const [alg, nameHash, keyHash, serial] = children(certId);
    if (!alg || !nameHash || !keyHash || !serial || serial.tag !== TAG.INTEGER || nameHash.tag !== TAG.OCTET_STRING || keyHash.tag !== TAG.OCTET_STRING) throw new DerError('CertID');
    return {
      raw: whole(certId),
      hashOid: oidToString(content(children(alg)[0]!)),
      issuerNameHash: content(nameHash),
      issuerKeyHash: content(keyHash),
      serial: toHex(content(serial)),
    };
  });
  if (certIds.length === 0) throw new DerError('empty requestList');
  return { certIds, nonce };
}

/** The unsuccessful OCSPResponse for a status (no responseBytes). */
export const ocspError = (status: number): Uint8Array => seq(enumerated(status));

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
}

export interface OcspResponderOptions {
  /** thisUpdate → nextUpdate (default 1 h); cached answers are re-signed after half of it. */
  validityMs?: number;
  /** Most CertIDs accepted in one request (default 10). */
  maxRequests?: number;
  /** Most cached answers (default 100 000). */
  cacheSize?: number;
}

export class OcspResponder {
  private readonly cache = new Map<string, Cached>();
  private readonly validityMs: number;
  private readonly maxRequests: number;
  private readonly cacheSize: number;
  private readonly nameHashes = new Map<string, Uint8Array>();
  private readonly keyHashes = new Map<string, Uint8Array>();
  private readonly responderId: Uint8Array;

  constructor(
    private readonly store: CertificateStore,
    private readonly clock: Clock,
    private readonly ca: OcspCa,
    o: OcspResponderOptions = {},
  ) {
    this.validityMs = o.validityMs ?? 3_600_000;
    this.maxRequests = o.maxRequests ?? 10;
    this.cacheSize = o.cacheSize ?? 100_000;
    for (const [id, h] of Object.entries(HASHES)) {
      this.nameHashes.set(id, new Uint8Array(createHash(h).update(ca.subject).digest()));
      this.keyHashes.set(id, new Uint8Array(createHash(h).update(ca.publicKeyBits).digest()));
    }
    // ResponderID byKey: SHA-1 of the responder's public key bits (RFC 6960 §4.2.1).
    this.responderId = explicit(2, octets(keyIdentifier(ca.spki)));
  }

  /** Drops cached answers for a serial (call after it is revoked). */
  invalidate(serial: string): void {
    for (const k of this.cache.keys()) if (k.endsWith(`:${serial}`)) this.cache.delete(k);
  }

  /**
   * Answers a DER OCSPRequest with a DER OCSPResponse; never throws for bad input.
   * @example const der = await responder.respond(new Uint8Array(await request.arrayBuffer()));
   */
  async respond(requestDer: Uint8Array): Promise<Uint8Array> {
    let info: OcspRequestInfo;
    try {
      info = parseOcspRequest(requestDer);
    } catch {
      return ocspError(OCSP_STATUS.malformedRequest);
    }
    if (info.certIds.length > this.maxRequests) return ocspError(OCSP_STATUS.malformedRequest);
    for (const id of info.certIds) {
      const n = this.nameHashes.get(id.hashOid);
      const k = this.keyHashes.get(id.hashOid);
      // Not issued by this CA: this responder is not authoritative (RFC 6960 §2.3).
      if (!n || !k || !equalBytes(n, id.issuerNameHash) || !equalBytes(k, id.issuerKeyHash)) return ocspError(OCSP_STATUS.unauthorized);
    }
    const now = this.clock.now();
    const cacheKey = info.nonce === null && info.certIds.length === 1 ? `${toHex(info.certIds[0]!.raw)}:${info.certIds[0]!.serial}` : null;
    if (cacheKey) {
      const hit = this.cache.get(cacheKey);
      if (hit && now < hit.refreshAt) return hit.der;
    }
    try {
      const der = await this.sign(info, now);
      if (cacheKey) {
        if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(cacheKey, { der, refreshAt: now + this.validityMs / 2 });
      }
      return der;
    } catch {
      return ocspError(OCSP_STATUS.tryLater);
    }
  }

  private async sign(info: OcspRequestInfo, now: number): Promise<Uint8Array> {
    const thisUpdate = Math.floor(now / 1000) * 1000;
    const singles: Uint8Array[] = [];
    for (const id of info.certIds) {
      const rec = await this.store.getCertificate(id.serial);
      let status: Uint8Array;
      if (!rec || rec.issuerId !== this.ca.id) status = Uint8Array.of(0x82, 0);
      else if (rec.status === 'revoked') {
        const reason = rec.reason && rec.reason !== 'unspecified' ? [explicit(0, enumerated(REVOCATION_REASONS[rec.reason]))] : [];
        status = seq(generalizedTime(rec.revokedAt ?? thisUpdate), ...reason);
        status[0] = 0xa1;
      } else status = Uint8Array.of(0x80, 0);
      singles.push(seq(id.raw, status, generalizedTime(thisUpdate), explicit(0, generalizedTime(thisUpdate + this.validityMs))));
    }
    const ext = info.nonce ? [explicit(1, seq(seq(oid(ID_PKIX_OCSP_NONCE), octets(info.nonce))))] : [];
    const tbs = seq(this.responderId, generalizedTime(thisUpdate), seq(...singles), ...ext);
    const sig = await this.ca.signer.sign(tbs);
    const basic = seq(tbs, this.ca.signer.signatureAlgorithm, bitString(sig), explicit(0, seq(this.ca.certDer)));
    return seq(enumerated(OCSP_STATUS.successful), explicit(0, seq(oid(ID_PKIX_OCSP_BASIC), octets(basic))));
  }
}
