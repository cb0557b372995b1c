/**
 * The CRL number across a cluster (RFC 5280 §5.2.3: "a monotonically increasing sequence
 * number for a given CRL scope and CRL issuer"): two nodes on one PostgreSQL and one Redis
 * serve one CRL per issuer — the same number and the same bytes — after a revocation on
 * either, and a restarted node serves that CRL again, never one numbered lower.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { createTempPostgresDatabase, randomRedisPrefix, redisUrl, serviceTest } from '../support/services.js';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { crlInfo, type CrlInfo } from '../support/crl-info.js';
import { admin, clientCert, createApp } from '../pki-node/helpers.js';
import { startPeer, waitFor } from './helpers.js';

async function crlOf(node: TestNode, caId: string): Promise<CrlInfo & { der: Buffer }> {
  const r = await fetch(`${node.urls.identity}/pki/crl/${caId}.crl`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/pkix-crl');
  const der = Buffer.from(await r.arrayBuffer());
  return { ...crlInfo(der), der };
}

const name = 'CRL number in a cluster: both nodes serve the same CRL (number and bytes) after each revocation, the number only goes up, and a restarted node serves no lower number';
await serviceTest(['postgres', 'redis'], name, async () => {
  const db = await createTempPostgresDatabase();
  const cfg = testConfig(`store: ${db.url}
ephemeral: ${redisUrl()}
ephemeralPrefix: "${randomRedisPrefix()}"
pki: { trustDomain: example.org }
revocation: { reconcileInterval: 30m }
`);
  const nodes: TestNode[] = [];
  after(async () => {
    for (const n of nodes) await n.stop();
    await db.drop();
  });
  const a = await startTestNode({ config: cfg });
  nodes.push(a);
  let b = await startPeer(a, cfg);
  nodes.push(b);
  const caId = a.services.pki.issuing().record.id;
  assert.equal(b.services.pki.issuing().record.id, caId, 'one issuing CA');

  const first = await crlOf(a, caId);
  assert.equal((await crlOf(b, caId)).number, first.number, 'before any revocation both nodes serve one CRL');

  const c1 = await clientCert(a, await createApp(a, 'crl-one'));
  const c2 = await clientCert(a, await createApp(a, 'crl-two'));
  assert.equal((await admin(a, 'POST', `/v1/certificates/${c1.serial}/revoke`, { reason: 'keyCompromise' })).status, 200);
  await waitFor('node B listing the first revocation', async () => (await crlOf(b, caId)).serials.includes(c1.serial), 3000);
  const onA1 = await crlOf(a, caId);
  const onB1 = await crlOf(b, caId);
  assert.deepEqual(onA1.serials, [c1.serial]);
  assert.ok(onA1.number > first.number, `CRL ${onA1.number} after the revocation, ${first.number} before`);
  assert.equal(onB1.number, onA1.number, `node A serves CRL ${onA1.number}, node B ${onB1.number}`);
  assert.ok(onB1.der.equals(onA1.der), 'both nodes serve the same CRL bytes');

  assert.equal((await admin(a, 'POST', `/v1/certificates/${c2.serial}/revoke`, { reason: 'superseded' })).status, 200);
  await waitFor('node B listing the second revocation', async () => (await crlOf(b, caId)).serials.includes(c2.serial), 3000);
  const onA2 = await crlOf(a, caId);
  const onB2 = await crlOf(b, caId);
  assert.deepEqual(onA2.serials, [c1.serial, c2.serial].sort());
  assert.ok(onA2.number > onA1.number, `CRL ${onA2.number} after the second revocation, ${onA1.number} before`);
  assert.equal(onB2.number, onA2.number, `node A serves CRL ${onA2.number}, node B ${onB2.number}`);
  assert.ok(onB2.der.equals(onA2.der), 'both nodes serve the same CRL bytes');

  // node B restarts: it serves the CRL the cluster published, not a lower number nor a CRL of its own
  await b.stop();
  nodes.splice(nodes.indexOf(b), 1);
  b = await startPeer(a, cfg);
  nodes.push(b);
  const restarted = await crlOf(b, caId);
  assert.ok(restarted.number >= onA2.number, `CRL ${restarted.number} after the restart, ${onA2.number} before`);
  assert.equal(restarted.number, (await crlOf(a, caId)).number, 'the restarted node serves the number the other node serves');
  assert.ok(restarted.der.equals(onA2.der), 'the restarted node serves the published CRL');
});
