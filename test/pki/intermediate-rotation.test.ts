/**
 * After an intermediate rotation (`ca import --role intermediate`), the certificates of
 * the previous intermediate stay valid until they expire, so their revocation must stay
 * visible: the node keeps serving the previous intermediate's CRL and answering OCSP for
 * it (routed by issuer hashes), checked with openssl. An intermediate re-certified with the
 * same subject and key is one issuer to OCSP: either record's revoked leaves read revoked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { FrozenClock } from '../../src/core/clock.js';
import { CertificateAuthority } from '../../src/pki/authority.js';
import { importCa } from '../../src/pki/hierarchy.js';
import { MemoryCertificateStore } from '../../src/pki/memory-store.js';
import { OCSP_STATUS, ocspResponseStatus } from '../../src/pki/ocsp.js';
import { toPem } from '../../src/pki/pem.js';
import { fileSignerKind, SignerRegistry } from '../../src/pki/signer.js';
import { openssl, testSecretBox, tmp, writeFiles } from './helpers.js';

/** A root and two intermediates made with openssl; the first imported (active), the second imported by `rotate`. */
async function rotationSetup() {
  const dir = tmp();
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => assert.equal(openssl(args).status, 0, args.join(' '));
  writeFiles(dir, { 'int.ext': 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' });
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-out', f('root.key')]);
  run(['req', '-x509', '-new', '-key', f('root.key'), '-sha384', '-days', '3650', '-subj', '/CN=Rotation Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash', '-out', f('root.pem')]);
  for (const n of ['int1', 'int2']) {
    run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', f(`${n}.key`)]);
    run(['req', '-new', '-key', f(`${n}.key`), '-subj', `/CN=${n}`, '-out', f(`${n}.csr`)]);
    run(['x509', '-req', '-in', f(`${n}.csr`), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-CAcreateserial', '-days', '365', '-sha384', '-extfile', f('int.ext'), '-out', f(`${n}.pem`)]);
  }
  const kind = fileSignerKind(testSecretBox());
  const store = new MemoryCertificateStore();
  const clock = new FrozenClock(Date.now());
  const mk = () => new CertificateAuthority({ store, signers: new SignerRegistry([kind]), clock, urlBase: 'https://id.example', trustDomain: 'example.org', serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  await importCa({ store, signerKind: kind, clock, role: 'root', certPem: readFileSync(f('root.pem'), 'utf8') });
  const int1 = await importCa({ store, signerKind: kind, clock, role: 'intermediate', certPem: readFileSync(f('int1.pem'), 'utf8'), keyPem: readFileSync(f('int1.key'), 'utf8') });
  const rotate = () => (clock.advance(1000), importCa({ store, signerKind: kind, clock, role: 'intermediate', certPem: readFileSync(f('int2.pem'), 'utf8'), keyPem: readFileSync(f('int2.key'), 'utf8') }));
  const caDer = async (id: string) => (await store.getCa(id))!.certDer;
  return { dir, f, store, clock, mk, int1, rotate, caDer };
}

test('attack window after rotation: a leaf of the previous intermediate revoked for keyCompromise is revoked on that intermediate\'s CRL and by OCSP (not 404 / unauthorized)', async () => {
  const { dir, f, store, mk, int1, rotate } = await rotationSetup();
  let pki = mk();
  await pki.load();
  const leaf = await pki.issue({ profile: 'client', clientId: 'app1' });
  await rotate();
  pki = mk(); // a node started after the rotation
  await pki.load();
  assert.notEqual(pki.issuing().record.id, int1.id, 'the new intermediate issues');
  await pki.revoke(leaf.serial, 'keyCompromise');

  const crl = await pki.crl(int1.id);
  assert.ok(crl, `the CRL of ${int1.id} is still served`);
  writeFiles(dir, { 'leaf.pem': leaf.certPem, 'crl.pem': crl.pem });
  const v = openssl(['verify', '-crl_check', '-CAfile', f('root.pem'), '-untrusted', f('int1.pem'), '-CRLfile', f('crl.pem'), f('leaf.pem')]);
  assert.notEqual(v.status, 0);
  assert.match(v.out, /certificate revoked/);

  assert.equal(openssl(['ocsp', '-issuer', f('int1.pem'), '-cert', f('leaf.pem'), '-no_nonce', '-reqout', f('req.der')]).status, 0);
  const res = await pki.ocspRespond(new Uint8Array(readFileSync(f('req.der'))));
  writeFiles(dir, { 'resp.der': res, 'chain.pem': toPem((await store.getCa(int1.id))!.certDer, 'CERTIFICATE') });
  const o = openssl(['ocsp', '-no_nonce', '-respin', f('resp.der'), '-CAfile', f('root.pem'), '-issuer', f('int1.pem'), '-cert', f('leaf.pem')]);
  assert.match(o.out, /Response verify OK/);
  assert.match(o.out, /leaf\.pem: revoked/);
  assert.match(o.out, /Reason: keyCompromise/);
});

test('after a rotation the revoked set still knows both intermediates: a revoked leaf of either is refused as cert.revoked, on the node that revoked it and on a node loaded before the rotation that learns it by the cert.revoked event; unrevoked leaves of both pass', async () => {
  const { store, mk, int1, rotate, caDer } = await rotationSetup();
  const before = mk(); // a node that loaded before the rotation and never reloads
  await before.load();
  const old = await before.issue({ profile: 'client', clientId: 'app1' });
  const oldKept = await before.issue({ profile: 'client', clientId: 'app1' });
  const int2 = await rotate();
  const after = mk();
  await after.load();
  const fresh = await after.issue({ profile: 'client', clientId: 'app1' });
  const freshKept = await after.issue({ profile: 'client', clientId: 'app1' });
  const int1Der = await caDer(int1.id);
  const int2Der = await caDer(int2.id);
  const verify = (pki: CertificateAuthority, leaf: { der: Uint8Array }, intermediate: Uint8Array) => pki.verifyPeer([leaf.der, intermediate], { mapToApp: true });

  for (const [leaf, issuerId] of [[old, int1.id], [fresh, int2.id]] as const) {
    await after.revoke(leaf.serial, 'keyCompromise');
    await before.applyRevoked(leaf.serial, issuerId);
  }
  for (const pki of [before, after]) {
    await assert.rejects(verify(pki, old, int1Der), { code: 'cert.revoked' });
    await assert.rejects(verify(pki, fresh, int2Der), { code: 'cert.revoked' });
    assert.equal((await verify(pki, oldKept, int1Der)).clientId, 'app1');
    assert.equal((await verify(pki, freshKept, int2Der)).clientId, 'app1');
  }
  // a node started now reads both intermediates' revocations from the store
  const later = mk();
  await later.load();
  await assert.rejects(verify(later, old, int1Der), { code: 'cert.revoked' });
  await assert.rejects(verify(later, fresh, int2Der), { code: 'cert.revoked' });
  assert.equal((await store.listRevoked(int1.id)).length, 1);
});

test('after a rotation a certificate of the previous intermediate still renews (over mTLS or by an admin): the new one comes from the active intermediate; a revoked one still cannot', async () => {
  const { store, mk, int1, rotate } = await rotationSetup();
  let pki = mk();
  await pki.load();
  const leaf = await pki.issue({ profile: 'client', clientId: 'app1' });
  const stolen = await pki.issue({ profile: 'client', clientId: 'app1' });
  const int2 = await rotate();
  pki = mk();
  await pki.load();
  const next = await pki.renew({ current: leaf.der });
  const rec = await store.getCertificate(next.serial);
  assert.equal(rec?.issuerId, int2.id, 'the renewal is issued by the active intermediate');
  assert.equal(rec?.renewedFrom, leaf.serial);
  assert.equal(rec?.owner, 'app1');
  assert.equal((await pki.verifyPeer([next.der], { mapToApp: true })).clientId, 'app1');
  await pki.revoke(stolen.serial, 'keyCompromise');
  await assert.rejects(pki.renew({ current: stolen.der }), { code: 'pki.renewal-denied' });
  assert.notEqual(int1.id, int2.id);
});

test('OCSP after a rotation: several CertIDs of one intermediate (either) are answered in one response signed by it; CertIDs of both intermediates in one request are unauthorized, in either order', async () => {
  const { dir, f, store, mk, int1, rotate } = await rotationSetup();
  let pki = mk();
  await pki.load();
  const oldA = await pki.issue({ profile: 'client', clientId: 'app1' });
  const oldB = await pki.issue({ profile: 'client', clientId: 'app1' });
  const int2 = await rotate();
  pki = mk();
  await pki.load();
  const newA = await pki.issue({ profile: 'client', clientId: 'app1' });
  const newB = await pki.issue({ profile: 'client', clientId: 'app1' });
  await pki.revoke(oldB.serial, 'keyCompromise');
  await pki.revoke(newB.serial, 'superseded');
  writeFiles(dir, { 'oldA.pem': oldA.certPem, 'oldB.pem': oldB.certPem, 'newA.pem': newA.certPem, 'newB.pem': newB.certPem, 'int2.pem': toPem((await store.getCa(int2.id))!.certDer, 'CERTIFICATE') });
  /** openssl's request for `pairs` (issuer file, certificate file), its answer from the node, and openssl's reading of it. */
  const ask = async (pairs: [string, string][]) => {
    const args = pairs.flatMap(([issuer, cert]) => ['-issuer', f(issuer), '-cert', f(cert)]);
    assert.equal(openssl(['ocsp', ...args, '-no_nonce', '-reqout', f('req.der')]).status, 0);
    const res = await pki.ocspRespond(new Uint8Array(readFileSync(f('req.der'))));
    writeFiles(dir, { 'resp.der': res });
    return { res, out: openssl(['ocsp', '-no_nonce', '-respin', f('resp.der'), '-CAfile', f('root.pem'), ...args]).out };
  };

  for (const [issuer, a, b, reason] of [['int1.pem', 'oldA.pem', 'oldB.pem', 'keyCompromise'], ['int2.pem', 'newA.pem', 'newB.pem', 'superseded']] as const) {
    const { res, out } = await ask([[issuer, a], [issuer, b]]);
    assert.equal(ocspResponseStatus(res), OCSP_STATUS.successful, out);
    assert.match(out, /Response verify OK/);
    assert.match(out, new RegExp(`${a.replace('.', '\\.')}: good`));
    assert.match(out, new RegExp(`${b.replace('.', '\\.')}: revoked[\\s\\S]*Reason: ${reason}`));
  }
  // RFC 6960 §4.2.2: a SingleResponse for each certificate of the request, under the one signature, which
  // §2.2 says must be the key of "the CA who issued the certificate in question": no key here is that for both
  for (const pairs of [[['int1.pem', 'oldA.pem'], ['int2.pem', 'newA.pem']], [['int2.pem', 'newB.pem'], ['int1.pem', 'oldB.pem']]] as [string, string][][]) {
    const { res, out } = await ask(pairs);
    assert.equal(ocspResponseStatus(res), OCSP_STATUS.unauthorized, out);
    assert.match(out, /Responder Error: unauthorized \(6\)/);
  }
  assert.notEqual(int1.id, int2.id);
});

test('OCSP after the same intermediate key is re-certified (same subject) and imported as a new CA record: a revoked leaf of either record reads revoked, on a node loaded before the re-import and on one started after, though the CertIDs of both match either record', async () => {
  const dir = tmp();
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => assert.equal(openssl(args).status, 0, args.join(' '));
  writeFiles(dir, { 'int.ext': 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' });
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-out', f('root.key')]);
  run(['req', '-x509', '-new', '-key', f('root.key'), '-sha384', '-days', '3650', '-subj', '/CN=Recertified Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash', '-out', f('root.pem')]);
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', f('int.key')]);
  run(['req', '-new', '-key', f('int.key'), '-subj', '/CN=Issuing', '-out', f('int.csr')]);
  // the same key and subject certified twice (a renewal of the intermediate's certificate): two serials, two validities
  run(['x509', '-req', '-in', f('int.csr'), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-CAcreateserial', '-days', '365', '-sha384', '-extfile', f('int.ext'), '-out', f('int1.pem')]);
  run(['x509', '-req', '-in', f('int.csr'), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-CAcreateserial', '-days', '730', '-sha384', '-extfile', f('int.ext'), '-out', f('int2.pem')]);
  const kind = fileSignerKind(testSecretBox());
  const store = new MemoryCertificateStore();
  const clock = new FrozenClock(Date.now());
  const mk = () => new CertificateAuthority({ store, signers: new SignerRegistry([kind]), clock, urlBase: 'https://id.example', trustDomain: 'example.org', serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  const key = readFileSync(f('int.key'), 'utf8');
  await importCa({ store, signerKind: kind, clock, role: 'root', certPem: readFileSync(f('root.pem'), 'utf8') });
  const int1 = await importCa({ store, signerKind: kind, clock, role: 'intermediate', certPem: readFileSync(f('int1.pem'), 'utf8'), keyPem: key });
  const before = mk();
  await before.load();
  const old = await before.issue({ profile: 'client', clientId: 'app1' });
  const oldKept = await before.issue({ profile: 'client', clientId: 'app1' });
  clock.advance(1000);
  const int2 = await importCa({ store, signerKind: kind, clock, role: 'intermediate', certPem: readFileSync(f('int2.pem'), 'utf8'), keyPem: key });
  assert.notEqual(int1.id, int2.id, 'the re-certified intermediate is a second CA record');
  await before.load(); // the running node picks up the new active intermediate
  const after = mk();
  await after.load();
  const fresh = await after.issue({ profile: 'client', clientId: 'app1' });
  const freshKept = await after.issue({ profile: 'client', clientId: 'app1' });
  assert.equal((await store.getCertificate(fresh.serial))?.issuerId, int2.id);
  await after.revoke(old.serial, 'keyCompromise');
  await after.revoke(fresh.serial, 'superseded');
  await before.applyRevoked(old.serial, int1.id);
  await before.applyRevoked(fresh.serial, int2.id);
  writeFiles(dir, { 'old.pem': old.certPem, 'oldKept.pem': oldKept.certPem, 'fresh.pem': fresh.certPem, 'freshKept.pem': freshKept.certPem });

  for (const [node, pki] of [['before', before], ['after', after]] as const) {
    for (const [issuer, leaf, status] of [
      ['int1.pem', 'old.pem', 'revoked[\\s\\S]*Reason: keyCompromise'],
      ['int1.pem', 'oldKept.pem', 'good'],
      ['int2.pem', 'fresh.pem', 'revoked[\\s\\S]*Reason: superseded'],
      ['int2.pem', 'freshKept.pem', 'good'],
    ] as const) {
      const args = ['-issuer', f(issuer), '-cert', f(leaf)];
      assert.equal(openssl(['ocsp', ...args, '-no_nonce', '-reqout', f('req.der')]).status, 0);
      const res = await pki.ocspRespond(new Uint8Array(readFileSync(f('req.der'))));
      writeFiles(dir, { 'resp.der': res });
      const out = openssl(['ocsp', '-no_nonce', '-respin', f('resp.der'), '-CAfile', f('root.pem'), ...args]).out;
      assert.match(out, /Response verify OK/, `${node} ${leaf}: ${out}`);
      assert.match(out, new RegExp(`${leaf.replace('.', '\\.')}: ${status}`), `${node} ${leaf}: ${out}`);
    }
  }
});
