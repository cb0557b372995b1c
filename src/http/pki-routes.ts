/**
 * The CA's public endpoints on the identity plane, at the URLs every certificate
 * carries (pki/profiles.ts `pkiUrls`):
 *
 *   GET  /pki/ca.pem, /pki/chain.pem       the root; the intermediate and the root (PEM)
 *   GET  /pki/ca/<id>.crt                  a CA certificate, DER (AIA caIssuers, RFC 5280 §4.2.2.1)
 *   GET  /pki/crl/<id>.crl | <id>.pem      the CRL of an issuing CA (RFC 5280 §5), DER or PEM
 *   GET  /pki/ocsp/<base64 request>        OCSP, GET form (RFC 6960 Appendix A.1)
 *   POST /pki/ocsp                         OCSP, application/ocsp-request
 *   POST /pki/renew                        renewal authenticated by the current certificate over mTLS
 *                                          (201; 200 with the same certificate for a retry with the same CSR)
 *
 * CRLs and signed OCSP answers to GET are cacheable (RFC 5019 §6.2); OCSP error statuses
 * and renewal answers are not.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DurableAuditSink } from '../audit/sink.js';
import type { Clock } from '../core/clock.js';
import { PortcullisError, toPortcullisError } from '../core/errors.js';
import { parseCertificate } from '../pki/parse.js';
import type { CertificateRecord } from '../pki/store.js';
import { peerCertificate } from '../gateway/client-certificate-policy.js';
import type { CertificateAuthority } from '../pki/authority.js';
import { OCSP_STATUS, decodeOcspGet, ocspError, ocspResponseStatus, ocspValidity } from '../pki/ocsp.js';
import { toPem } from '../pki/pem.js';
import { jsonBodyParser } from './json-body.js';
import type { IssuedCertificate } from '../pki/issue.js';
import type { RenewedCertificate } from '../pki/renew.js';

export interface PkiRoutesOptions {
  pki: CertificateAuthority;
  /** The app a client certificate is bound to (renewal is refused when it is missing or disabled). */
  findApp?: (clientId: string) => { status: 'active' | 'disabled' } | undefined;
  /** Self-renewals and their denials are recorded here. */
  audit?: DurableAuditSink;
  clock?: Clock;
  /** A certificate self-renews once it has lived this long (`pki.renewMinInterval`); absent, at any time. */
  minIntervalMs?: number;
}

const CA_ID = /^[A-Za-z0-9._-]{1,100}$/;
/** Shared caches may keep an OCSP answer this long (it is valid for longer; revocation must show soon). */
const OCSP_MAX_AGE_S = 60;

/** The JSON answer of issuance and renewal (admin API and /pki/renew). Private keys only for generated keys. */
export function issuedView(c: IssuedCertificate): Record<string, unknown> {
  return {
    serial: c.serial,
    not_before: new Date(c.notBefore).toISOString(),
    not_after: new Date(c.notAfter).toISOString(),
    certificate: c.certPem,
    chain: c.chainPem,
    ...(c.privateKeyPem ? { private_key: c.privateKeyPem } : {}),
    ...(c.pkcs12 ? { pkcs12: Buffer.from(c.pkcs12).toString('base64') } : {}),
  };
}

/**
 * Audits a renewal: `certificate.renewed` and the revocation of the certificate it
 * superseded (`certificate.revoked`, reason superseded), each naming both serials.
 */
export function recordRenewal(audit: DurableAuditSink | undefined, time: number, actor: string, clientId: string | null, next: RenewedCertificate & { supersedeUnconfirmed?: unknown }): void {
  audit?.record({ time, type: 'certificate.renewed', actor, clientId, data: { serial: next.serial, previous: next.previous } });
  audit?.record({ time, type: 'certificate.revoked', actor, clientId, data: { serial: next.previous, reason: 'superseded', supersededBy: next.serial, ...(next.supersedeUnconfirmed !== undefined ? { unconfirmed: true } : {}) } });
}

/** The serial of a presented certificate for the audit trail, or null when it does not parse. */
function serialOf(der: Uint8Array): string | null {
  try {
    return parseCertificate(der).serial;
  } catch {
    return null;
  }
}

/**
 * Sends an OCSP answer; `cacheableAt` (the time now, ms) makes a signed one cacheable: RFC
 * 5019 §6.2, max-age "is a time value later than thisUpdate but earlier than nextUpdate"
 * (a shared cache must not serve an answer its clients would refuse as out of date).
 */
function sendOcsp(reply: FastifyReply, der: Uint8Array, cacheableAt?: number): FastifyReply {
  reply.header('content-type', 'application/ocsp-response');
  const v = cacheableAt === undefined ? undefined : ocspValidity(der);
  const maxAge = v === undefined ? 0 : Math.min(OCSP_MAX_AGE_S, Math.ceil((v.nextUpdate - cacheableAt!) / 1000) - 1);
  if (v !== undefined && maxAge > 0) {
    reply
      .header('cache-control', `public, max-age=${maxAge}, no-transform`)
      .header('last-modified', new Date(v.thisUpdate).toUTCString())
      .header('expires', new Date(v.nextUpdate).toUTCString());
  } else reply.header('cache-control', 'no-store');
  return reply.send(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
}

/**
 * The identity plane's answer to a path fastify rejects before routing (not validly
 * percent-encoded, `createHttpServer`'s `badUrl`): under GET /pki/ocsp/ an OCSP client
 * expects an OCSP response (RFC 6960 §2.3), so it gets `malformedRequest`, as a POST of
 * malformed DER does; elsewhere undefined (the plane's problem+json 400).
 */
export function ocspBadUrl(req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !req.url.startsWith('/pki/ocsp/')) return undefined;
  return sendOcsp(reply, ocspError(OCSP_STATUS.malformedRequest));
}

/**
 * A fastify plugin; the identity plane registers it once.
 * @example void app.register(pkiRoutes, { pki })
 */
export async function pkiRoutes(app: FastifyInstance, o: PkiRoutesOptions): Promise<void> {
  const { pki } = o;
  const now = (): number => (o.clock ? o.clock.now() : Date.now());
  app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: 16 * 1024 }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 64 * 1024 }, jsonBodyParser({ empty: {} }));

  app.get('/pki/ca.pem', async (_req, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('application/x-pem-file').send(pki.rootPem()),
  );
  app.get('/pki/chain.pem', async (_req, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('application/x-pem-file').send(pki.issuing().chainPem),
  );
  app.get('/pki/ca/:file', async (req: FastifyRequest<{ Params: { file: string } }>, reply) => {
    const m = /^(.+)\.(crt|pem)$/.exec(req.params.file);
    const ca = m && CA_ID.test(m[1]!) ? await pki.caCertificate(m[1]!) : undefined;
    if (!m || !ca) throw new PortcullisError('not-found', 'no such CA certificate');
    reply.header('cache-control', 'public, max-age=86400');
    if (m[2] === 'pem') return reply.type('application/x-pem-file').send(toPem(ca.certDer, 'CERTIFICATE'));
    return reply.type('application/pkix-cert').send(Buffer.from(ca.certDer));
  });

  app.get('/pki/crl/:file', async (req: FastifyRequest<{ Params: { file: string } }>, reply) => {
    const m = /^(.+)\.(crl|pem)$/.exec(req.params.file);
    const crl = m && CA_ID.test(m[1]!) ? await pki.crl(m[1]!) : undefined;
    if (!m || !crl) throw new PortcullisError('not-found', 'no CRL for that CA');
    const now = Date.now();
    // Cache until the publisher would make a new one (half its validity), never past nextUpdate.
    const fresh = Math.max(0, Math.floor((Math.min(crl.nextUpdate, crl.thisUpdate + (crl.nextUpdate - crl.thisUpdate) / 2) - now) / 1000));
    reply
      .header('cache-control', `public, max-age=${Math.min(fresh, 300)}, no-transform`)
      .header('last-modified', new Date(crl.thisUpdate).toUTCString())
      .header('expires', new Date(crl.nextUpdate).toUTCString());
    if (m[2] === 'pem') return reply.type('application/x-pem-file').send(crl.pem);
    return reply.type('application/pkix-crl').send(Buffer.from(crl.der.buffer, crl.der.byteOffset, crl.der.byteLength));
  });

  app.get('/pki/ocsp/*', async (req: FastifyRequest<{ Params: { '*': string } }>, reply) => {
    let der: Uint8Array;
    try {
      der = decodeOcspGet(req.params['*']);
    } catch {
      der = new Uint8Array(0);
    }
    const res = await pki.ocspRespond(der);
    // only a signed answer may be kept by shared caches: an error status (tryLater…) is of the moment
    return sendOcsp(reply, res, ocspResponseStatus(res) === OCSP_STATUS.successful ? now() : undefined);
  });
  app.post('/pki/ocsp', async (req, reply) => {
    if (!Buffer.isBuffer(req.body)) throw new PortcullisError('request.unsupported-media-type', 'send the OCSP request as application/ocsp-request');
    const res = await pki.ocspRespond(new Uint8Array(req.body));
    return sendOcsp(reply, res);
  });

  app.post('/pki/renew', async (req: FastifyRequest<{ Body: { csr?: unknown; pkcs12_password?: unknown } | undefined }>, reply) => {
    const peer = peerCertificate(req.raw.socket);
    if (peer.leaf === null) throw new PortcullisError('pki.renewal-denied', 'renewal needs the current certificate presented over mutual TLS');
    const body = req.body ?? {};
    if (body.csr !== undefined && typeof body.csr !== 'string') throw new PortcullisError('request.invalid', 'csr: expected a PEM string');
    if (body.pkcs12_password !== undefined && typeof body.pkcs12_password !== 'string') throw new PortcullisError('request.invalid', 'pkcs12_password: expected a string');
    let current: CertificateRecord | undefined;
    let next;
    try {
      next = await pki.renew({
        current: peer.leaf,
        admit: (rec) => {
          current = rec;
          if (rec.owner !== null && o.findApp?.(rec.owner)?.status !== 'active') {
            throw new PortcullisError('cert.app-not-allowed', 'the certificate is bound to an unknown or disabled app');
          }
        },
        ...(typeof body.csr === 'string' ? { csrPem: body.csr } : {}),
        ...(typeof body.pkcs12_password === 'string' ? { pkcs12Password: body.pkcs12_password } : {}),
        ...(o.minIntervalMs ? { minIntervalMs: o.minIntervalMs } : {}),
      });
    } catch (e) {
      const err = toPortcullisError(e);
      if (err.status < 500) {
        const previous = current?.serial ?? serialOf(peer.leaf);
        o.audit?.record({ time: now(), type: 'certificate.renewal-denied', actor: `certificate:${previous}`, clientId: current?.owner ?? null, reason: err.code, data: { previous } });
        await o.audit?.flush();
      }
      throw err;
    }
    const actor = `certificate:${current!.serial}`;
    if (next.replayed) {
      // a retry whose answer was lost: the successor again, nothing issued
      o.audit?.record({ time: now(), type: 'certificate.renewal-replayed', actor, clientId: current!.owner, data: { serial: next.serial, previous: next.previous } });
      await o.audit?.flush();
      return reply.header('cache-control', 'no-store').code(200).send(issuedView(next));
    }
    recordRenewal(o.audit, now(), actor, current!.owner, next);
    await o.audit?.flush();
    return reply.header('cache-control', 'no-store').code(201).send(issuedView(next));
  });
}
