/**
 * The CRL number across a restart of a single node on SQLite (RFC 5280 §5.2.3): the node
 * serves the CRL it published before the restart (same number, same bytes) while that
 * one is current, and a revocation after the restart publishes a higher number.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startTestNode, testConfig, type TestNode } from '../support/portcullis.js';
import { crlInfo, type CrlInfo } from '../support/crl-info.js';
import { admin, clientCert, createApp } from './helpers.js';

async function crlOf(node: TestNode, caId: string): Promise<CrlInfo & { der: Buffer }> {
  const r = await fetch(`${node.urls.identity}/pki/crl/${caId}.crl`);
  assert.equal(r.status, 200);
  const der = Buffer.from(await r.arrayBuffer());
  return { ...crlInfo(der), der };
}

const cfg = testConfig('pki: { trustDomain: example.org }');
let dir: string | undefined;
const running: TestNode[] = [];
after(async () => {
  for (const n of running) await n.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('SQLite node: the CRL number never goes down across a restart; the CRL published before it is served after it until a revocation publishes a higher one', async () => {
  const first = await startTestNode({ config: cfg, keepDir: true });
  running.push(first);
  dir = first.dir;
  const caId = first.services.pki.issuing().record.id;
  const c1 = await clientCert(first, await createApp(first, 'restart-one'));
  const c2 = await clientCert(first, await createApp(first, 'restart-two'));
  const initial = await crlOf(first, caId);
  assert.equal((await admin(first, 'POST', `/v1/certificates/${c1.serial}/revoke`, {})).status, 200);
  const before = await crlOf(first, caId);
  assert.ok(before.number > initial.number, `CRL ${before.number} after the revocation, ${initial.number} before`);
  assert.deepEqual(before.serials, [c1.serial]);
  await first.stop();
  running.pop();

  const second = await startTestNode({ config: cfg, dir, keepDir: true });
  running.push(second);
  const afterRestart = await crlOf(second, caId);
  assert.ok(afterRestart.number >= before.number, `CRL ${afterRestart.number} after the restart, ${before.number} before`);
  assert.equal(afterRestart.number, before.number, 'nothing changed: the published CRL is served again');
  assert.ok(afterRestart.der.equals(before.der), 'the same CRL bytes');
  assert.equal((await admin(second, 'POST', `/v1/certificates/${c2.serial}/revoke`, {})).status, 200);
  const later = await crlOf(second, caId);
  assert.ok(later.number > afterRestart.number, `CRL ${later.number} after the second revocation, ${afterRestart.number} before`);
  assert.deepEqual(later.serials, [c1.serial, c2.serial].sort());
});
