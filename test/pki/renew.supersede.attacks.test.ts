/**
 * A renewal replaces the certificate it renews: the old one is revoked `superseded`
 * (RFC 5280 §5.3.1) before the new one is handed out, and a certificate has at most one
 * successor. Before, the old certificate stayed valid until it expired and could renew
 * again and again: whoever stole its key kept a working credential next to the holder's
 * new one, and minted as many more as they liked. A client that lost the answer retries
 * with the same CSR and gets the same certificate back; self-renewal is refused before
 * `renewMinIntervalMs` of a certificate's life has passed (429, Retry-After).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CertificateAuthority } from '../../src/pki/authority.js';
import type { CertificateStore } from '../../src/pki/store.js';
import { makeCa, openssl, tmp, type TestCa } from './helpers.js';

function csr(): string {
  const dir = tmp();
  const r = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/k.pem`, '-subj', '/CN=ignored', '-out', `${dir}/req.csr`]);
  assert.equal(r.status, 0, r.out);
  return readFileSync(`${dir}/req.csr`, 'utf8');
}

async function authority(t: TestCa, store: CertificateStore = t.store): Promise<CertificateAuthority> {
  const pki = new CertificateAuthority({ store, signers: t.signers, clock: t.clock, urlBase: 'https://id.example', trustDomain: 'example.org', serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  return pki;
}

test('a renewal revokes the certificate it renews as superseded, in the store, the CRL and the verifier', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const pki = await authority(t);
  const old = await pki.issue({ profile: 'client', clientId: 'billing' });
  const next = await pki.renew({ current: old.der });
  assert.equal(next.previous, old.serial);
  const rec = await t.store.getCertificate(old.serial);
  assert.equal(rec?.status, 'revoked');
  assert.equal(rec?.reason, 'superseded');
  assert.equal((await t.store.getCertificate(next.serial))?.status, 'active');
  const crl = await pki.crl(t.ca.record.id);
  assert.ok(crl);
  const dir = tmp();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${dir}/crl.der`, crl.der);
  const text = openssl(['crl', '-inform', 'DER', '-in', `${dir}/crl.der`, '-noout', '-text']);
  assert.equal(text.status, 0, text.out);
  assert.match(text.out, new RegExp(`Serial Number: ${old.serial.toUpperCase()}[\\s\\S]*?Superseded`));
  await assert.rejects(pki.verifyPeer([old.der], { mapToApp: true }), { code: 'cert.revoked' });
  assert.equal((await pki.verifyPeer([next.der], { mapToApp: true })).clientId, 'billing');
});

test('attack: a certificate already renewed renews again (a stolen key racing the holder, or a loop) → 409 pki.already-renewed naming the successor; nothing is issued', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const pki = await authority(t);
  const old = await pki.issue({ profile: 'client', clientId: 'billing' });
  const next = await pki.renew({ current: old.der });
  await assert.rejects(pki.renew({ current: old.der }), (e: any) => e.code === 'pki.already-renewed' && e.status === 409 && e.details?.successor === next.serial);
  await assert.rejects(pki.renew({ current: old.der, csrPem: csr() }), { code: 'pki.already-renewed' });
  assert.deepEqual((await t.store.listCertificates({ renewedFrom: old.serial })).map((c) => c.serial), [next.serial]);
});

test('a client that lost the answer retries with the same CSR → the same certificate again (nothing new is issued); another key → 409', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const pki = await authority(t);
  const old = await pki.issue({ profile: 'client', clientId: 'billing' });
  const req = csr();
  const next = await pki.renew({ current: old.der, csrPem: req });
  t.clock.advance(5_000);
  const again = await pki.renew({ current: old.der, csrPem: req });
  assert.equal(again.serial, next.serial);
  assert.equal(again.certPem, next.certPem);
  assert.equal(again.replayed, true);
  assert.equal(again.privateKeyPem, undefined);
  assert.equal((await t.store.listCertificates({ renewedFrom: old.serial })).length, 1);
  await assert.rejects(pki.renew({ current: old.der, csrPem: csr() }), { code: 'pki.already-renewed' });
  // once the successor is itself renewed (or revoked), the retry has nothing to return
  await pki.renew({ current: next.der });
  await assert.rejects(pki.renew({ current: old.der, csrPem: req }), { code: 'pki.already-renewed' });
});

test('attack: two renewals of one certificate at once → one succeeds, the other 409 pki.already-renewed and what it issued is revoked', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const pki = await authority(t);
  const old = await pki.issue({ profile: 'client', clientId: 'billing' });
  const results = await Promise.allSettled([pki.renew({ current: old.der }), pki.renew({ current: old.der })]);
  const ok = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(ok.length, 1, JSON.stringify(refused.map((r) => String(r.reason))));
  assert.equal(refused[0]?.reason.code, 'pki.already-renewed');
  const children = await t.store.listCertificates({ renewedFrom: old.serial });
  assert.deepEqual(children.filter((c) => c.status === 'active').map((c) => c.serial), [(ok[0] as PromiseFulfilledResult<{ serial: string }>).value.serial]);
});

test('attack: revoking the old certificate fails (the store) → the renewal fails closed: the new certificate is revoked and never handed out, the old one stays usable and renews later', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  let failOn: string | null = null;
  const store = Object.create(t.store) as CertificateStore;
  store.revokeCertificate = async (serial, at, reason) => {
    if (serial === failOn) throw new Error('store down');
    return t.store.revokeCertificate(serial, at, reason);
  };
  const pki = await authority(t, store);
  const old = await pki.issue({ profile: 'client', clientId: 'billing' });
  failOn = old.serial;
  await assert.rejects(pki.renew({ current: old.der }), /store down/);
  const children = await t.store.listCertificates({ renewedFrom: old.serial });
  assert.equal(children.length, 1);
  assert.equal(children[0]!.status, 'revoked', 'the certificate issued for the failed renewal is not left valid');
  assert.equal((await t.store.getCertificate(old.serial))?.status, 'active');
  failOn = null;
  const next = await pki.renew({ current: old.der });
  assert.equal((await t.store.getCertificate(next.serial))?.status, 'active');
  assert.equal((await t.store.getCertificate(old.serial))?.reason, 'superseded');
});

test('revoking a superseded certificate for keyCompromise still revokes the active certificates renewed from it', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const pki = await authority(t);
  const stolen = await pki.issue({ profile: 'client', clientId: 'billing' });
  const g1 = await pki.renew({ current: stolen.der });
  const g2 = await pki.renew({ current: g1.der });
  const r = await pki.revoke(stolen.serial, 'keyCompromise');
  assert.deepEqual(r.descendants, [g2.serial]);
  assert.equal((await t.store.getCertificate(g2.serial))?.reason, 'keyCompromise');
  await assert.rejects(pki.revoke(stolen.serial, 'keyCompromise'), { code: 'conflict' }, 'nothing left to revoke: conflict, as before');
  await assert.rejects(pki.revoke(stolen.serial, 'unspecified'), { code: 'conflict' });
});

test('attack: self-renewal before renewMinIntervalMs of the certificate\'s life → 429 pki.renewal-too-early with retryAfterMs; nothing is issued', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const pki = await authority(t);
  const c = await pki.issue({ profile: 'client', clientId: 'billing' });
  t.clock.advance(60_000);
  await assert.rejects(pki.renew({ current: c.der, minIntervalMs: 300_000 }), (e: any) => e.code === 'pki.renewal-too-early' && e.status === 429 && e.details?.retryAfterMs === 240_000);
  assert.equal((await t.store.listCertificates({ renewedFrom: c.serial })).length, 0);
  assert.equal((await t.store.getCertificate(c.serial))?.status, 'active');
  t.clock.advance(240_000);
  const next = await pki.renew({ current: c.der, minIntervalMs: 300_000 });
  // a certificate shorter-lived than the interval renews after half its life
  const short = await pki.issue({ profile: 'client', clientId: 'billing', lifetimeMs: 120_000 });
  t.clock.advance(30_000);
  await assert.rejects(pki.renew({ current: short.der, minIntervalMs: 300_000 }), (e: any) => e.code === 'pki.renewal-too-early' && e.details?.retryAfterMs === 30_000);
  t.clock.advance(30_000);
  await pki.renew({ current: short.der, minIntervalMs: 300_000 });
  assert.ok(next.serial);
});
