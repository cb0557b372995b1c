/**
 * Admin routes for the built-in CA: issue (server or client profile, from a CSR or
 * with a generated key, PEM or PKCS#12), the inventory (expiry, owner, status),
 * renew, revoke (fanned out to every node), and the CA certificates. A generated
 * private key is in the issuing response only; it is never stored or logged.
 */
import type { Services } from '../../app.js';
import { PortcullisError } from '../../core/errors.js';
import { parseDuration } from '../../core/duration.js';
import { toPem } from '../../pki/pem.js';
import type { CertificateRecord } from '../../pki/store.js';
import { issuedView, recordRenewal } from '../pki-routes.js';
import { createdPage } from './page.js';
import { defineRoute, type AdminRoute } from './route.js';
import {
  CaCertificates,
  CertificateList,
  CertificateListQuery,
  CertificateResponse,
  IssueCertificateRequest,
  IssuedCertificate,
  RenewCertificateRequest,
  RevokeCertificateRequest,
} from './certificate-schemas.js';

const ACTOR = 'admin';
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

function summary(r: CertificateRecord, now: number) {
  return {
    serial: r.serial,
    subject: r.subject,
    owner: r.owner,
    profile: r.profile,
    issuer_id: r.issuerId,
    status: r.status,
    expired: r.notAfter < now,
    not_before: iso(r.notBefore)!,
    not_after: iso(r.notAfter)!,
    revoked_at: iso(r.revokedAt),
    reason: r.reason,
  };
}

function serialParam(v: string | undefined): string {
  const s = (v ?? '').toLowerCase().replace(/:/g, '');
  if (!/^[0-9a-f]{2,40}$/.test(s)) throw new PortcullisError('request.invalid', 'serial: expected hex');
  return s;
}

export function certificateRoutes(s: Services): AdminRoute[] {
  const record = async (serial: string): Promise<CertificateRecord> => {
    const r = await s.store.getCertificate(serial);
    if (!r) throw new PortcullisError('not-found', 'no certificate with that serial');
    return r;
  };
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/ca',
      operationId: 'getCa',
      summary: 'The root and issuing CA certificates (PEM): give the root to clients as their trust anchor.',
      tag: 'certificates',
      auth: true,
      responses: { 200: { description: 'The CA certificates.', schema: CaCertificates } },
      errors: [500],
      async handler() {
        const ca = s.pki.issuing();
        return { body: { root: toPem(ca.root.der, 'CERTIFICATE'), chain: ca.chainPem, trust_domain: s.pki.trustDomain ?? null, issuing_ca: ca.record.id } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/certificates',
      operationId: 'issueCertificate',
      summary: 'Issue a server or client certificate, from a CSR or with a generated key (returned once).',
      tag: 'certificates',
      auth: true,
      body: IssueCertificateRequest,
      responses: { 201: { description: 'Issued and in the inventory. Store `private_key` / `pkcs12` now: they are never shown again.', schema: IssuedCertificate } },
      errors: [400, 404],
      async handler({ body }) {
        if (body.profile === 'client') {
          const app = body.client_id === undefined ? undefined : s.apps.find(body.client_id);
          if (!app) throw new PortcullisError('not-found', 'client_id: no such app');
        }
        if (body.format === 'pkcs12' && (body.csr !== undefined || body.pkcs12_password === undefined)) {
          throw new PortcullisError('request.invalid', 'format pkcs12 needs a generated key (no csr) and pkcs12_password');
        }
        const lifetimeMs = body.lifetime === undefined ? undefined : parseDuration(body.lifetime);
        const c = await s.pki.issue({
          profile: body.profile,
          ...(body.dns_names ? { dnsNames: body.dns_names } : {}),
          ...(body.ip_addresses ? { ipAddresses: body.ip_addresses } : {}),
          ...(body.client_id ? { clientId: body.client_id } : {}),
          ...(body.csr !== undefined ? { csrPem: body.csr } : {}),
          ...(lifetimeMs !== undefined ? { lifetimeMs } : {}),
          ...(body.format === 'pkcs12' ? { pkcs12Password: body.pkcs12_password! } : {}),
        });
        s.audit.record({ time: s.clock.now(), type: 'certificate.issued', actor: ACTOR, clientId: body.client_id ?? null, data: { serial: c.serial, profile: body.profile, not_after: iso(c.notAfter) } });
        await s.audit.flush();
        return { status: 201, body: issuedView(c) };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/certificates',
      operationId: 'listCertificates',
      summary: 'The inventory of issued certificates with expiry, owner and status, oldest first, a page at a time.',
      tag: 'certificates',
      auth: true,
      query: CertificateListQuery,
      responses: { 200: { description: 'Certificates.', schema: CertificateList } },
      errors: [400],
      async handler({ query }) {
        const now = s.clock.now();
        const within = query.expiring_within === undefined ? undefined : parseDuration(query.expiring_within);
        const { rows, next_after } = await createdPage(
          query,
          (p) =>
            s.store.listCertificates({
              ...(query.owner ? { owner: query.owner } : {}),
              ...(query.status ? { status: query.status } : {}),
              ...(within !== undefined ? { expiringBefore: now + within } : {}),
              ...(p.after !== undefined ? { after: { notBefore: p.after.createdAt, serial: p.after.id } } : {}),
              limit: p.limit,
            }),
          (r) => [r.notBefore, r.serial],
        );
        return { body: { certificates: rows.map((r) => summary(r, now)), next_after } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/certificates/:serial',
      operationId: 'getCertificate',
      summary: 'One certificate of the inventory, with its PEM.',
      tag: 'certificates',
      auth: true,
      responses: { 200: { description: 'The certificate.', schema: CertificateResponse } },
      errors: [400, 404],
      async handler({ params }) {
        const r = await record(serialParam(params.serial));
        return { body: { certificate: { ...summary(r, s.clock.now()), certificate: toPem(r.der, 'CERTIFICATE') } } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/certificates/:serial/renew',
      operationId: 'renewCertificate',
      summary: 'Renew a current certificate: same profile and names, a new key (CSR or generated). Apps renew themselves over mTLS at POST /pki/renew on the identity plane.',
      tag: 'certificates',
      auth: true,
      body: RenewCertificateRequest,
      responses: {
        201: { description: 'The new certificate; the old one is revoked (reason superseded). A certificate renews once.', schema: IssuedCertificate },
        200: { description: 'A retry with the same CSR of a renewal already made: the certificate it issued, again.', schema: IssuedCertificate },
      },
      errors: [400, 401, 404, 409],
      async handler({ params, body }) {
        const r = await record(serialParam(params.serial));
        const c = await s.pki.renew({ current: r.der, ...(body.csr !== undefined ? { csrPem: body.csr } : {}) });
        if (c.replayed) return { status: 200, body: issuedView(c) };
        recordRenewal(s.audit, s.clock.now(), ACTOR, r.owner, c);
        await s.audit.flush();
        return { status: 201, body: issuedView(c) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/certificates/:serial/revoke',
      operationId: 'revokeCertificate',
      summary: 'Revoke a certificate: every node refuses it at once, the CRL is regenerated and OCSP answers revoked.',
      tag: 'certificates',
      auth: true,
      body: RevokeCertificateRequest,
      responses: { 200: { description: 'The certificate after the change.', schema: CertificateResponse } },
      errors: [400, 404, 409],
      async handler({ params, body }) {
        const r = await s.pki.revoke(serialParam(params.serial), body.reason);
        // a certificate already revoked (superseded) keeps its reason: only its descendants are revoked now
        if (!r.alreadyRevoked) s.audit.record({ time: s.clock.now(), type: 'certificate.revoked', actor: ACTOR, clientId: r.owner, data: { serial: r.serial, reason: body.reason } });
        // certificates renewed from a compromised one are revoked with it (pki/authority.ts)
        for (const d of r.descendants) s.audit.record({ time: s.clock.now(), type: 'certificate.revoked', actor: ACTOR, clientId: r.owner, data: { serial: d, reason: 'keyCompromise', renewedFrom: r.serial } });
        // stored and audited, but not confirmed in force everywhere (change.not-in-force)
        if (r.unconfirmed !== undefined) throw r.unconfirmed;
        await s.audit.flush();
        return { body: { certificate: { ...summary(r, s.clock.now()), certificate: toPem(r.der, 'CERTIFICATE') } } };
      },
    }),
  ];
}
