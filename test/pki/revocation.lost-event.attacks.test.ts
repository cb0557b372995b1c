/**
 * Revocation reaches every node through the `cert.revoked` event and, when that event
 * is lost, through the periodic reconcile from the store: "a lost message delays, never
 * loses, a revocation". The reconcile must bring the node's CRL and OCSP answers up to
 * date too, not only the in-memory set the gateway checks: else a node that missed the
 * event keeps telling relying parties `good` (its cached OCSP answer) and serving a CRL
 * without the serial until they would have been rebuilt anyway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { FrozenClock } from '../../src/core/clock.js';
import { CertificateAuthority } from '../../src/pki/authority.js';
import { MemoryCertificateStore } from '../../src/pki/memory-store.js';
import { parseCertificate } from '../../src/pki/parse.js';
import { toPem } from '../../src/pki/pem.js';
import { fileSignerKind, SignerRegistry } from '../../src/pki/signer.js';
import { ocspCertStatus as statusOf, openssl, testSecretBox, tmp, writeFiles } from './helpers.js';

const crlSerials = (der: Uint8Array): string[] =>
  (AsnConvert.parse(der, CertificateList).tbsCertList.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate).toString('hex'));

test('attack: a node that missed the cert.revoked event answers OCSP revoked and lists the serial in its CRL after the reconcile', async () => {
  const store = new MemoryCertificateStore();
  const clock = new FrozenClock(Date.now());
  const kind = fileSignerKind(testSecretBox());
  // two nodes on one store; the event between them is lost (no onRevoked fan-out)
  const mk = () => new CertificateAuthority({ store, signers: new SignerRegistry([kind]), clock, urlBase: 'https://id.example', trustDomain: 'example.org', serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  const a = mk();
  await a.create(kind);
  const b = mk();
  assert.equal(await b.load(), true);
  const leaf = await a.issue({ profile: 'client', clientId: 'app1' });
  const intId = a.issuing().record.id;

  const dir = tmp();
  const f = writeFiles(dir, { 'int.pem': toPem(a.issuing().cert.der, 'CERTIFICATE'), 'leaf.pem': leaf.certPem });
  const r = openssl(['ocsp', '-issuer', f['int.pem']!, '-cert', f['leaf.pem']!, '-no_nonce', '-reqout', `${dir}/req.der`]);
  assert.equal(r.status, 0, r.out);
  const req = new Uint8Array(readFileSync(`${dir}/req.der`));

  // node B answers (and caches) good, and holds a CRL without the serial
  assert.equal(statusOf(await b.ocspRespond(req)), 'good');
  assert.deepEqual(crlSerials((await b.crl(intId))!.der), []);

  await a.revoke(leaf.serial, 'keyCompromise');
  assert.equal(statusOf(await a.ocspRespond(req)), 'revoked', 'the node that revoked answers revoked');

  clock.advance(60_000);
  await b.reconcile();
  assert.equal(b.isRevoked(parseCertificate(leaf.der), a.issuing().cert), true, 'the verifier of node B refuses it');
  assert.equal(statusOf(await b.ocspRespond(req)), 'revoked', 'node B no longer answers good from its cache');
  assert.deepEqual(crlSerials((await b.crl(intId))!.der), [leaf.serial], 'node B serves a CRL listing it');
});
