/**
 * RFC 5280 §4.2.1.10: a uniformResourceIdentifier constraint applies to the host part of
 * the URI. The host must be read the way a client reads it, or a URI names a host inside
 * an excluded subtree while the check sees another: the absolute form (`a.evil.example.`,
 * the same name, as dnsMatches reads it), another case, a port or userinfo. A host the
 * check cannot compare with a domain constraint — an IP literal (`[::1]`, `10.0.0.1`),
 * percent-encoding (`a.evil%2Eexample`), an empty label, characters no host name has — is
 * refused under any URI constraint, as a URI without a host is (Go refuses IP hosts and
 * ASCII percent-escapes too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyCertificateChain } from '../../src/pki/verify-chain.js';
import { constrainedCa } from './helpers.js';

/** A CA with name constraints `constraints` (openssl syntax) and a leaf under it per URI. */
function caWith(constraints: string) {
  const ca = constrainedCa(constraints);
  return { anchors: ca.anchors, leaf: (uris: string[]) => ca.leaf(uris.map((u) => `URI:${u}`)) };
}

const accepted = async (ca: ReturnType<typeof caWith>, uri: string) =>
  assert.doesNotReject(verifyCertificateChain(ca.leaf([uri]), { anchors: ca.anchors, at: Date.now() }), uri);
const refused = async (ca: ReturnType<typeof caWith>, uri: string) =>
  assert.rejects(verifyCertificateChain(ca.leaf([uri]), { anchors: ca.anchors, at: Date.now() }), (e: any) => e.code === 'cert.name-constraint', uri);

/** Hosts the check cannot compare with a domain constraint. */
const UNCOMPARABLE = [
  'https://[::1]/x',
  'https://[2001:db8::1]:443/x',
  'https://[v1.evil.example]/x',
  'https://10.0.0.1/x',
  'https://a.evil%2Eexample/x',
  'https://a.partner%2Eexample/x',
  'https://a..evil.example/x',
  'https://a.evil.example../x',
  'https://u@v@a.evil.example/x',
  'https://a.evil.example;x/x',
  'https://a.evil.example:44x/x',
];

test('attack: a URI host in an excluded subtree, written absolute, in another case, with a port or userinfo → cert.name-constraint', async () => {
  const ca = caWith('excluded;URI:.evil.example,excluded;URI:evil.example');
  await accepted(ca, 'https://partner.example/x');
  await accepted(ca, 'https://partner.example./x');
  await accepted(ca, 'https://u:p@partner.example:8443/x');
  await accepted(ca, 'spiffe://notevil.example/app');
  for (const uri of [
    'https://a.evil.example./x',
    'https://evil.example./x',
    'spiffe://a.evil.example./app',
    'https://A.EVIL.Example/x',
    'https://EVIL.EXAMPLE./x',
    'https://a.evil.example:443/x',
    'https://a.evil.example.:443/x',
    'https://u@a.evil.example/x',
    'https://u:p@a.evil.example.:8443/x',
  ]) {
    await refused(ca, uri);
  }
});

test('attack: a URI host an excluded URI subtree cannot be compared with (IP literal, percent-encoding, empty label) → cert.name-constraint', async () => {
  const ca = caWith('excluded;URI:.evil.example');
  for (const uri of UNCOMPARABLE) await refused(ca, uri);
});

test('a URI host in a permitted subtree is the same name absolute, in another case, with a port or userinfo', async () => {
  const ca = caWith('permitted;URI:.partner.example,permitted;URI:partner.example');
  for (const uri of ['https://a.partner.example/x', 'https://a.partner.example./x', 'https://partner.example./x', 'https://A.Partner.EXAMPLE:443/x', 'https://u:p@a.partner.example.:8443/x']) {
    await accepted(ca, uri);
  }
  await refused(ca, 'https://a.partner.example.evil.example/x');
  await refused(ca, 'https://apartner.example/x');
  for (const uri of UNCOMPARABLE) await refused(ca, uri);
});
