/**
 * Self-renewal (`POST /pki/renew`) re-issues what the certificate it renews was granted:
 * the same names and app, and no longer a life. A certificate an admin issued for 1 hour
 * (a contractor's, a CI job's) renewed itself over mTLS into one of the configured
 * lifetime (24 h by default), and so on for ever: the holder, not the admin, chose how
 * long it lived.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestNode } from '../support/portcullis.js';
import { admin, createApp, echoUpstream, https, startTlsNode } from './helpers.js';

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

const HOUR = 3_600_000;
const renew = (c: { cert: string; key: string }) =>
  https(`${node.urls.identity}/pki/renew`, { ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', cert: c.cert, key: c.key });
const lifeOf = (r: { not_before: string; not_after: string }): number => Date.parse(r.not_after) - Date.parse(r.not_before);

test('attack: a certificate issued for 1h renews itself over mTLS → the renewal lives 1h too, not the configured 24h, however often it renews', async () => {
  const appId = await createApp(node, 'renew-short-lived');
  const issued = await admin(node, 'POST', '/v1/certificates', { profile: 'client', client_id: appId, lifetime: '1h' });
  assert.equal(issued.status, 201, JSON.stringify(issued.json));
  assert.ok(lifeOf(issued.json) <= HOUR + 60_000, 'issued for an hour (and a minute back-dated)');
  let current = { cert: issued.json.certificate as string, key: issued.json.private_key as string };
  for (let i = 0; i < 2; i++) {
    const r = await renew(current);
    assert.equal(r.status, 201, r.text);
    assert.ok(lifeOf(r.json) <= HOUR + 60_000, `renewal ${i + 1} lives ${lifeOf(r.json) / HOUR} h: longer than the hour the admin granted`);
    current = { cert: r.json.certificate, key: r.json.private_key };
  }
});

test('a certificate of the configured lifetime renews into one of the configured lifetime', async () => {
  const appId = await createApp(node, 'renew-default-life');
  const issued = await admin(node, 'POST', '/v1/certificates', { profile: 'client', client_id: appId });
  assert.equal(issued.status, 201, JSON.stringify(issued.json));
  const r = await renew({ cert: issued.json.certificate, key: issued.json.private_key });
  assert.equal(r.status, 201, r.text);
  assert.equal(lifeOf(r.json), lifeOf(issued.json));
});
