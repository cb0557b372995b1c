/**
 * RFC 5280 §4.2.1.10: a uniformResourceIdentifier constraint applies to the host part of
 * the URI, and a constraint on a name form present in a certificate must be processed or
 * the certificate rejected. A URI SAN without a host (`urn:...`, `spiffe:x`, `spiffe:///x`)
 * cannot be compared with a host, so under a CA with any URI constraint it is refused:
 * with a permitted subtree it was (no host matches none), but with excluded subtrees only it
 * was accepted, as if it lay outside every excluded host. OpenSSL (nc_uri: unsupported name
 * syntax, on excluded as on permitted subtrees) and Go (URI with empty host) refuse it too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { satisfiesNameConstraints } from '../../src/pki/name-constraints.js';
import { verifyCertificateChain } from '../../src/pki/verify-chain.js';
import { openssl, tmp, writeFiles } from './helpers.js';

const HOSTLESS = ['urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66', 'spiffe:evil.example/app/billing', 'spiffe:///app/billing', 'https://user@/x'];

/** A CA with name constraints `constraints` (openssl syntax) and a leaf under it for each URI SAN list. */
function caWith(constraints: string): { anchors: Uint8Array[]; leaf: (uris: string[]) => Uint8Array } {
  const dir = tmp();
  const f = (n: string) => join(dir, n);
  const ok = (args: string[]) => assert.equal(openssl(args).status, 0, args.join(' '));
  ok(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=URI CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', `nameConstraints=critical,${constraints}`]);
  let n = 0;
  return {
    anchors: [new Uint8Array(new X509Certificate(readFileSync(f('ca.pem'))).raw)],
    leaf: (uris) => {
      const name = `leaf${n++}`;
      writeFiles(dir, { [`${name}.ext`]: `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=${uris.map((u) => `URI:${u}`).join(',')}\n` });
      ok(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
      ok(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`)]);
      return new Uint8Array(new X509Certificate(readFileSync(f(`${name}.pem`))).raw);
    },
  };
}

test('attack: a URI SAN without a host under a CA with excluded URI subtrees only → cert.name-constraint', async () => {
  const ca = caWith('excluded;URI:.evil.example');
  // a URI with a host outside the excluded subtree is accepted, one inside refused
  await verifyCertificateChain(ca.leaf(['spiffe://partner.example/app/billing']), { anchors: ca.anchors, at: Date.now() });
  await assert.rejects(verifyCertificateChain(ca.leaf(['spiffe://a.evil.example/app/billing']), { anchors: ca.anchors, at: Date.now() }), (e: any) => e.code === 'cert.name-constraint');
  for (const uri of HOSTLESS) {
    await assert.rejects(verifyCertificateChain(ca.leaf([uri]), { anchors: ca.anchors, at: Date.now() }), (e: any) => e.code === 'cert.name-constraint', uri);
  }
});

test('a URI SAN without a host under a CA with permitted URI subtrees → cert.name-constraint', async () => {
  const ca = caWith('permitted;URI:.partner.example');
  await verifyCertificateChain(ca.leaf(['spiffe://a.partner.example/app/billing']), { anchors: ca.anchors, at: Date.now() });
  for (const uri of HOSTLESS) {
    await assert.rejects(verifyCertificateChain(ca.leaf([uri]), { anchors: ca.anchors, at: Date.now() }), (e: any) => e.code === 'cert.name-constraint', uri);
  }
});

test('a URI SAN without a host is unconstrained where no URI constraint applies (another name form only)', () => {
  const uri = { type: 'uri' as const, value: 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66' };
  assert.equal(satisfiesNameConstraints([uri], { permitted: null, excluded: [{ name: { type: 'dns', value: 'evil.example' } }] }), true);
  assert.equal(satisfiesNameConstraints([uri], { permitted: [{ name: { type: 'dns', value: 'partner.example' } }], excluded: [] }), true);
});
