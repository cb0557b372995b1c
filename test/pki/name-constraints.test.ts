/** Name constraints against wildcard SANs (CVE-2025-61727): a wildcard that could stand for an excluded name is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { satisfiesNameConstraints } from '../../src/pki/name-constraints.js';
import type { NameConstraints } from '../../src/pki/parse.js';

const dns = (value: string) => ({ type: 'dns' as const, value });
const excluding = (...bases: string[]): NameConstraints => ({ permitted: null, excluded: bases.map((b) => ({ name: dns(b) })) });

test('attack: CVE-2025-61727 — *.example.com under a CA that forbids bar.example.com is refused (the wildcard would match it)', () => {
  assert.equal(satisfiesNameConstraints([dns('*.example.com')], excluding('bar.example.com')), false);
  assert.equal(satisfiesNameConstraints([dns('*.EXAMPLE.com.')], excluding('Bar.Example.Com')), false);
});

test('a wildcard that cannot reach the excluded subtree is accepted', () => {
  // * stands for one label: it never matches a.bar.example.com
  assert.equal(satisfiesNameConstraints([dns('*.example.com')], excluding('a.bar.example.com')), true);
  assert.equal(satisfiesNameConstraints([dns('*.example.com')], excluding('bar.example.org')), true);
  assert.equal(satisfiesNameConstraints([dns('*.foo.example.com')], excluding('bar.example.com')), true);
  // plain names are unchanged
  assert.equal(satisfiesNameConstraints([dns('foo.example.com')], excluding('bar.example.com')), true);
  assert.equal(satisfiesNameConstraints([dns('bar.example.com')], excluding('bar.example.com')), false);
});

test('a wildcard inside an excluded subtree is refused as before', () => {
  assert.equal(satisfiesNameConstraints([dns('*.example.com')], excluding('example.com')), false);
  assert.equal(satisfiesNameConstraints([dns('*.bar.example.com')], excluding('bar.example.com')), false);
});

test('attack: a leaf with no email SAN puts an address outside the CA\'s rfc822Name subtree in its subject emailAddress → cert.name-constraint (RFC 5280 §4.2.1.10)', async () => {
  const { X509Certificate } = await import('node:crypto');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { verifyCertificateChain } = await import('../../src/pki/verify-chain.js');
  const { openssl, tmp, writeFiles } = await import('./helpers.js');
  const dir = tmp();
  const f = (n: string) => join(dir, n);
  const ok = (args: string[]) => assert.equal(openssl(args).status, 0, args.join(' '));
  writeFiles(dir, { 'leaf.ext': 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' });
  ok(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Email CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'nameConstraints=critical,permitted;email:example.com']);
  const leafFor = (name: string, email: string) => {
    ok(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}/emailAddress=${email}`]);
    ok(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('leaf.ext'), '-out', f(`${name}.pem`)]);
    return new Uint8Array(new X509Certificate(readFileSync(f(`${name}.pem`))).raw);
  };
  const anchors = [new Uint8Array(new X509Certificate(readFileSync(f('ca.pem'))).raw)];
  await verifyCertificateChain(leafFor('inside', 'alice@example.com'), { anchors, at: Date.now() });
  await assert.rejects(verifyCertificateChain(leafFor('outside', 'mallory@evil.org'), { anchors, at: Date.now() }), (e: any) => e.code === 'cert.name-constraint');
});
