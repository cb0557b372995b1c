import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { issueCertificate } from '../../src/pki/issue.js';
import { renewCertificate } from '../../src/pki/renew.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { makeCa } from './helpers.js';

test('renewal with the current certificate re-issues the same names and app with a new key and serial', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const s = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['api.example.org'], ipAddresses: ['127.0.0.1'] });
  t.clock.advance(20 * 3600_000);
  const s2 = await renewCertificate(t.ctx, { current: s.der });
  assert.notEqual(s2.serial, s.serial);
  assert.equal(new X509Certificate(s2.certPem).subjectAltName, 'DNS:api.example.org, IP Address:127.0.0.1');
  assert.ok(s2.notAfter > s.notAfter);
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'billing' });
  const c2 = await renewCertificate(t.ctx, { current: c.der });
  assert.equal((await t.store.getCertificate(c2.serial))?.owner, 'billing');
});

test('attack: renewal with an expired certificate → pki.renewal-denied', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'billing' });
  t.clock.advance(25 * 3600_000);
  await assert.rejects(renewCertificate(t.ctx, { current: c.der }), { code: 'pki.renewal-denied' });
});

test('attack: renewal with a revoked certificate → pki.renewal-denied', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'billing' });
  await revokeCertificate({ store: t.store, clock: t.clock }, c.serial, 'keyCompromise');
  await assert.rejects(renewCertificate(t.ctx, { current: c.der }), { code: 'pki.renewal-denied' });
});

test('attack: renewal with a certificate of another CA → pki.renewal-denied', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const other = await makeCa({ trustDomain: 'example.org' });
  const c = await issueCertificate(other.ctx, { profile: 'client', clientId: 'billing' });
  await assert.rejects(renewCertificate(t.ctx, { current: c.der }), { code: 'pki.renewal-denied' });
});

test('attack: a renewal racing a keyCompromise revocation of the certificate it renews → pki.renewal-denied, and what it issued is revoked too', async () => {
  const { CertificateAuthority } = await import('../../src/pki/authority.js');
  const t = await makeCa({ trustDomain: 'example.org' });
  // the revocation lands between the renewal's status check and the new certificate's insertion
  let racing: (() => Promise<unknown>) | null = null;
  const store = Object.create(t.store) as typeof t.store;
  store.insertCertificate = async (rec) => {
    const r = racing;
    racing = null;
    if (r) await r();
    return t.store.insertCertificate(rec);
  };
  const pki = new CertificateAuthority({ store, signers: t.signers, clock: t.clock, urlBase: 'https://id.example', trustDomain: 'example.org', serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  const stolen = await pki.issue({ profile: 'client', clientId: 'billing' });
  racing = () => pki.revoke(stolen.serial, 'keyCompromise');
  await assert.rejects(pki.renew({ current: stolen.der }), { code: 'pki.renewal-denied' });
  assert.equal((await t.store.getCertificate(stolen.serial))?.status, 'revoked');
  const renewed = await t.store.listCertificates({ renewedFrom: stolen.serial });
  assert.ok(renewed.every((r) => r.status === 'revoked' && r.reason === 'keyCompromise'), 'no certificate renewed from the compromised one stays active');
});
