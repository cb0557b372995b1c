/**
 * RFC 5280 §4.2 (whose Extensions RFC 6960 uses): "A certificate MUST NOT include more
 * than one instance of a particular extension". An OCSPRequest carrying the nonce
 * extension twice is ambiguous (which nonce binds the answer?): refused as
 * malformedRequest, not answered with one of them echoed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CertID, Nonce, OCSPRequest, OCSPResponse, Request, TBSRequest, id_pkix_ocsp_nonce } from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Extension } from '@peculiar/asn1-x509';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { OcspResponder } from '../../src/pki/ocsp.js';
import { makeCa } from './helpers.js';

const MALFORMED = Uint8Array.of(0x30, 0x03, 0x0a, 0x01, 0x01);

const nonceExtension = (n: number): Extension =>
  new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: new OctetString(AsnConvert.serialize(new Nonce(new Uint8Array(16).fill(n).buffer))) });

function request(view: ReturnType<typeof signingView>, serialHex: string, extensions: Extension[]): Uint8Array {
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26', parameters: null }),
    issuerNameHash: new OctetString(createHash('sha1').update(view.subject).digest()),
    issuerKeyHash: new OctetString(createHash('sha1').update(view.publicKeyBits).digest()),
    serialNumber: new Uint8Array(Buffer.from(serialHex, 'hex')).buffer,
  });
  const tbs = new TBSRequest({ requestList: [new Request({ reqCert: certId })] });
  tbs.requestExtensions = extensions;
  return new Uint8Array(AsnConvert.serialize(new OCSPRequest({ tbsRequest: tbs })));
}

test('attack: an OCSP request with the nonce extension twice → malformedRequest (not answered echoing the last)', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const view = signingView(t.ca);
  const ocsp = new OcspResponder(t.store, t.clock, view);
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  const once = AsnConvert.parse(await ocsp.respond(request(view, c.serial, [nonceExtension(1)])), OCSPResponse);
  assert.equal(once.responseStatus, 0, 'one nonce is answered');
  assert.deepEqual(await ocsp.respond(request(view, c.serial, [nonceExtension(1), nonceExtension(2)])), MALFORMED);
  assert.deepEqual(await ocsp.respond(request(view, c.serial, [nonceExtension(1), nonceExtension(1)])), MALFORMED, 'even when both carry the same nonce');
});

test('attack: any request extension twice (not only the nonce) → malformedRequest', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const view = signingView(t.ca);
  const ocsp = new OcspResponder(t.store, t.clock, view);
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  const other = (): Extension => new Extension({ extnID: '1.3.6.1.4.1.99999.1', critical: false, extnValue: new OctetString(new Uint8Array(4)) });
  assert.deepEqual(await ocsp.respond(request(view, c.serial, [other(), nonceExtension(1), other()])), MALFORMED);
});
