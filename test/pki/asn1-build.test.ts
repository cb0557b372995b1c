/**
 * The CA's build side on @peculiar/asn1-*: generated keys, the OCSP request cache and
 * request strictness, IP names and constraints, PKCS#12 bag attributes. The openssl
 * checks of certificates, CRLs and OCSP answers are in issue.test.ts and revocation.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AuthenticatedSafe, PFX, SafeContents } from '@peculiar/asn1-pfx';
import { id_pkcs9_at_friendlyName, id_pkcs9_at_localKeyId } from '@peculiar/asn1-pkcs9';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CertID, OCSPRequest, OCSPResponse, Request, TBSRequest } from '@peculiar/asn1-ocsp';
import { AlgorithmIdentifier, Extension } from '@peculiar/asn1-x509';
import { createHash, randomBytes } from 'node:crypto';
import { ipBytes, keyIdentifier } from '../../src/pki/certificate.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { generateLeafKey } from '../../src/pki/leaf-key.js';
import { OcspResponder } from '../../src/pki/ocsp.js';
import { parseCertificate, subjectAltNamesOf } from '../../src/pki/parse.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { makeCa, openssl, tmp, writeFiles } from './helpers.js';

const MALFORMED = Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x01);

test('generated leaf key: SPKI, PKCS#8 PEM and key identifier are exactly what node:crypto writes for the same key', () => {
  for (let i = 0; i < 50; i++) {
    const k = generateLeafKey();
    const priv = createPrivateKey(k.privateKeyPem);
    assert.equal(priv.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(priv.export({ format: 'pem', type: 'pkcs8' }), k.privateKeyPem);
    assert.deepEqual(new Uint8Array(createPublicKey(priv).export({ format: 'der', type: 'spki' })), k.spki);
    assert.deepEqual(k.keyId, keyIdentifier(k.spki));
  }
});

async function ocspSetup() {
  // openssl ocsp checks thisUpdate/nextUpdate against the real time.
  const t = await makeCa({ trustDomain: 'example.org', t0: Date.now() });
  const ocsp = new OcspResponder(t.store, t.clock, signingView(t.ca));
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  const dir = tmp();
  const f = writeFiles(dir, { 'root.pem': t.rootPem, 'int.pem': t.intPem, 'leaf.pem': c.certPem });
  const r = openssl(['ocsp', '-issuer', f['int.pem']!, '-cert', f['leaf.pem']!, '-no_nonce', '-reqout', `${dir}/req.der`]);
  assert.equal(r.status, 0, r.out);
  return { t, ocsp, c, dir, f, req: new Uint8Array(readFileSync(`${dir}/req.der`)) };
}

test('OCSP: a cached answer (no nonce, keyed by the CertID) is dropped on revocation; the next answer says revoked', async () => {
  const { t, ocsp, c, dir, f, req } = await ocspSetup();
  const good = await ocsp.respond(req);
  assert.equal(await ocsp.respond(req), good, 'served from the cache');
  await revokeCertificate({ store: t.store, clock: t.clock, ocsp: [ocsp] }, c.serial, 'keyCompromise');
  const after = await ocsp.respond(req);
  assert.notEqual(after, good);
  writeFiles(dir, { 'resp.der': after });
  const r = openssl(['ocsp', '-no_nonce', '-respin', `${dir}/resp.der`, '-CAfile', f['root.pem']!, '-issuer', f['int.pem']!, '-cert', f['leaf.pem']!]);
  assert.match(r.out, /Response verify OK/);
  assert.match(r.out, /leaf\.pem: revoked/);
  assert.match(r.out, /Reason: keyCompromise/);
});

/** A nonce-less OCSPRequest for one serial of `ca`, padded with an arbitrary non-critical request extension. */
function paddedRequest(view: ReturnType<typeof signingView>, serial: Uint8Array, pad: number): Uint8Array {
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26', parameters: null }),
    issuerNameHash: new OctetString(createHash('sha1').update(view.subject).digest()),
    issuerKeyHash: new OctetString(createHash('sha1').update(view.publicKeyBits).digest()),
    serialNumber: serial.slice().buffer,
  });
  const tbs = new TBSRequest({ requestList: [new Request({ reqCert: certId })] });
  tbs.requestExtensions = [new Extension({ extnID: '1.3.6.1.4.1.99999.1', critical: false, extnValue: new OctetString(randomBytes(pad)) })];
  return new Uint8Array(AsnConvert.serialize(new OCSPRequest({ tbsRequest: tbs })));
}

test('attack: OCSP cache pinning without authentication: padded requests for unknown serials keep nothing, padded requests for a known serial share one small entry, and the cache stays within its byte bound', async () => {
  const t = await makeCa({ trustDomain: 'example.org', t0: Date.now() });
  const view = signingView(t.ca);
  const ocsp = new OcspResponder(t.store, t.clock, view, { cacheBytes: 8 * 1024 });
  for (let i = 0; i < 200; i++) {
    const res = AsnConvert.parse(await ocsp.respond(paddedRequest(view, Uint8Array.of(0x01, ...randomBytes(15)), 15_000)), OCSPResponse);
    assert.equal(res.responseStatus, 0, 'the responder still answers (unknown)');
  }
  assert.deepEqual(ocsp.cacheUsage, { entries: 0, bytes: 0 }, 'unknown serials are never cached');
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  const serial = Uint8Array.from(Buffer.from(c.serial, 'hex'));
  const first = await ocsp.respond(paddedRequest(view, serial, 15_000));
  for (let i = 0; i < 50; i++) assert.equal(await ocsp.respond(paddedRequest(view, serial, 15_000)), first, 'every padding of one CertID hits the same entry');
  assert.equal(ocsp.cacheUsage.entries, 1);
  assert.ok(ocsp.cacheUsage.bytes < 3 * 1024, `one entry holds ${ocsp.cacheUsage.bytes} bytes, not the padding`);
  for (let i = 0; i < 30; i++) {
    const more = await issueCertificate(t.ctx, { profile: 'client', clientId: `app-${i}` });
    await ocsp.respond(paddedRequest(view, Uint8Array.from(Buffer.from(more.serial, 'hex')), 1_000));
    assert.ok(ocsp.cacheUsage.bytes <= 8 * 1024, `the cache holds ${ocsp.cacheUsage.bytes} bytes, over its 8 KiB bound`);
  }
  assert.ok(ocsp.cacheUsage.entries > 1 && ocsp.cacheUsage.entries < 31, 'older answers were evicted to stay within the bound');
});

test('OCSP request smuggling: BER instead of DER (a long-form length) or trailing bytes → malformedRequest', async () => {
  const { ocsp, req } = await ocspSetup();
  assert.ok(req[1]! < 0x80, 'openssl writes a short request');
  const longForm = Uint8Array.from([0x30, 0x81, req[1]!, ...req.subarray(2)]);
  assert.deepEqual(await ocsp.respond(longForm), MALFORMED);
  assert.deepEqual(await ocsp.respond(Uint8Array.from([...req, 0x00])), MALFORMED);
  assert.notDeepEqual(await ocsp.respond(req), MALFORMED, 'the DER request itself is answered');
});

test('IP names written through asn1-x509 read back as the same octets: IPv4 CIDR constraints masked, IPv6, IPv4-mapped SANs', async () => {
  const t = await makeCa({ trustDomain: 'example.org', permittedIps: ['10.1.2.3/16', 'fd00::/8'] });
  const ips = [...(t.ca.nameConstraints?.permitted ?? [])].flatMap((s) => (s.name.type === 'ip' ? [Array.from(s.name.value)] : []));
  assert.deepEqual(ips, [
    [10, 1, 0, 0, 255, 255, 0, 0],
    [0xfd, ...new Array<number>(15).fill(0), 0xff, ...new Array<number>(15).fill(0)],
  ]);
  const free = await makeCa();
  const names = ['127.0.0.1', '2001:db8::8:800:200c:417a', '::ffff:1.2.3.4'];
  const c = await issueCertificate(free.ctx, { profile: 'server', ipAddresses: names });
  const sans = subjectAltNamesOf(parseCertificate(c.der))!;
  assert.deepEqual(
    sans.map((n) => (n.type === 'ip' ? Array.from(n.value) : n.type)),
    names.map((n) => Array.from(ipBytes(n))),
  );
});

test('PKCS#12: key and leaf carry localKeyId and friendlyName (a DER SET of bag attributes) and openssl pairs them', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'billing', pkcs12Password: 'pw' });
  const dir = tmp();
  const f = writeFiles(dir, { 'b.p12': c.pkcs12! });
  const r = openssl(['pkcs12', '-in', f['b.p12']!, '-passin', 'pass:pw', '-nodes', '-info']);
  assert.equal(r.status, 0, r.out);
  assert.equal(r.out.match(/friendlyName: billing/g)?.length, 2, r.out);
  const ids = [...r.out.matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1]!.trim());
  assert.equal(ids.length, 2);
  assert.equal(ids[0], ids[1], 'the key and its certificate share a localKeyId');
  // X.690 §11.6: SET OF elements in ascending order of their encodings (friendlyName …9.20 before localKeyId …9.21).
  const pfx = AsnConvert.parse(c.pkcs12!, PFX);
  const inner = (content: ArrayBuffer): ArrayBuffer => AsnConvert.parse(content, OctetString).buffer;
  const safes = AsnConvert.parse(inner(pfx.authSafe.content), AuthenticatedSafe);
  const certBags = AsnConvert.parse(inner(safes[0]!.content), SafeContents);
  const keyBags = AsnConvert.parse(inner(safes[1]!.content), SafeContents);
  for (const bag of [certBags[0]!, keyBags[0]!]) assert.deepEqual(bag.bagAttributes?.map((a) => a.attrId), [id_pkcs9_at_friendlyName, id_pkcs9_at_localKeyId]);
  assert.equal(certBags.length, 3, 'leaf, intermediate and root');
});
