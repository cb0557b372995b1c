/** Request and response schemas of the certificate admin API (issue, inventory, renew, revoke, CA). */
import { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import { LEAF_REVOCATION_REASONS } from '../../pki/store.js';
import { queryInteger, timeIdCursor } from './page.js';

const isoTime = z.string().describe('RFC 3339 time');
const pem = z.string().min(1).max(64 * 1024);

export const IssueCertificateRequest = z
  .strictObject({
    profile: z.enum(['server', 'client']).describe('`server`: serverAuth with DNS/IP SANs; `client`: clientAuth bound to an app by `spiffe://<trustDomain>/app/<client_id>`.'),
    dns_names: z.array(z.string().min(1).max(253)).max(100).optional().describe('Server profile: DNS names.'),
    ip_addresses: z.array(z.string().min(1).max(45)).max(100).optional().describe('Server profile: IP addresses.'),
    client_id: z.string().min(1).max(128).optional().describe('Client profile: the app (must exist).'),
    csr: pem.optional().describe('PKCS#10 CSR (PEM) that carries the key; names come from this request, never from the CSR. Without it a P-256 key is generated and returned once.'),
    lifetime: z.string().regex(/^\d+[smhd]$/, 'expected a duration such as 1h or 7d').optional().describe('Shorter than the profile default if you like; at most 90d (server) or 30d (client).'),
    format: z.enum(['pem', 'pkcs12']).default('pem').describe('`pkcs12` (generated keys only) adds a PKCS#12 bundle (base64) protected by `pkcs12_password`.'),
    pkcs12_password: z.string().min(8).max(200).optional().describe('Password of the PKCS#12 bundle.'),
  })
  .describe('A certificate to issue.');

export const RenewCertificateRequest = z
  .strictObject({
    csr: pem.optional().describe('PKCS#10 CSR (PEM) with the new key; without it a new P-256 key is generated.'),
  })
  .describe('Renew a certificate: same profile and names, a new key.');

export const RevokeCertificateRequest = z
  .strictObject({
    reason: z
      .enum(LEAF_REVOCATION_REASONS)
      .default('unspecified')
      .describe('RFC 5280 §5.3.1 reason code. Not certificateHold (a hold is never lifted here), removeFromCRL (delta CRLs only), cACompromise or aACompromise (a CA or attribute authority key).'),
  })
  .describe('Revoke a certificate.');

/** Longer than any certificate lifetime; a larger window would not be a time the store can compare with. */
const MAX_EXPIRING_WITHIN_MS = 3650 * 86_400_000;

export const CertificateListQuery = z.strictObject({
  owner: z.string().min(1).max(128).optional().describe('Only certificates bound to this app.'),
  status: z.enum(['active', 'revoked']).optional(),
  expiring_within: z
    .string()
    .regex(/^\d+[smhd]$/, 'expected a duration such as 7d')
    .refine((v) => parseDuration(v)! <= MAX_EXPIRING_WITHIN_MS, 'expected a duration of at most 3650d')
    .optional()
    .describe('Only certificates that expire within this time (at most 3650d).'),
  after: timeIdCursor('[0-9a-f]{1,64}')
    .optional()
    .describe('The `next_after` of the previous page; absent for the first page.'),
  limit: queryInteger(1, 1000).default(100).describe('At most this many certificates.'),
});

export const CertificateSummary = z.strictObject({
  serial: z.string().describe('Lower-case hex.'),
  subject: z.string(),
  owner: z.string().nullable().describe('The app a client certificate is bound to.'),
  profile: z.string(),
  issuer_id: z.string(),
  status: z.enum(['active', 'revoked']),
  expired: z.boolean(),
  not_before: isoTime,
  not_after: isoTime,
  revoked_at: isoTime.nullable(),
  reason: z.string().nullable(),
});
export const CertificateDetail = CertificateSummary.extend({ certificate: z.string().describe('PEM') });
export const CertificateList = z.strictObject({
  certificates: z.array(CertificateSummary),
  next_after: z.string().nullable().describe('Pass as `after` for the next page; null on the last page.'),
});
export const CertificateResponse = z.strictObject({ certificate: CertificateDetail });
export const IssuedCertificate = z.strictObject({
  serial: z.string(),
  not_before: isoTime,
  not_after: isoTime,
  certificate: z.string().describe('PEM of the new certificate.'),
  chain: z.string().describe('PEM: the certificate, the issuing intermediate and the root.'),
  private_key: z.string().optional().describe('PKCS#8 PEM of a generated key: shown in this response only.'),
  pkcs12: z.string().optional().describe('base64 PKCS#12 bundle (format pkcs12): shown in this response only.'),
});
export const CaCertificates = z.strictObject({
  root: z.string().describe('PEM of the root CA certificate (trust anchor).'),
  chain: z.string().describe('PEM of the issuing intermediate and the root.'),
  trust_domain: z.string().nullable(),
  issuing_ca: z.string().describe('Id of the active issuing CA (its CRL is /pki/crl/<id>.crl).'),
});

export const certificateRequestSchemas = { IssueCertificateRequest, RenewCertificateRequest, RevokeCertificateRequest } as const;
export const certificateResponseSchemas = { CertificateSummary, CertificateDetail, CertificateList, CertificateResponse, IssuedCertificate, CaCertificates } as const;
