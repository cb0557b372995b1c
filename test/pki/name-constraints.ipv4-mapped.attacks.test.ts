/**
 * RFC 5280 §4.2.1.10 compares an iPAddress name with the subtrees of its own length, so an
 * IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, RFC 4291 §2.5.5.2) is 16 octets and an IPv4
 * subtree 8: a byte-length comparison leaves the two unrelated. Go's crypto/tls (net.IP.Equal)
 * and others take the mapped address for 10.0.0.1, so a certificate naming it would be
 * accepted for that address past a CA that excludes 10.0.0.0/8, or permits only some IPv4
 * range. The mapped address is compared as its IPv4 address against IPv4 subtrees, at
 * issuance under a constrained CA and in the chain verifier for partner and client certificates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate } from '../../src/pki/issue.js';
import { verifyCertificateChain } from '../../src/pki/verify-chain.js';
import { constrainedCa, makeCa } from './helpers.js';

const check = (ca: ReturnType<typeof constrainedCa>, ip: string) => verifyCertificateChain(ca.leaf([`IP:${ip}`]), { anchors: ca.anchors, at: Date.now() });
const accepted = async (ca: ReturnType<typeof constrainedCa>, ip: string) => assert.doesNotReject(check(ca, ip), ip);
const refused = async (ca: ReturnType<typeof constrainedCa>, ip: string) => assert.rejects(check(ca, ip), (e: any) => e.code === 'cert.name-constraint', ip);

test('attack: an IPv4-mapped address (::ffff:10.0.0.1) under a CA that excludes 10.0.0.0/8 → cert.name-constraint', async () => {
  const ca = constrainedCa('excluded;IP:10.0.0.0/255.0.0.0');
  for (const ip of ['::ffff:10.0.0.1', '::ffff:a00:1', '10.0.0.1']) await refused(ca, ip);
  for (const ip of ['::ffff:192.168.0.1', '192.168.0.1', '2001:db8::1', '::a00:1']) await accepted(ca, ip);
});

test('attack: an IPv4-mapped address outside the permitted IPv4 range of a CA that permits all of IPv6 → cert.name-constraint', async () => {
  const ca = constrainedCa('permitted;IP:10.0.0.0/255.0.0.0,permitted;IP:::/::');
  for (const ip of ['::ffff:192.168.0.1', '192.168.0.1']) await refused(ca, ip);
  for (const ip of ['::ffff:10.0.0.1', '10.0.0.1', '2001:db8::1']) await accepted(ca, ip);
});

test('an IPv4-mapped address under a CA that permits only an IPv4 range is checked as that IPv4 address', async () => {
  const ca = constrainedCa('permitted;IP:10.0.0.0/255.0.0.0');
  for (const ip of ['::ffff:10.0.0.1', '10.0.0.1']) await accepted(ca, ip);
  for (const ip of ['::ffff:192.168.0.1', '192.168.0.1', '2001:db8::1']) await refused(ca, ip);
});

test('an excluded IPv4-mapped IPv6 subtree (::ffff:10.0.0.0/104) excludes the IPv4 addresses it maps, written either way', async () => {
  const ca = constrainedCa('excluded;IP:::ffff:10.0.0.0/ffff:ffff:ffff:ffff:ffff:ffff:ff00:0');
  for (const ip of ['::ffff:10.0.0.1', '10.0.0.1']) await refused(ca, ip);
  for (const ip of ['::ffff:192.168.0.1', '192.168.0.1']) await accepted(ca, ip);
});

test('attack: issuing an IPv4-mapped address outside the issuing CA\'s permitted IPv4 range → pki.name-not-permitted', async () => {
  const t = await makeCa({ trustDomain: 'example.org', permittedIps: ['10.0.0.0/8', '::/0'] });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', ipAddresses: ['::ffff:192.168.0.1'] }), { code: 'pki.name-not-permitted' });
  await assert.rejects(issueCertificate(t.ctx, { profile: 'server', ipAddresses: ['192.168.0.1'] }), { code: 'pki.name-not-permitted' });
  for (const ip of ['::ffff:10.0.0.1', '10.0.0.1', '2001:db8::1']) assert.ok((await issueCertificate(t.ctx, { profile: 'server', ipAddresses: [ip] })).serial, ip);
});
