/**
 * The names a server certificate may carry, by type: an IP address is an iPAddress SAN,
 * never a dNSName (CA/B BR 7.1.2.7.12; RFC 1123 §2.1: a host name never has the
 * dotted-decimal form, its top label is not numeric), since a client that matches the
 * text of a dNSName would take it for the address, and it escapes the CA's IP name
 * constraints. An IPv6 zone index (`%eth0`) names an interface of one host, which no
 * certificate can carry: refused rather than silently dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate } from '../../src/pki/issue.js';
import { makeCa } from './helpers.js';

for (const name of ['10.0.0.5', '127.0.0.1', '1.2.3.4.5', 'api.123', '0x7f.1']) {
  test(`attack: an address-looking DNS name (${name}) is refused as a dNSName (pki.name-not-permitted)`, async () => {
    const t = await makeCa();
    await assert.rejects(issueCertificate(t.ctx, { profile: 'server', dnsNames: [name] }), { code: 'pki.name-not-permitted' });
  });
}

test('attack: an IPv6 address with a zone index is refused (pki.name-not-permitted), not issued for the address without it', async () => {
  const t = await makeCa();
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', ipAddresses: ['fe80::1%eth0'] }), { code: 'pki.name-not-permitted' });
});

test('host names with numeric labels below a named top label, and IP addresses as IP SANs, are still issued', async () => {
  const t = await makeCa();
  const c = await issueCertificate(t.ctx, { profile: 'server', dnsNames: ['10.0.0.5.nip.io', '1st.example.org', 'localhost'], ipAddresses: ['10.0.0.5', '::ffff:1.2.3.4'] });
  assert.ok(c.serial);
});
