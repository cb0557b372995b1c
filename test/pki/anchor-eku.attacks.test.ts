/**
 * A trust anchor's extended key usage limits what it vouches for, as its name
 * constraints, path length and keyUsage already do: a partner CA in a route's
 * `caBundle` restricted to serverAuth (a TLS server CA, or a cross-certificate
 * issued for server use only) must not admit client certificates, whatever EKU
 * the leaf claims. `openssl verify -purpose sslclient` refuses such a chain (error
 * 26, unsuitable certificate purpose). An anchor whose EKU names clientAuth (or
 * anyExtendedKeyUsage, as on an intermediate) still passes.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { CertificateAuthority } from '../../src/pki/authority.js';
import { fromPem } from '../../src/pki/pem.js';
import { hasOpenssl, makeCa, openssl, opensslCerts, tmp } from './helpers.js';

const dir = tmp();
const f = (name: string) => join(dir, name);
const der = (name: string) => fromPem(readFileSync(f(name), 'utf8'), 'CERTIFICATE');
const skip = !hasOpenssl() && 'openssl is not installed';

/** Partner roots with EKU serverAuth, clientAuth and anyExtendedKeyUsage, each with a clientAuth leaf under it. */
before(() => {
  if (!hasOpenssl()) return;
  const o = opensslCerts(dir);
  const ext = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n';
  for (const [name, eku] of [['server', 'serverAuth'], ['client', 'clientAuth'], ['any', 'anyExtendedKeyUsage']] as const) {
    for (const k of [`${name}-root`, `${name}-leaf`]) o.key(k);
    o.root(`${name}-root`, { subj: `/O=Partner/CN=${name} CA`, days: 30, digest: 'sha256', addext: [`extendedKeyUsage=${eku}`] });
    o.issue(`${name}-leaf`, { ca: `${name}-root`, subj: `/O=Partner/CN=${name} client`, days: 10, digest: 'sha256', ext });
  }
});

async function node(): Promise<CertificateAuthority> {
  const t = await makeCa({ trustDomain: 'example.org', t0: Date.now() });
  const pki = new CertificateAuthority({ store: t.store, signers: t.signers, clock: t.clock, urlBase: 'https://id.example', trustDomain: 'example.org', serverLifetimeMs: 864e5, clientLifetimeMs: 864e5, crlLifetimeMs: 864e5, ocspLifetimeMs: 36e5 });
  assert.ok(await pki.load());
  return pki;
}

test('attack: a caBundle anchor whose EKU allows serverAuth only vouches for a clientAuth leaf → cert.wrong-usage (openssl: unsuitable certificate purpose)', { skip }, async () => {
  const r = openssl(['verify', '-purpose', 'sslclient', '-CAfile', f('server-root.pem'), f('server-leaf.pem')]);
  assert.notEqual(r.status, 0, 'openssl refuses the chain');
  assert.match(r.out, /unsuitable certificate purpose/);
  const pki = await node();
  await assert.rejects(pki.verifyPeer([der('server-leaf.pem')], { mapToApp: false, anchors: [der('server-root.pem')], revocation: () => 'good' }), { code: 'cert.wrong-usage' });
});

test('a caBundle anchor whose EKU names clientAuth or anyExtendedKeyUsage still admits its clientAuth leaves', { skip }, async () => {
  const pki = await node();
  assert.equal(openssl(['verify', '-purpose', 'sslclient', '-CAfile', f('client-root.pem'), f('client-leaf.pem')]).status, 0);
  // (openssl refuses an anyExtendedKeyUsage CA for sslclient too; Portcullis takes it as it does on an intermediate)
  for (const name of ['client', 'any']) {
    const v = await pki.verifyPeer([der(`${name}-leaf.pem`)], { mapToApp: false, anchors: [der(`${name}-root.pem`)], revocation: () => 'good' });
    assert.equal(v.path.length, 2);
  }
});
