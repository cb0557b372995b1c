import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CrlPublisher } from '../../src/pki/crl.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { OcspResponder, decodeOcspGet } from '../../src/pki/ocsp.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { attime, makeCa, openssl, tmp, writeFiles } from './helpers.js';

// openssl ocsp checks thisUpdate/nextUpdate against the real time, so these CAs run on the real clock's time (frozen).
async function setup() {
  const t = await makeCa({ trustDomain: 'example.org', t0: Date.now() });
  const view = signingView(t.ca);
  const crl = new CrlPublisher(t.store, t.clock, view);
  const ocsp = new OcspResponder(t.store, t.clock, view);
  const rctx = { store: t.store, clock: t.clock, crls: new Map([[t.ca.record.id, crl]]), ocsp: [ocsp] };
  return { t, crl, ocsp, rctx };
}

test('revoked certificate fails openssl verify -crl_check (CRL path); the CRL parses with the X509 CRL label and a CRL number', async () => {
  const { t, crl, rctx } = await setup();
  const good = await issueCertificate(t.ctx, { profile: 'client', clientId: 'good' });
  const bad = await issueCertificate(t.ctx, { profile: 'client', clientId: 'bad' });
  const before = await crl.get();
  t.clock.advance(5000);
  await revokeCertificate(rctx, bad.serial, 'keyCompromise');
  const after = await crl.get();
  assert.ok(after.number > before.number, 'the CRL number increases on every regeneration');
  assert.match(after.pem, /^-----BEGIN X509 CRL-----\n/);
  const dir = tmp();
  const f = writeFiles(dir, { 'root.pem': t.rootPem, 'int.pem': t.intPem, 'good.pem': good.certPem, 'bad.pem': bad.certPem, 'crl.pem': after.pem, 'crl.der': after.der });
  const at = attime(t.clock.now());
  const base = ['verify', '-x509_strict', '-crl_check', '-attime', at, '-CAfile', f['root.pem']!, '-untrusted', f['int.pem']!, '-CRLfile', f['crl.pem']!];
  const ok = openssl([...base, f['good.pem']!]);
  assert.equal(ok.status, 0, ok.out);
  const revoked = openssl([...base, f['bad.pem']!]);
  assert.notEqual(revoked.status, 0);
  assert.match(revoked.out, /certificate revoked/);
  const text = openssl(['crl', '-inform', 'DER', '-in', f['crl.der']!, '-noout', '-text']);
  assert.equal(text.status, 0, text.out);
  assert.match(text.out, new RegExp(`X509v3 CRL Number: \\n\\s+${after.number}`));
  assert.match(text.out, /Key Compromise/);
  assert.match(text.out, new RegExp(bad.serial.toUpperCase()));
  assert.doesNotMatch(text.out, new RegExp(good.serial.toUpperCase()));
});

test('CRL is regenerated before it goes stale (half its validity)', async () => {
  const { t, crl } = await setup();
  const a = await crl.get();
  t.clock.advance(crl.validityMs / 2 - 1000);
  assert.equal((await crl.get()).number, a.number);
  t.clock.advance(2000);
  const b = await crl.get();
  assert.ok(b.number > a.number);
  assert.ok(b.nextUpdate > a.nextUpdate);
});

test('revoking twice is a conflict; an unknown serial is not-found', async () => {
  const { t, rctx } = await setup();
  const c = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.example.org'] });
  await revokeCertificate(rctx, c.serial);
  await assert.rejects(revokeCertificate(rctx, c.serial), { code: 'conflict' });
  await assert.rejects(revokeCertificate(rctx, '0badc0de'), { code: 'not-found' });
});

function ocspRequest(dir: string, f: Record<string, string>, leaf: string, extra: string[] = []): Uint8Array {
  const r = openssl(['ocsp', '-issuer', f['int.pem']!, '-cert', leaf, '-reqout', `${dir}/req.der`, ...extra]);
  assert.equal(r.status, 0, r.out);
  return new Uint8Array(readFileSync(`${dir}/req.der`));
}

test('OCSP (POST with nonce): openssl ocsp verifies the answer, the nonce, good then revoked (OCSP path)', async () => {
  const { t, ocsp, rctx } = await setup();
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  const dir = tmp();
  const f = writeFiles(dir, { 'root.pem': t.rootPem, 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  const check = async (): Promise<string> => {
    const req = ocspRequest(dir, f, f['leaf.pem']!);
    writeFiles(dir, { 'resp.der': await ocsp.respond(req) });
    // Only -reqin: with -cert, openssl would build a new request with a new nonce.
    const r = openssl(['ocsp', '-reqin', `${dir}/req.der`, '-respin', `${dir}/resp.der`, '-CAfile', f['root.pem']!, '-resp_text']);
    return `${r.status}\n${r.out}`;
  };
  const first = await check();
  assert.match(first, /^0\n/, first);
  assert.match(first, /Response verify OK/);
  assert.match(first, /Cert Status: good/);
  assert.match(first, /Response Extensions:\s+OCSP Nonce/);
  assert.doesNotMatch(first, /WARNING: no nonce|nonce verify error/i);
  await revokeCertificate(rctx, c.serial, 'superseded');
  const second = await check();
  assert.match(second, /Response verify OK/);
  assert.match(second, /Cert Status: revoked/);
  assert.match(second, /Revocation Reason: superseded/);
});

test('OCSP nonce is echoed exactly; a different request nonce makes openssl report a nonce mismatch', async () => {
  const { t, ocsp } = await setup();
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  const dir = tmp();
  const f = writeFiles(dir, { 'root.pem': t.rootPem, 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  const req1 = ocspRequest(dir, f, f['leaf.pem']!);
  writeFiles(dir, { 'req1.der': req1, 'resp1.der': await ocsp.respond(req1) });
  const req2 = ocspRequest(dir, f, f['leaf.pem']!);
  writeFiles(dir, { 'req2.der': req2 });
  const same = openssl(['ocsp', '-reqin', `${dir}/req1.der`, '-respin', `${dir}/resp1.der`, '-CAfile', f['root.pem']!]);
  assert.match(same.out, /Response verify OK/);
  assert.doesNotMatch(same.out, /nonce verify error/i);
  const replay = openssl(['ocsp', '-reqin', `${dir}/req2.der`, '-respin', `${dir}/resp1.der`, '-CAfile', f['root.pem']!]);
  assert.match(replay.out, /nonce verify error/i, 'a response replayed for another request must fail the nonce check');
});

test('OCSP GET (no nonce) is served from cache and refreshed before nextUpdate', async () => {
  const { t, ocsp } = await setup();
  const c = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['a.example.org'] });
  const dir = tmp();
  const f = writeFiles(dir, { 'root.pem': t.rootPem, 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  const req = ocspRequest(dir, f, f['leaf.pem']!, ['-no_nonce']);
  const path = encodeURIComponent(Buffer.from(req).toString('base64'));
  const a = await ocsp.respond(decodeOcspGet(path));
  const b = await ocsp.respond(decodeOcspGet(path));
  assert.equal(a, b, 'the second answer is the cached bytes');
  t.clock.advance(31 * 60_000);
  const c2 = await ocsp.respond(decodeOcspGet(path));
  assert.notDeepEqual(c2, a, 'past half the validity the answer is re-signed');
  writeFiles(dir, { 'resp.der': c2, 'req.der': req });
  // The frozen clock ran 31 min ahead of the real one: allow that skew.
  const r = openssl(['ocsp', '-no_nonce', '-validity_period', '3600', '-respin', `${dir}/resp.der`, '-CAfile', f['root.pem']!, '-issuer', f['int.pem']!, '-cert', f['leaf.pem']!]);
  assert.match(r.out, /Response verify OK/);
  assert.match(r.out, /leaf\.pem: good/);
});

test('OCSP: malformed request → malformedRequest; a certificate of another CA → unauthorized', async () => {
  const { ocsp } = await setup();
  assert.deepEqual(await ocsp.respond(Uint8Array.of(0x30, 0x03, 0x02, 0x01)), Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x01));
  const other = await makeCa();
  const c = await issueCertificate(other.ctx, { profile: 'server', dnsNames: ['x.test'] });
  const dir = tmp();
  const f = writeFiles(dir, { 'int.pem': other.intPem, 'leaf.pem': c.certPem });
  const req = ocspRequest(dir, f, f['leaf.pem']!);
  assert.deepEqual(await ocsp.respond(req), Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x06));
});

test('an intermediate under a root kept offline names no CRL distribution point (none could be kept current); under an online root it names the root CRL', async () => {
  const { createHierarchy } = await import('../../src/pki/hierarchy.js');
  const { MemoryCertificateStore } = await import('../../src/pki/memory-store.js');
  const { fileSignerKind } = await import('../../src/pki/signer.js');
  const { crlDistributionPointsOf, parseCertificate } = await import('../../src/pki/parse.js');
  const { FrozenClock } = await import('../../src/core/clock.js');
  const { testSecretBox } = await import('./helpers.js');
  const mk = (rootKeyOffline: boolean) =>
    createHierarchy({ store: new MemoryCertificateStore(), signerKind: fileSignerKind(testSecretBox()), clock: new FrozenClock(Date.now()), urlBase: 'https://id.example.org', ...(rootKeyOffline ? { rootKeyOffline } : {}) });
  const offline = await mk(true);
  assert.equal(crlDistributionPointsOf(parseCertificate(offline.intermediate.certDer)), null);
  const online = await mk(false);
  assert.deepEqual(crlDistributionPointsOf(parseCertificate(online.intermediate.certDer)), [`https://id.example.org/pki/crl/${online.root.id}.crl`]);
});

test('a CRL that cannot be rebuilt at revocation does not undo the revocation: it is told to every node and the next CRL served lists it', async () => {
  const { t, crl } = await setup();
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  const before = await crl.get();
  // publishing the CRL fails once, exactly when the revocation rebuilds the CRL
  let fail = false;
  let failed = 0;
  const store = Object.create(t.store) as typeof t.store;
  store.publishCrlIfUnchanged = async (id, read, published) => {
    if (fail) {
      fail = false;
      failed++;
      throw new Error('database is locked');
    }
    return t.store.publishCrlIfUnchanged(id, read, published);
  };
  const publisher = new CrlPublisher(store, t.clock, signingView(t.ca));
  await publisher.get();
  fail = true;
  const told: string[] = [];
  const rec = await revokeCertificate({ store, clock: t.clock, crls: new Map([[t.ca.record.id, publisher]]), onRevoked: (r) => void told.push(r.serial) }, c.serial, 'keyCompromise');
  assert.equal(rec.status, 'revoked');
  assert.deepEqual(told, [c.serial], 'the revocation is published to the other nodes');
  assert.equal(failed, 1, 'the rebuild at revocation failed');
  const after = await publisher.get();
  assert.ok(after.number > before.number);
  const dir = tmp();
  const f = writeFiles(dir, { 'crl.der': after.der });
  const text = openssl(['crl', '-inform', 'DER', '-in', f['crl.der']!, '-noout', '-text']);
  assert.match(text.out, new RegExp(c.serial.toUpperCase()), 'the CRL served next lists the revoked certificate');
});
