/**
 * Self-renewal is rate-limited per certificate (`pki.renewMinInterval`, 5 minutes by
 * default, or half the certificate's lifetime if shorter): a client renewing in a loop
 * added a CRL entry (the certificate it superseded) and a signature per call, without
 * bound. A refused renewal says when to come back and issues nothing.
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

test('attack: a certificate renews itself at once after issuance (a renewal loop) → 429 pki.renewal-too-early with retryAfterMs; nothing issued, the certificate still works', async () => {
  const appId = await createApp(node, 'renew-loop');
  const c = await clientCert(node, appId);
  const r = await https(`${node.urls.identity}/pki/renew`, { ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', cert: c.cert, key: c.key });
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.code, 'pki.renewal-too-early');
  assert.ok(r.json.retryAfterMs > 200_000 && r.json.retryAfterMs <= 300_000, String(r.json.retryAfterMs));
  // RFC 6585 §4: and so does Retry-After, in whole seconds rounded up
  assert.equal(r.headers['retry-after'], String(Math.ceil(r.json.retryAfterMs / 1000)));
  const inventory = await admin(node, 'GET', `/v1/certificates?owner=${appId}`);
  assert.deepEqual(inventory.json.certificates.map((x: { serial: string; status: string }) => [x.serial, x.status]), [[c.serial, 'active']]);
  const ok = await https(`${node.urls.gateway}/mtls/x`, { ca, cert: c.cert, key: c.key });
  assert.equal(ok.status, 200, ok.text);
  // an admin is not limited
  const byAdmin = await admin(node, 'POST', `/v1/certificates/${c.serial}/renew`, {});
  assert.equal(byAdmin.status, 201, JSON.stringify(byAdmin.json));
});
