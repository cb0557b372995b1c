/**
 * Importing an existing CA (`portcullis ca import`, `importCa`): a root made elsewhere
 * with openssl, kept offline (no key), and an issuing intermediate with its key; the
 * imported intermediate then issues certificates that `openssl verify -x509_strict`
 * accepts against the imported root. Each way an import can be wrong is refused with
 * `pki.ca-invalid` and a message that says which.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { importCa } from '../../src/pki/hierarchy.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { openIssuingCa } from '../../src/pki/issuing-ca.js';
import { MemoryCertificateStore } from '../../src/pki/memory-store.js';
import { fileSignerKind, SignerRegistry } from '../../src/pki/signer.js';
import { attime, hasOpenssl, openssl, opensslCerts, opensslOk as run, testSecretBox, tmp, URL_BASE, writeFiles } from './helpers.js';

const dir = tmp();
const f = (name: string) => join(dir, name);
const read = (name: string) => readFileSync(f(name), 'utf8');

/** A P-384 root and a P-256 intermediate under it, made with openssl (keys in PKCS#8); a second, unrelated root; a leaf (not a CA). */
before(() => {
  if (!hasOpenssl()) return;
  const o = opensslCerts(dir);
  for (const [name, curve] of [['root', 'secp384r1'], ['other', 'secp384r1'], ['int', 'prime256v1'], ['leaf', 'prime256v1']] as const) o.key(name, curve);
  for (const name of ['root', 'other']) o.root(name, { subj: `/O=Elsewhere/CN=${name} CA`, days: 3650, digest: 'sha384' });
  for (const [name, ext] of [
    ['int', 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n'],
    ['leaf', 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:leaf.example.org\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n'],
  ] as const) {
    o.issue(name, { ca: 'root', subj: `/O=Elsewhere/CN=${name}`, days: 365, digest: 'sha384', ext });
  }
});

function fresh() {
  const box = testSecretBox();
  const kind = fileSignerKind(box);
  return { store: new MemoryCertificateStore(), kind, signers: new SignerRegistry([kind]), clock: new FrozenClock(Date.now()) };
}

const rejects = (p: Promise<unknown>, message: RegExp) => assert.rejects(p, (e: { code?: string; message?: string }) => e.code === 'pki.ca-invalid' && message.test(e.message ?? ''));

test('an imported offline root and its imported intermediate issue certificates that openssl verifies strictly against that root', { skip: !hasOpenssl() && 'openssl is not installed' }, async () => {
  const t = fresh();
  const root = await importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: read('root.pem') });
  assert.equal(root.keyRef, null, 'the root key stays offline');
  const int = await importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'intermediate', certPem: read('int.pem'), keyPem: read('int.key') });
  assert.ok(int.keyRef !== null && !int.keyRef.includes('PRIVATE KEY'), 'the intermediate key is stored sealed');
  const ca = await openIssuingCa(t.store, t.signers, URL_BASE);
  const leaf = await issueCertificate({ store: t.store, clock: t.clock, ca }, { profile: 'server', dnsNames: ['api.example.org'] });
  const files = writeFiles(tmp(), { 'leaf.pem': leaf.certPem });
  const r = openssl(['verify', '-x509_strict', '-attime', attime(t.clock.now()), '-purpose', 'sslserver', '-verify_hostname', 'api.example.org', '-CAfile', f('root.pem'), '-untrusted', f('int.pem'), files['leaf.pem']!]);
  assert.equal(r.status, 0, r.out);
});

test('refused imports: not a CA, a root not self-signed, an intermediate of another root, without its key, with a key that is not its own', { skip: !hasOpenssl() && 'openssl is not installed' }, async () => {
  const t = fresh();
  await rejects(importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: read('leaf.pem') }), /not a CA/);
  await rejects(importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: read('int.pem') }), /a root must be self-signed/);
  await assert.rejects(importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: 'not a certificate' }), { code: 'request.invalid', message: 'no PEM CERTIFICATE block found' });
  const garbled = read('root.pem').replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
  await rejects(importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: garbled }), /cannot be parsed|self-signed/);
  await importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: read('other.pem') });
  await rejects(importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'intermediate', certPem: read('int.pem'), keyPem: read('int.key') }), /not signed by the active root/);
  await importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: read('root.pem') });
  await rejects(importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'intermediate', certPem: read('int.pem') }), /needs its private key/);
  await rejects(importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'intermediate', certPem: read('int.pem'), keyPem: read('leaf.key') }), /does not match the certificate/);
  // an expired CA certificate
  const later = new FrozenClock(Date.now() + 400 * 86_400_000);
  await rejects(importCa({ store: t.store, signerKind: t.kind, clock: later, role: 'intermediate', certPem: read('int.pem'), keyPem: read('int.key') }), /not currently valid/);
});

test('refused imports: an issuing intermediate, or a root imported with its key, whose keyUsage lacks cRLSign (every CRL it signed would be refused: openssl verify -crl_check error 35)', { skip: !hasOpenssl() && 'openssl is not installed' }, async () => {
  const d = tmp();
  const g = (n: string) => join(d, n);
  writeFiles(d, { 'int.ext': 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' });
  run(['req', '-new', '-key', f('int.key'), '-subj', '/O=Elsewhere/CN=int no crl', '-out', g('int.csr')]);
  run(['x509', '-req', '-in', g('int.csr'), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-CAcreateserial', '-days', '365', '-sha384', '-extfile', g('int.ext'), '-out', g('int.pem')]);
  run(['req', '-x509', '-new', '-key', f('other.key'), '-sha384', '-days', '3650', '-subj', '/O=Elsewhere/CN=root no crl', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-addext', 'subjectKeyIdentifier=hash', '-out', g('root.pem')]);
  const t = fresh();
  const NO_CRL_SIGN = 'the CA certificate lacks keyUsage cRLSign: the CRLs it signs would be refused';
  await assert.rejects(importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: readFileSync(g('root.pem'), 'utf8'), keyPem: read('other.key') }), { code: 'pki.ca-invalid', message: NO_CRL_SIGN });
  await importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: read('root.pem') });
  await assert.rejects(importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'intermediate', certPem: readFileSync(g('int.pem'), 'utf8'), keyPem: read('int.key') }), { code: 'pki.ca-invalid', message: NO_CRL_SIGN });
  assert.equal((await t.store.listCas()).filter((c) => c.role === 'intermediate').length, 0, 'nothing imported');
  // a root kept offline signs no CRL here: its keyUsage may leave cRLSign out
  const offline = await importCa({ store: t.store, signerKind: t.kind, clock: t.clock, role: 'root', certPem: readFileSync(g('root.pem'), 'utf8') });
  assert.equal(offline.keyRef, null);
});

test('cli: ca import --role root then --role intermediate on an initialised directory; ca export then prints the imported root', { skip: !hasOpenssl() && 'openssl is not installed' }, async () => {
  const { runCli } = await import('../cli/run.js');
  const d = tmp();
  assert.equal((await runCli(['init', '--dir', d])).code, 0);
  const root = await runCli(['ca', 'import', '--role', 'root', '--cert', f('root.pem'), '--dir', d]);
  assert.equal(root.code, 0, root.stderr);
  assert.match(root.stdout, /^imported root root-\S+ \(active; restart running nodes to use it\)/);
  const int = await runCli(['ca', 'import', '--role', 'intermediate', '--cert', f('int.pem'), '--key', f('int.key'), '--dir', d]);
  assert.equal(int.code, 0, int.stderr);
  const exported = await runCli(['ca', 'export', '--dir', d]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(exported.stdout.replace(/\s+/g, ''), read('root.pem').replace(/\s+/g, ''));
  const wrong = await runCli(['ca', 'import', '--role', 'intermediate', '--cert', f('int.pem'), '--key', f('leaf.key'), '--dir', d]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^error: pki.ca-invalid: the private key does not match the certificate$/m);
});
