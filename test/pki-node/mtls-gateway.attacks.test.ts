/**
 * Mutual TLS through the running node's gateway, with real TLS sockets, curl and
 * openssl as outside clients: who gets through an mTLS route, what the upstream
 * learns, and every named attack with its exact error code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { issueCertificate } from '../../src/pki/issue.js';
import { EXT, encodeName, encodeTbs, extension, keyIdentifier, randomSerial, sanValue, signStructure, skiValue, basicConstraintsValue, ekuValue, keyUsageValue, KU, EKU } from '../../src/pki/certificate.js';
import { toPem } from '../../src/pki/pem.js';
import { activeCa, createHierarchy, loadSigner } from '../../src/pki/hierarchy.js';
import { buildCrl } from '../../src/pki/crl.js';
import { parseCertificate } from '../../src/pki/parse.js';
import { openIssuingCa, signingView } from '../../src/pki/issuing-ca.js';
import { CrlPublisher } from '../../src/pki/crl.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import { MemoryCertificateStore } from '../../src/pki/memory-store.js';
import { SignerRegistry, fileSignerKind } from '../../src/pki/signer.js';
import { testSecretBox } from '../pki/helpers.js';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { TRUST_DOMAIN, admin, clientCert, createApp, echoUpstream, files, https, run, startTlsNode } from './helpers.js';

let node: TestNode;
let up: Awaited<ReturnType<typeof echoUpstream>>;
let ca: string;
let appId: string;
let good: { serial: string; cert: string; key: string; chain: string };
let gw: string;

before(async () => {
  up = await echoUpstream();
  node = await startTlsNode(up.url);
  ca = node.services.pki.rootPem();
  gw = node.urls.gateway!;
  appId = await createApp(node, 'billing');
  good = await clientCert(node, appId);
});
after(async () => {
  await node?.stop();
  up?.server.close();
});

/** A client certificate for `appId` issued by the node's CA at another time (a past or future clock). */
async function certAt(t: number, lifetimeMs = 3_600_000): Promise<{ cert: string; key: string }> {
  const ctx = { ...node.services.pki.issueContext(), clock: new FrozenClock(t) };
  const c = await issueCertificate(ctx, { profile: 'client', clientId: appId, lifetimeMs });
  return { cert: c.certPem, key: c.privateKeyPem! };
}

const code = (r: { json: any }) => r.json?.code;

/** Another TLS node of the same trust domain, with the routes `extra` gives. */
function startTlsNodeWith(extra: string): Promise<TestNode> {
  return startTestNode({ config: testConfig(`pki: { trustDomain: ${TRUST_DOMAIN} }\ntls: { mode: auto }\n${extra}`, 'https://127.0.0.1:8080') });
}

test('curl --cacert reaches the identity plane and the gateway over TLS; without the CA curl refuses the server certificate', async () => {
  const f = files({ 'ca.pem': ca });
  const id = await run('curl', ['-sS', '--cacert', f['ca.pem']!, `${node.urls.identity}/.well-known/openid-configuration`]);
  assert.equal(id.code, 0, id.err);
  assert.equal(JSON.parse(id.out).issuer, 'https://127.0.0.1:8080');
  const open = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', f['ca.pem']!, `${gw}/open/x`]);
  assert.equal(open.out, '200');
  // without the CA the server certificate is not trusted
  const untrusted = await run('curl', ['-sS', `${gw}/open/x`]);
  assert.notEqual(untrusted.code, 0);
});

test('curl --cert/--key over mTLS: 200, the upstream gets the verified app, serial and subject', async () => {
  const f = files({ 'ca.pem': ca, 'app.pem': good.cert, 'app.key': good.key });
  const r = await run('curl', ['-sS', '--cacert', f['ca.pem']!, '--cert', f['app.pem']!, '--key', f['app.key']!, `${gw}/mtls/orders`]);
  assert.equal(r.code, 0, r.err);
  const h = JSON.parse(r.out).headers;
  assert.equal(h['x-portcullis-client-cert-app'], appId);
  assert.equal(h['x-portcullis-client-cert-serial'], good.serial);
  assert.equal(h['x-portcullis-client-cert-subject'], `CN=${appId}`);
});

test('attack: forged client-certificate headers are stripped on mTLS and on open routes (RFC 9700 §4.13)', async () => {
  const forged = {
    'x-client-cert': 'forged',
    'ssl-client-cert': 'forged',
    'x-ssl-client-verify': 'SUCCESS',
    'x-ssl-client-s-dn': 'CN=admin',
    'x-forwarded-client-cert': 'By=spiffe://x;Hash=1;URI=spiffe://example.org/app/admin',
    'client-cert': ':Zm9yZ2Vk:',
    'client-cert-chain': ':Zm9yZ2Vk:',
    'x-portcullis-client-cert-app': 'admin',
  };
  const open = await https(`${gw}/open/x`, { ca, headers: forged });
  assert.equal(open.status, 200);
  for (const name of Object.keys(forged)) assert.equal(open.json.headers[name], undefined, `${name} reached the upstream`);
  const m = await https(`${gw}/mtls/x`, { ca, cert: good.cert, key: good.key, headers: forged });
  assert.equal(m.status, 200);
  assert.equal(m.json.headers['x-portcullis-client-cert-app'], appId);
  for (const name of Object.keys(forged).filter((n) => n !== 'x-portcullis-client-cert-app')) assert.equal(m.json.headers[name], undefined, `${name} reached the upstream`);
});

test('attack: no client certificate on an mTLS route → 401 cert.missing (other routes still work on the same listener)', async () => {
  const r = await https(`${gw}/mtls/x`, { ca });
  assert.equal(r.status, 401);
  assert.equal(code(r), 'cert.missing');
  assert.match(String(r.headers['content-type']), /application\/problem\+json/);
});

test('attack: expired client certificate → 401 cert.expired', async () => {
  const c = await certAt(Date.now() - 3 * 3_600_000, 3_600_000);
  const r = await https(`${gw}/mtls/x`, { ca, ...c });
  assert.equal(r.status, 401);
  assert.equal(code(r), 'cert.expired');
});

test('attack: not-yet-valid client certificate → 401 cert.not-yet-valid', async () => {
  const c = await certAt(Date.now() + 2 * 86_400_000);
  const r = await https(`${gw}/mtls/x`, { ca, ...c });
  assert.equal(r.status, 401);
  assert.equal(code(r), 'cert.not-yet-valid');
});

test('attack: a server certificate used as a client certificate → 401 cert.wrong-usage', async () => {
  const s = await admin(node, 'POST', '/v1/certificates', { profile: 'server', dns_names: ['localhost'] });
  assert.equal(s.status, 201);
  const r = await https(`${gw}/mtls/x`, { ca, cert: s.json.certificate, key: s.json.private_key });
  assert.equal(r.status, 401);
  assert.equal(code(r), 'cert.wrong-usage');
});

test('attack: a client certificate from another CA (same trust domain, same app id) → 401 cert.untrusted', async () => {
  const store = new MemoryCertificateStore();
  const kind = fileSignerKind(testSecretBox());
  await createHierarchy({ store, signerKind: kind, clock: new FrozenClock(Date.now()), urlBase: 'https://evil.example', trustDomain: TRUST_DOMAIN });
  const other = await openIssuingCa(store, new SignerRegistry([kind]), 'https://evil.example');
  const c = await issueCertificate({ store, clock: new FrozenClock(Date.now()), ca: other, trustDomain: TRUST_DOMAIN }, { profile: 'client', clientId: appId });
  const r = await https(`${gw}/mtls/x`, { ca, cert: c.certPem, key: c.privateKeyPem! });
  assert.equal(r.status, 401);
  assert.equal(code(r), 'cert.untrusted');
});

test('a client that sends its whole chain (leaf, intermediate, root) passes as one that sends its leaf alone', async () => {
  const r = await https(`${gw}/mtls/chain`, { ca, cert: good.chain, key: good.key });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.headers['x-portcullis-client-cert-serial'], good.serial);
});

test("a route's own caBundle (a partner CA's root): a leaf that chains to it through the intermediate the client sends → 200; the same leaf without it, or a certificate of the node's own CA → 401 cert.untrusted", async () => {
  const store = new MemoryCertificateStore();
  const kind = fileSignerKind(testSecretBox());
  await createHierarchy({ store, signerKind: kind, clock: new FrozenClock(Date.now()), urlBase: 'https://partner.example', trustDomain: 'partner.example' });
  const partner = await openIssuingCa(store, new SignerRegistry([kind]), 'https://partner.example');
  const leaf = await issueCertificate({ store, clock: new FrozenClock(Date.now()), ca: partner, trustDomain: 'partner.example' }, { profile: 'client', clientId: 'partner-app' });
  const cut = partner.chainPem.indexOf('-----BEGIN', 1);
  const intermediatePem = partner.chainPem.slice(0, cut);
  const bundle = join(mkdtempSync(join(tmpdir(), 'portcullis-bundle-')), 'partner-root.pem');
  writeFileSync(bundle, partner.chainPem.slice(cut));
  const extra = `routes:
  - name: partner
    match: { pathPrefix: /partner }
    upstream: ${up.url}
    require:
      clientCertificate: { caBundle: ${bundle}, mapToApp: false, revocation: none }
`;
  const other = await startTlsNodeWith(extra);
  try {
    const url = `${other.urls.gateway!}/partner/x`;
    const otherCa = other.services.pki.rootPem();
    const ok = await https(url, { ca: otherCa, cert: leaf.certPem + intermediatePem, key: leaf.privateKeyPem! });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.headers['x-portcullis-client-cert-serial'], leaf.serial);
    assert.equal(ok.json.headers['x-portcullis-client-cert-app'], '');
    const alone = await https(url, { ca: otherCa, cert: leaf.certPem, key: leaf.privateKeyPem! });
    assert.equal(alone.status, 401);
    assert.equal(code(alone), 'cert.untrusted');
    const own = await clientCert(other, await createApp(other, 'own'));
    const ownChain = await https(url, { ca: otherCa, cert: own.chain, key: own.key });
    assert.equal(ownChain.status, 401);
    assert.equal(code(ownChain), 'cert.untrusted');
  } finally {
    await other.stop();
  }
});

test('attack: a self-signed client certificate naming the app (openssl req -x509) → 401 cert.untrusted', async () => {
  const p = `${mkdtempSync(join(tmpdir(), 'portcullis-ss-'))}/`;
  const gen = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${p}ss.key`, '-out', `${p}ss.pem`, '-days', '1', '-subj', `/CN=${appId}`, '-addext', `subjectAltName=URI:spiffe://${TRUST_DOMAIN}/app/${appId}`, '-addext', 'extendedKeyUsage=clientAuth']);
  assert.equal(gen.code, 0, gen.err);
  const r = await https(`${gw}/mtls/x`, { ca, cert: readFileSync(`${p}ss.pem`, 'utf8'), key: readFileSync(`${p}ss.key`, 'utf8') });
  assert.equal(r.status, 401);
  assert.equal(code(r), 'cert.untrusted');
});

test('attack: a leaf signed by the issuing CA outside its name constraints (spiffe://evil.org) → 401 cert.name-constraint', async () => {
  const issuing = node.services.pki.issuing();
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(kp.publicKey.export({ format: 'der', type: 'spki' }));
  const now = Date.now();
  const tbs = encodeTbs({
    serial: randomSerial(),
    signatureAlgorithm: issuing.signer.signatureAlgorithm,
    issuer: issuing.cert.subject,
    notBefore: Math.floor((now - 60_000) / 1000) * 1000,
    notAfter: Math.floor((now + 3_600_000) / 1000) * 1000,
    subject: encodeName([['CN', 'intruder']]),
    spki,
    extensions: [
      extension(EXT.basicConstraints, true, basicConstraintsValue(false)),
      extension(EXT.keyUsage, true, keyUsageValue([KU.digitalSignature])),
      extension(EXT.extKeyUsage, false, ekuValue([EKU.clientAuth])),
      issuing.template.aki,
      extension(EXT.subjectKeyIdentifier, false, skiValue(keyIdentifier(spki))),
      extension(EXT.subjectAltName, false, sanValue([{ uri: `spiffe://evil.org/app/${appId}` }])),
    ],
  });
  const der = await signStructure(tbs, issuing.signer);
  const r = await https(`${gw}/mtls/x`, { ca, cert: toPem(der, 'CERTIFICATE'), key: kp.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string });
  assert.equal(r.status, 401);
  assert.equal(code(r), 'cert.name-constraint');
});

test('attack: a revoked certificate is refused at once, also on a keep-alive connection that already passed', async () => {
  const victim = await clientCert(node, appId);
  const { Agent } = await import('node:https');
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await https(`${gw}/mtls/x`, { ca, cert: victim.cert, key: victim.key, agent });
    assert.equal(first.status, 200);
    const rv = await admin(node, 'POST', `/v1/certificates/${victim.serial}/revoke`, { reason: 'keyCompromise' });
    assert.equal(rv.status, 200);
    assert.equal(rv.json.certificate.status, 'revoked');
    const again = await https(`${gw}/mtls/x`, { ca, cert: victim.cert, key: victim.key, agent });
    assert.equal(again.status, 401);
    assert.equal(code(again), 'cert.revoked');
  } finally {
    agent.destroy();
  }
  const fresh = await https(`${gw}/mtls/x`, { ca, cert: victim.cert, key: victim.key });
  assert.equal(code(fresh), 'cert.revoked');
  // revoking twice is a conflict, not a silent success
  assert.equal((await admin(node, 'POST', `/v1/certificates/${victim.serial}/revoke`, {})).status, 409);
});

test('attack: a certificate of a disabled app → 403 cert.app-not-allowed', async () => {
  const id = await createApp(node, 'soon-disabled');
  const c = await clientCert(node, id);
  assert.equal((await https(`${gw}/mtls/x`, { ca, cert: c.cert, key: c.key })).status, 200);
  const d = await admin(node, 'POST', `/v1/apps/${id}/disable`);
  assert.equal(d.status, 200);
  const r = await https(`${gw}/mtls/x`, { ca, cert: c.cert, key: c.key });
  assert.equal(r.status, 403);
  assert.equal(code(r), 'cert.app-not-allowed');
});

/** A partner CA of the same trust domain (so its name constraints allow this node's SPIFFE ids), a leaf it issues for `clientId`, and its CRL. */
async function partnerCa() {
  const store = new MemoryCertificateStore();
  const kind = fileSignerKind(testSecretBox());
  const clock = new FrozenClock(Date.now());
  await createHierarchy({ store, signerKind: kind, clock, urlBase: 'https://partner.example', trustDomain: TRUST_DOMAIN });
  const partner = await openIssuingCa(store, new SignerRegistry([kind]), 'https://partner.example');
  const cut = partner.chainPem.indexOf('-----BEGIN', 1);
  const bundle = join(mkdtempSync(join(tmpdir(), 'portcullis-bundle-')), 'partner-root.pem');
  writeFileSync(bundle, partner.chainPem.slice(cut));
  const crls = new CrlPublisher(store, clock, signingView(partner), 24 * 3_600_000);
  const rootRec = await activeCa(store, 'root');
  const root = parseCertificate(rootRec.certDer);
  const rootCrl = await buildCrl(store, clock, { id: rootRec.id, subject: root.subject, spki: root.spki, signer: await loadSigner(rootRec, new SignerRegistry([kind])) }, 24 * 3_600_000);
  return {
    bundle,
    issue: async (clientId: string) => {
      const leaf = await issueCertificate({ store, clock, ca: partner, trustDomain: TRUST_DOMAIN }, { profile: 'client', clientId });
      return { serial: leaf.serial, cert: leaf.certPem + partner.chainPem.slice(0, cut), key: leaf.privateKeyPem! };
    },
    /** A client certificate with a serial of the caller's choosing (serials are unique per issuer only). */
    issueWithSerial: async (serialHex: string) => {
      const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const spki = new Uint8Array(kp.publicKey.export({ format: 'der', type: 'spki' }));
      const now = clock.now();
      const tbs = encodeTbs({
        serial: new Uint8Array(Buffer.from(serialHex, 'hex')),
        signatureAlgorithm: partner.signer.signatureAlgorithm,
        issuer: partner.cert.subject,
        notBefore: Math.floor((now - 60_000) / 1000) * 1000,
        notAfter: Math.floor((now + 3_600_000) / 1000) * 1000,
        subject: encodeName([['CN', 'partner-twin']]),
        spki,
        extensions: [
          extension(EXT.basicConstraints, true, basicConstraintsValue(false)),
          extension(EXT.keyUsage, true, keyUsageValue([KU.digitalSignature])),
          extension(EXT.extKeyUsage, false, ekuValue([EKU.clientAuth])),
          partner.template.aki,
          extension(EXT.subjectKeyIdentifier, false, skiValue(keyIdentifier(spki))),
        ],
      });
      const der = await signStructure(tbs, partner.signer);
      return { cert: toPem(der, 'CERTIFICATE') + partner.chainPem.slice(0, cut), key: kp.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string };
    },
    revoke: (serial: string) => revokeCertificate({ store, clock, crls: new Map([[partner.record.id, crls]]) }, serial, 'keyCompromise'),
    /** The partner intermediate's current CRL (and the root's, for the intermediate itself), written to a file of its own. */
    crlFile: async (withRoot = true) => {
      const f = join(mkdtempSync(join(tmpdir(), 'portcullis-crl-')), 'partner.crl');
      writeFileSync(f, (await crls.regenerate()).pem + (withRoot ? rootCrl.pem : ''));
      return f;
    },
  };
}

test("attack: a partner CA of a caBundle route issues a certificate naming a Portcullis app (spiffe://<trustDomain>/app/<id>) → the upstream is never told it is that app (mapToApp defaults to false with a caBundle)", async () => {
  const p = await partnerCa();
  const other = await startTlsNodeWith(`routes:
  - name: partner
    match: { pathPrefix: /partner }
    upstream: ${up.url}
    require:
      clientCertificate: { caBundle: ${p.bundle}, revocation: none }
`);
  try {
    const victim = await createApp(other, 'victim');
    const forged = await p.issue(victim);
    const r = await https(`${other.urls.gateway!}/partner/x`, { ca: other.services.pki.rootPem(), ...forged });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.headers['x-portcullis-client-cert-app'], '');
    assert.equal(r.json.headers['x-portcullis-client-cert-serial'], forged.serial);
  } finally {
    await other.stop();
  }
});

test('a caBundle route that explicitly sets mapToApp: true trusts the partner CA to name apps (documented opt-in)', async () => {
  const p = await partnerCa();
  const other = await startTlsNodeWith(`routes:
  - name: partner
    match: { pathPrefix: /partner }
    upstream: ${up.url}
    require:
      clientCertificate: { caBundle: ${p.bundle}, mapToApp: true, revocation: none }
`);
  try {
    const id = await createApp(other, 'partner-named');
    const r = await https(`${other.urls.gateway!}/partner/x`, { ca: other.services.pki.rootPem(), ...(await p.issue(id)) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.headers['x-portcullis-client-cert-app'], id);
  } finally {
    await other.stop();
  }
});

test('attack: a caBundle route with no revocation source for its CAs does not start: config.invalid naming crls (fail closed, not open)', async () => {
  const p = await partnerCa();
  await assert.rejects(
    startTlsNodeWith(`routes:
  - name: partner
    match: { pathPrefix: /partner }
    upstream: ${up.url}
    require:
      clientCertificate: { caBundle: ${p.bundle} }
`),
    (e: any) => e.code === 'config.invalid' && /clientCertificate\.crls/.test(e.message),
  );
});

test("attack: a partner certificate the partner revoked (its CRL in crls) → 401 cert.revoked; its unrevoked one → 200; a CA certificate with no CRL under revocation: chain → 401 cert.revocation-unknown, under leaf → 200", async () => {
  const p = await partnerCa();
  const kept = await p.issue('partner-kept');
  const stolen = await p.issue('partner-stolen');
  await p.revoke(stolen.serial);
  const full = await p.crlFile();
  const leafOnly = await p.crlFile(false);
  const other = await startTlsNodeWith(`routes:
  - name: chain
    match: { pathPrefix: /chain }
    upstream: ${up.url}
    require:
      clientCertificate: { caBundle: ${p.bundle}, crls: [${full}] }
  - name: partial
    match: { pathPrefix: /partial }
    upstream: ${up.url}
    require:
      clientCertificate: { caBundle: ${p.bundle}, crls: [${leafOnly}] }
  - name: leaf
    match: { pathPrefix: /leaf }
    upstream: ${up.url}
    require:
      clientCertificate: { caBundle: ${p.bundle}, crls: [${leafOnly}], revocation: leaf }
`);
  try {
    const otherCa = other.services.pki.rootPem();
    const ok = await https(`${other.urls.gateway!}/chain/x`, { ca: otherCa, ...kept });
    assert.equal(ok.status, 200, ok.text);
    const revoked = await https(`${other.urls.gateway!}/chain/x`, { ca: otherCa, ...stolen });
    assert.equal(revoked.status, 401, revoked.text);
    assert.equal(code(revoked), 'cert.revoked');
    const unknown = await https(`${other.urls.gateway!}/partial/x`, { ca: otherCa, ...kept });
    assert.equal(unknown.status, 401, unknown.text);
    assert.equal(code(unknown), 'cert.revocation-unknown');
    const leaf = await https(`${other.urls.gateway!}/leaf/x`, { ca: otherCa, ...kept });
    assert.equal(leaf.status, 200, leaf.text);
    const leafRevoked = await https(`${other.urls.gateway!}/leaf/x`, { ca: otherCa, ...stolen });
    assert.equal(code(leafRevoked), 'cert.revoked');
  } finally {
    await other.stop();
  }
});

test('a partner certificate whose serial equals a revoked Portcullis certificate\'s serial → 200 on its caBundle route (serials are unique per issuer, RFC 5280 §4.1.2.2); the revoked Portcullis certificate → still 401 cert.revoked', async () => {
  const p = await partnerCa();
  const crl = await p.crlFile();
  const other = await startTlsNodeWith(`routes:
  - name: partner
    match: { pathPrefix: /partner }
    upstream: ${up.url}
    require:
      clientCertificate: { caBundle: ${p.bundle}, crls: [${crl}] }
  - name: mtls
    match: { pathPrefix: /mtls }
    upstream: ${up.url}
    require:
      clientCertificate: { mapToApp: true }
`);
  try {
    const otherCa = other.services.pki.rootPem();
    const own = await clientCert(other, await createApp(other, 'own-revoked'));
    assert.equal((await admin(other, 'POST', `/v1/certificates/${own.serial}/revoke`, { reason: 'keyCompromise' })).status, 200);
    const twin = await p.issueWithSerial(own.serial);
    const r = await https(`${other.urls.gateway!}/partner/x`, { ca: otherCa, ...twin });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.headers['x-portcullis-client-cert-serial'], own.serial);
    const refused = await https(`${other.urls.gateway!}/mtls/x`, { ca: otherCa, cert: own.cert, key: own.key });
    assert.equal(refused.status, 401, refused.text);
    assert.equal(code(refused), 'cert.revoked');
  } finally {
    await other.stop();
  }
});
