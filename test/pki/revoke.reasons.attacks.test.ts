/**
 * The reasons a leaf certificate may be revoked for. RFC 5280 §5.3.1: removeFromCRL "is
 * for use with delta CRLs" only; cACompromise and aACompromise name the compromise of a CA
 * or attribute authority key, not of the subscriber's; certificateHold is a suspension to
 * be lifted later, which nothing here can do (and the CA/Browser Forum baseline
 * requirements §7.2.2 forbid it). Each is request.invalid, naming the reasons allowed, in
 * revokeCertificate, the admin API and the CLI; nothing is revoked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate } from '../../src/pki/issue.js';
import { revokeCertificate } from '../../src/pki/revoke.js';
import type { LeafRevocationReason } from '../../src/pki/store.js';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from '../cli/run.js';
import { makeCa } from './helpers.js';

const REFUSED = ['certificateHold', 'removeFromCRL', 'cACompromise', 'aACompromise'];
const ALLOWED = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn'];

for (const reason of REFUSED) {
  test(`attack: revoking a leaf for ${reason} → request.invalid naming the allowed reasons; it stays active`, async () => {
    const t = await makeCa({ trustDomain: 'example.org' });
    const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'billing' });
    await assert.rejects(revokeCertificate({ store: t.store, clock: t.clock }, c.serial, reason as LeafRevocationReason), (e: any) => {
      assert.equal(e.code, 'request.invalid');
      for (const r of ALLOWED) assert.ok(e.message.includes(r), e.message);
      return true;
    });
    assert.equal((await t.store.getCertificate(c.serial))!.status, 'active');
  });
}

test('every allowed reason revokes a leaf', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  for (const reason of ALLOWED) {
    const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'billing' });
    const rec = await revokeCertificate({ store: t.store, clock: t.clock }, c.serial, reason as LeafRevocationReason);
    assert.deepEqual([rec.status, rec.reason], ['revoked', reason]);
  }
});

describe('admin API and CLI', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(() => t.close());

  const issue = async (): Promise<string> => {
    const r = await t.api('/v1/certificates', { body: { profile: 'server', dns_names: ['api.example.test'] } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.serial;
  };

  test('attack: POST /v1/certificates/{serial}/revoke with a hold, delta-CRL or CA-level reason → 400 request.invalid naming reason; it stays active', async () => {
    const serial = await issue();
    for (const reason of REFUSED) {
      const r = await t.api(`/v1/certificates/${serial}/revoke`, { body: { reason } });
      assert.equal(r.status, 400, `${reason}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, 'request.invalid');
      assert.deepEqual(r.body.errors.map((e: { path: string }) => e.path), ['reason']);
      for (const allowed of ALLOWED) assert.ok(JSON.stringify(r.body.errors).includes(allowed), JSON.stringify(r.body));
    }
    assert.equal((await t.api(`/v1/certificates/${serial}`)).body.certificate.status, 'active');
    const ok = await t.api(`/v1/certificates/${serial}/revoke`, { body: { reason: 'superseded' } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('attack: portcullis cert revoke --reason certificateHold → request.invalid naming the allowed reasons, before anything is sent', async () => {
    const serial = await issue();
    const r = await runCli(['cert', 'revoke', serial, '--reason', 'certificateHold', '--dir', t.dir, '--admin-url', t.admin]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /request\.invalid/);
    for (const reason of ALLOWED) assert.ok(r.stderr.includes(reason), r.stderr);
    assert.equal((await t.api(`/v1/certificates/${serial}`)).body.certificate.status, 'active');
  });

  test('the OpenAPI document lists only the allowed reasons for the revoke route', async () => {
    const doc = (await t.api('/openapi.json')).body;
    const schema = doc.components?.schemas?.RevokeCertificateRequest;
    assert.ok(schema, 'RevokeCertificateRequest in the OpenAPI document');
    assert.deepEqual(schema.properties.reason.enum, ALLOWED);
  });
});
