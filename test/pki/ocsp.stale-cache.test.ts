/**
 * The OCSP responder's cache of nonce-less answers must never outlive a revocation: an
 * answer signed from a status read before the revocation, but finished after the cache
 * was dropped for that serial, is not kept (else every relying party is told `good` for
 * half the answer's validity after the certificate was revoked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { OcspResponder } from '../../src/pki/ocsp.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import type { CertificateRecord, CertificateStore } from '../../src/pki/store.js';
import { makeCa, ocspCertStatus as statusOf, openssl, tmp, writeFiles } from './helpers.js';

test('attack: an OCSP answer signed from the status read before a revocation is not cached past it', async () => {
  const t = await makeCa({ trustDomain: 'example.org', t0: Date.now() });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  // the responder's status read is held until the revocation has dropped the cache
  let hold: { reached: () => void; release: Promise<void> } | null = null;
  const store: CertificateStore = Object.create(t.store);
  store.getCertificate = async (serial: string): Promise<CertificateRecord | undefined> => {
    const rec = await t.store.getCertificate(serial);
    const h = hold;
    if (h) {
      hold = null;
      h.reached();
      await h.release;
    }
    return rec;
  };
  const ocsp = new OcspResponder(store, t.clock, signingView(t.ca));
  const dir = tmp();
  const f = writeFiles(dir, { 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  const r = openssl(['ocsp', '-issuer', f['int.pem']!, '-cert', f['leaf.pem']!, '-no_nonce', '-reqout', `${dir}/req.der`]);
  assert.equal(r.status, 0, r.out);
  const req = new Uint8Array(readFileSync(`${dir}/req.der`));

  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    hold = { reached: resolve, release: new Promise<void>((r2) => (release = r2)) };
  });
  const inFlight = ocsp.respond(req);
  await reached;
  await revokeCertificate({ store: t.store, clock: t.clock, ocsp: [ocsp] }, c.serial, 'keyCompromise');
  release();
  assert.equal(statusOf(await inFlight), 'good', 'the answer in flight was read before the revocation');
  assert.equal(statusOf(await ocsp.respond(req)), 'revoked', 'an answer after the revocation says revoked');
});
