import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { issueCertificate } from '../../src/pki/issue.js';
import { attime, makeCa, openssl, tmp, writeFiles } from './helpers.js';

function csrFor(dir: string, subj: string): string {
  const r = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/csr.key`, '-subj', subj, '-out', `${dir}/req.csr`]);
  assert.equal(r.status, 0, r.out);
  return `${dir}/req.csr`;
}

test('server certificate from a generated key passes openssl verify -x509_strict with purpose sslserver', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const c = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['api.example.org'] });
  const dir = tmp();
  const f = writeFiles(dir, { 'root.pem': t.rootPem, 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  const r = openssl(['verify', '-x509_strict', '-attime', attime(t.clock.now()), '-purpose', 'sslserver', '-verify_hostname', 'api.example.org', '-CAfile', f['root.pem']!, '-untrusted', f['int.pem']!, f['leaf.pem']!]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /leaf.pem: OK/);
  const x = new X509Certificate(c.certPem);
  assert.equal(x.subjectAltName, 'DNS:api.example.org');
  assert.ok(c.privateKeyPem && x.checkPrivateKey((await import('node:crypto')).createPrivateKey(c.privateKeyPem)));
  assert.match(x.infoAccess ?? '', /OCSP - URI:http:\/\/127\.0\.0\.1:8080\/pki\/ocsp/);
  assert.equal(c.notAfter - c.notBefore, 24 * 3600_000 + 60_000, 'default server lifetime is 24 h (plus the 60 s back-dating)');
  const inv = await t.store.getCertificate(c.serial);
  assert.equal(inv?.status, 'active');
  assert.equal(inv?.profile, 'server');
  assert.equal(inv?.owner, null);
});

test('client certificate from a CSR is bound to the app by a SPIFFE URI SAN and passes -x509_strict as sslclient', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const dir = tmp();
  const csr = csrFor(dir, '/CN=ignored-by-ca');
  const { readFileSync } = await import('node:fs');
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'billing', csrPem: readFileSync(csr, 'utf8') });
  assert.equal(c.privateKeyPem, undefined);
  const f = writeFiles(dir, { 'root.pem': t.rootPem, 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  const r = openssl(['verify', '-x509_strict', '-attime', attime(t.clock.now()), '-purpose', 'sslclient', '-CAfile', f['root.pem']!, '-untrusted', f['int.pem']!, f['leaf.pem']!]);
  assert.equal(r.status, 0, r.out);
  const x = new X509Certificate(c.certPem);
  assert.equal(x.subjectAltName, 'URI:spiffe://example.org/app/billing');
  assert.equal(x.subject, 'CN=billing');
  assert.equal((await t.store.getCertificate(c.serial))?.owner, 'billing');
  // The server profile must fail as a client and vice versa.
  const bad = openssl(['verify', '-x509_strict', '-attime', attime(t.clock.now()), '-purpose', 'sslserver', '-CAfile', f['root.pem']!, '-untrusted', f['int.pem']!, f['leaf.pem']!]);
  assert.notEqual(bad.status, 0);
});

test('IP SAN server certificate without trust domain passes -x509_strict', async () => {
  const t = await makeCa();
  const c = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
  const dir = tmp();
  const f = writeFiles(dir, { 'root.pem': t.rootPem, 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  const r = openssl(['verify', '-x509_strict', '-attime', attime(t.clock.now()), '-purpose', 'sslserver', '-verify_ip', '127.0.0.1', '-CAfile', f['root.pem']!, '-untrusted', f['int.pem']!, f['leaf.pem']!]);
  assert.equal(r.status, 0, r.out);
  assert.equal(new X509Certificate(c.certPem).subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
});

test('CSR with a forged signature (no proof of possession) is refused with pki.csr-invalid', async () => {
  const t = await makeCa();
  const dir = tmp();
  const { readFileSync } = await import('node:fs');
  const pem = readFileSync(csrFor(dir, '/CN=x'), 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5] ^= 0x01;
  const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.test'], csrPem: forged }), { code: 'pki.csr-invalid' });
});

test('weak CSR key (RSA 1024) is refused with pki.csr-invalid', async () => {
  const t = await makeCa();
  const dir = tmp();
  const k = generateKeyPairSync('rsa', { modulusLength: 1024 });
  writeFiles(dir, { 'k.pem': k.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string });
  const r = openssl(['req', '-new', '-key', `${dir}/k.pem`, '-subj', '/CN=x']);
  assert.equal(r.status, 0, r.out);
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.test'], csrPem: r.out }), { code: 'pki.csr-invalid' });
});

test('name outside the trust domain is refused at issuance (pki.name-not-permitted)', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', dnsNames: ['evil.com'] }), { code: 'pki.name-not-permitted' });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', dnsNames: ['notexample.org'] }), { code: 'pki.name-not-permitted' });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'client', clientId: '../admin' }), { code: 'pki.name-not-permitted' });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', dnsNames: ['bad_name.example.org'] }), { code: 'pki.name-not-permitted' });
  const ok = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.b.example.org', 'example.org'] });
  assert.ok(ok.serial);
});

test('lifetime beyond the profile maximum is refused; a certificate never outlives its CA', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'client', clientId: 'a', lifetimeMs: 31 * 86_400_000 }), { code: 'request.invalid' });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.example.org'], lifetimeMs: 91 * 86_400_000 }), { code: 'request.invalid' });
  t.clock.set(t.ca.cert.notAfter - 3600_000);
  const c = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.example.org'] });
  assert.equal(c.notAfter, t.ca.cert.notAfter);
});

test('PKCS#12 export opens with openssl pkcs12 and holds key, leaf and chain', async () => {
  const t = await makeCa();
  const c = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.test'], pkcs12Password: 'correct horse' });
  assert.ok(c.pkcs12);
  const dir = tmp();
  const f = writeFiles(dir, { 'b.p12': c.pkcs12! });
  const r = openssl(['pkcs12', '-in', f['b.p12']!, '-passin', 'pass:correct horse', '-nodes']);
  assert.equal(r.status, 0, r.out);
  assert.equal((r.out.match(/BEGIN CERTIFICATE/g) ?? []).length, 3);
  assert.match(r.out, /BEGIN PRIVATE KEY/);
  const wrong = openssl(['pkcs12', '-in', f['b.p12']!, '-passin', 'pass:wrong', '-nodes']);
  assert.notEqual(wrong.status, 0, 'a wrong password must fail the MAC');
});

test('an empty CSR is an invalid CSR (pki.csr-invalid), not a request to generate the key', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'client', clientId: 'billing', csrPem: '' }), (e: any) => e.code === 'pki.csr-invalid');
});
