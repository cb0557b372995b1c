/**
 * Self-renewal over mutual TLS (`POST /pki/renew`): audited like the admin renewal,
 * refused for a disabled app, and renewal chains stay revocable: a certificate renewed
 * (even repeatedly) from one that is revoked for keyCompromise is revoked with it, and a
 * revoked certificate cannot renew.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestNode } from '../support/portcullis.js';
import { admin, clientCert, createApp, echoUpstream, https, startTlsNode } from './helpers.js';

let node: TestNode;
let up: Awaited<ReturnType<typeof echoUpstream>>;
let ca: string;

before(async () => {
  up = await echoUpstream();
  node = await startTlsNode(up.url);
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
  const rev = await admin(node, 'POST', `/v1/certificates/${stolen.serial}/revoke`, { reason: 'keyCompromise' });
  assert.equal(rev.status, 200);
  for (const g of [g1, g2]) {
    const r = await https(`${node.urls.gateway}/mtls/x`, { ca, cert: g.json.certificate, key: g.json.private_key });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.code, 'cert.revoked');
    const rec = await admin(node, 'GET', `/v1/certificates/${g.json.serial}`);
    assert.equal(rec.json.certificate.status, 'revoked');
    assert.equal(rec.json.certificate.reason, 'keyCompromise');
  }
  const rows = (await auditSince(seq)).filter((x) => x.type === 'certificate.revoked');
  assert.deepEqual(rows.map((x) => x.data.serial).sort(), [stolen.serial, g1.json.serial, g2.json.serial].sort(), 'each revocation is audited');

  const again = await renew({ cert: g2.json.certificate, key: g2.json.private_key });
  assert.equal(again.status, 401, again.text);
  assert.equal(again.json.code, 'pki.renewal-denied');
});

test('a renewal revoked for another reason (superseded) does not take the certificates renewed from it along', async () => {
  const appId = await createApp(node, 'renew-superseded');
  const old = await clientCert(node, appId);
  const next = await renew(old);
  assert.equal(next.status, 201, next.text);
  assert.equal((await admin(node, 'POST', `/v1/certificates/${old.serial}/revoke`, { reason: 'superseded' })).status, 200);
  const r = await https(`${node.urls.gateway}/mtls/x`, { ca, cert: next.json.certificate, key: next.json.private_key });
  assert.equal(r.status, 200, r.text);
});
