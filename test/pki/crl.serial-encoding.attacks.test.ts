/**
 * A CRL entry names a certificate by its serial INTEGER. A CA that writes the INTEGER
 * with a redundant leading zero octet (not minimal, as some CA software does for
 * unsigned serials) still names the certificate, as OpenSSL reads it: the partner's
 * revocation must not be lost (fail open) because the octets differ from the
 * certificate's minimal encoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCrl } from '../../src/pki/crl.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { parseCertificate } from '../../src/pki/parse.js';
import { crlRevocationLookup } from '../../src/pki/revocation-lookup.js';
import type { CertificateStore } from '../../src/pki/store.js';
import { makeCa } from './helpers.js';

test('attack: a CRL entry whose serial carries a redundant leading zero octet still revokes the certificate → revoked', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  assert.ok(Number.parseInt(c.serial.slice(0, 2), 16) < 0x80, 'a serial whose first octet leaves the sign bit clear');
  await t.store.revokeCertificate(c.serial, t.clock.now(), 'keyCompromise');
  // the partner's CA software writes the serial as 00 || serial
  const store: CertificateStore = Object.create(t.store);
  store.crlSnapshot = async (id) => {
    const s = await t.store.crlSnapshot(id);
    return { ...s, revoked: s.revoked.map((r) => ({ ...r, serial: `00${r.serial}` })) };
  };
  const crl = await buildCrl(store, t.clock, signingView(t.ca), 86_400_000);
  const lookup = crlRevocationLookup([crl.der], () => t.clock.now());
  assert.equal(await lookup(parseCertificate(c.der), t.ca.cert), 'revoked');
});
