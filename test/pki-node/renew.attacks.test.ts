/**
 * Self-renewal over mutual TLS (`POST /pki/renew`): audited like the admin renewal,
 * refused for a disabled app, and renewal chains stay revocable: a certificate renewed
 * (even repeatedly) from one that is revoked for keyCompromise is revoked with it, and a
 * revoked certificate cannot renew. A renewal revokes the certificate it renews
 * (superseded, on the CRL and OCSP), which cannot renew again (409), except that a retry
 * with the same CSR gets the same certificate back (200).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestNode } from '../support/portcullis.js';
import { admin, clientCert, createApp, echoUpstream, files, https, run, startTlsNode } from './helpers.js';

let node: TestNode;
let up: Awaited<ReturnType<typeof echoUpstream>>;
let ca: string;

before(async () => {
  up = await echoUpstream();
  // renewals follow each other at once here (the rate limit has its own test)
  node = await startTlsNode(up.url, '', { pki: 'renewMinInterval: 0s' });
  ca = node.services.pki.rootPem();
});
after(async () => {
  await node?.stop();
  up?.server.close();
});

const renew = (c: { cert: string; key: string }) => https(`${node.urls.identity}/pki/renew`, { ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', cert: c.cert, key: c.key });
const renewWith = (c: { cert: string; key: string }, body: string, type = 'application/json') => https(`${node.urls.identity}/pki/renew`, { ca, method: 'POST', headers: { 'content-type': type }, body, cert: c.cert, key: c.key });
const lastSeq = async (): Promise<number> => (await admin(node, 'GET', '/v1/audit/tail?limit=1')).json.rows.at(-1)?.seq ?? 0;
const auditSince = async (seq: number): Promise<any[]> => (await admin(node, 'GET', `/v1/audit?after=${seq}&limit=100`)).json.rows;

test('self-renewal over mTLS is audited: certificate.renewed with the new serial and the previous one', async () => {
  const appId = await createApp(node, 'renew-audited');
  const c = await clientCert(node, appId);
  const seq = await lastSeq();
  const r = await renew(c);
  assert.equal(r.status, 201, r.text);
  const row = (await auditSince(seq)).find((x) => x.type === 'certificate.renewed');
  assert.ok(row, 'certificate.renewed is recorded');
  assert.equal(row.clientId, appId);
  assert.deepEqual(row.data, { serial: r.json.serial, previous: c.serial });
  assert.doesNotMatch(JSON.stringify(row), /PRIVATE KEY/);
  const revoked = (await auditSince(seq)).find((x) => x.type === 'certificate.revoked');
  assert.ok(revoked, 'the revocation of the superseded certificate is recorded');
  assert.deepEqual(revoked.data, { serial: c.serial, reason: 'superseded', supersededBy: r.json.serial });
});

test('attack: a renewal body with a duplicated key (which CSR is signed?) → 400 request.invalid naming it, or in a charset other than UTF-8 → 415; nothing is issued', async () => {
  const appId = await createApp(node, 'renew-dup');
  const c = await clientCert(node, appId);
  const seq = await lastSeq();
  const dup = await renewWith(c, '{"csr":"a","pkcs12_password":"x","csr":"b"}');
  assert.equal(dup.status, 400, dup.text);
  assert.equal(dup.json.code, 'request.invalid');
  assert.equal(dup.json.detail, 'csr: duplicate key');
  const latin1 = await renewWith(c, '{}', 'application/json; charset=ISO-8859-1');
  assert.equal(latin1.status, 415, latin1.text);
  assert.equal(latin1.json.code, 'request.unsupported-media-type');
  assert.equal(latin1.json.detail, 'charset iso-8859-1 is not supported: send JSON in UTF-8');
  assert.deepEqual((await auditSince(seq)).filter((x) => x.type === 'certificate.renewed'), []);
  assert.equal((await renewWith(c, '{}', 'application/json; charset=UTF-8')).status, 201);
});

test('attack: a certificate of a disabled app renews itself → 403 cert.app-not-allowed, audited as certificate.renewal-denied', async () => {
  const appId = await createApp(node, 'renew-disabled');
  const c = await clientCert(node, appId);
  assert.equal((await admin(node, 'POST', `/v1/apps/${appId}/disable`, {})).status, 200);
  const seq = await lastSeq();
  const r = await renew(c);
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.code, 'cert.app-not-allowed');
  const row = (await auditSince(seq)).find((x) => x.type === 'certificate.renewal-denied');
  assert.ok(row, 'the denial is audited');
  assert.equal(row.reason, 'cert.app-not-allowed');
  assert.equal(row.data.previous, c.serial);
});

test('attack: renewal laundering: certificates renewed (twice) from a stolen one are revoked when it is revoked for keyCompromise; a revoked certificate cannot renew', async () => {
  const appId = await createApp(node, 'renew-laundered');
  const stolen = await clientCert(node, appId);
  const g1 = await renew(stolen);
  assert.equal(g1.status, 201, g1.text);
  const g2 = await renew({ cert: g1.json.certificate, key: g1.json.private_key });
  assert.equal(g2.status, 201, g2.text);
  const ok = await https(`${node.urls.gateway}/mtls/x`, { ca, cert: g2.json.certificate, key: g2.json.private_key });
  assert.equal(ok.status, 200, ok.text);

  const seq = await lastSeq();
  // the stolen certificate and g1 were revoked superseded by their renewals; the keyCompromise still reaches g2
  const rev = await admin(node, 'POST', `/v1/certificates/${stolen.serial}/revoke`, { reason: 'keyCompromise' });
  assert.equal(rev.status, 200, JSON.stringify(rev.json));
  for (const [g, reason] of [[g1, 'superseded'], [g2, 'keyCompromise']] as const) {
    const r = await https(`${node.urls.gateway}/mtls/x`, { ca, cert: g.json.certificate, key: g.json.private_key });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.code, 'cert.revoked');
    const rec = await admin(node, 'GET', `/v1/certificates/${g.json.serial}`);
    assert.equal(rec.json.certificate.status, 'revoked');
    assert.equal(rec.json.certificate.reason, reason);
  }
  const rows = (await auditSince(seq)).filter((x) => x.type === 'certificate.revoked');
  assert.deepEqual(rows.map((x) => x.data.serial), [g2.json.serial], 'the revocation made now is audited');
  assert.equal((await admin(node, 'POST', `/v1/certificates/${stolen.serial}/revoke`, { reason: 'keyCompromise' })).status, 409, 'nothing left to revoke');

  const again = await renew({ cert: g2.json.certificate, key: g2.json.private_key });
  assert.equal(again.status, 401, again.text);
  assert.equal(again.json.code, 'pki.renewal-denied');
});

test('attack: the renewed certificate (a stolen key, or a loop) is refused at the gateway and renews no more → 409 pki.already-renewed naming the successor; the successor works and is not taken along', async () => {
  const appId = await createApp(node, 'renew-superseded');
  const old = await clientCert(node, appId);
  const next = await renew(old);
  assert.equal(next.status, 201, next.text);
  const rec = await admin(node, 'GET', `/v1/certificates/${old.serial}`);
  assert.equal(rec.json.certificate.status, 'revoked');
  assert.equal(rec.json.certificate.reason, 'superseded');
  const refused = await https(`${node.urls.gateway}/mtls/x`, { ca, cert: old.cert, key: old.key });
  assert.equal(refused.status, 401, refused.text);
  assert.equal(refused.json.code, 'cert.revoked');
  const seq = await lastSeq();
  const again = await renew(old);
  assert.equal(again.status, 409, again.text);
  assert.equal(again.json.code, 'pki.already-renewed');
  assert.equal(again.json.successor, next.json.serial);
  const denied = (await auditSince(seq)).find((x) => x.type === 'certificate.renewal-denied');
  assert.equal(denied?.reason, 'pki.already-renewed');
  const r = await https(`${node.urls.gateway}/mtls/x`, { ca, cert: next.json.certificate, key: next.json.private_key });
  assert.equal(r.status, 200, r.text);
});

test('the superseded certificate is revoked on OCSP (openssl ocsp: revoked, Reason: superseded) and listed on the CRL', async () => {
  const appId = await createApp(node, 'renew-ocsp');
  const old = await clientCert(node, appId);
  assert.equal((await renew(old)).status, 201);
  const chain = (await https(`${node.urls.identity}/pki/chain.pem`, { ca })).text;
  const inter = node.services.pki.issuing();
  const crl = await https(`${node.urls.identity}/pki/crl/${inter.record.id}.pem`, { ca });
  const f = files({ 'root.pem': ca, 'inter.pem': chain.slice(0, chain.indexOf('-----BEGIN', 1)), 'leaf.pem': old.cert, 'crl.pem': crl.text });
  const o = await run('openssl', ['ocsp', '-issuer', f['inter.pem']!, '-cert', f['leaf.pem']!, '-url', `${node.urls.identity}/pki/ocsp`, '-CAfile', f['root.pem']!, '-resp_text']);
  assert.match(o.out + o.err, /Response verify OK/);
  assert.match(o.out, /leaf\.pem: revoked/);
  assert.match(o.out, /Reason: superseded/);
  const v = await run('openssl', ['verify', '-crl_check', '-CAfile', f['root.pem']!, '-untrusted', f['inter.pem']!, '-CRLfile', f['crl.pem']!, f['leaf.pem']!]);
  assert.notEqual(v.code, 0);
  assert.match(v.out + v.err, /certificate revoked/);
});

test('a client that lost the answer retries with the same CSR → 200 with the same certificate, audited as certificate.renewal-replayed; nothing new is issued', async () => {
  const appId = await createApp(node, 'renew-retry');
  const old = await clientCert(node, appId);
  const g = await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=retry']);
  assert.equal(g.code, 0, g.err);
  const body = JSON.stringify({ csr: g.out });
  const first = await renewWith(old, body);
  assert.equal(first.status, 201, first.text);
  assert.equal(first.json.private_key, undefined);
  const seq = await lastSeq();
  const retry = await renewWith(old, body);
  assert.equal(retry.status, 200, retry.text);
  assert.equal(retry.json.serial, first.json.serial);
  assert.equal(retry.json.certificate, first.json.certificate);
  const rows = await auditSince(seq);
  assert.deepEqual(rows.filter((x) => x.type === 'certificate.renewed'), []);
  assert.deepEqual(rows.find((x) => x.type === 'certificate.renewal-replayed')?.data, { serial: first.json.serial, previous: old.serial });
  const inventory = await admin(node, 'GET', `/v1/certificates?owner=${appId}`);
  assert.deepEqual(inventory.json.certificates.map((c: { serial: string }) => c.serial).sort(), [old.serial, first.json.serial].sort());
});
