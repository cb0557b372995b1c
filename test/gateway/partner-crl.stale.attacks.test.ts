/**
 * A partner CRL past its nextUpdate vouches for nothing: the partner's client
 * certificates are refused (`cert.revocation-unknown`, fail closed), and the operator is
 * told, once per CRL and not once per request: one warning naming the file and one
 * `cert.partner-crl-stale` audit event for the route. A CRL replaced by a fresh one that
 * goes stale in turn is reported again (it is another CRL).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import type { RouteConfig } from '../../src/core/config/schema.js';
import { CrlPublisher } from '../../src/pki/crl.js';
import { signingView } from '../../src/pki/issuing-ca.js';
import { certificateSteps, type CertificateStepsDeps } from '../../src/gateway/client-certificate-policy.js';
import { tmp } from '../pki/helpers.js';
import { nodeAndPartner, partnerSocket, requestOn } from './partner-crl-fixture.js';

const CRL_LIFETIME = 2 * 3_600_000;

test('attack: a stale partner CRL refuses its certificates (cert.revocation-unknown) and is logged and audited once per CRL, not per request', async () => {
  const { pki, partner, clock, leaf } = await nodeAndPartner();
  const crl = new CrlPublisher(partner.store, clock, signingView(partner.ca), CRL_LIFETIME);
  const dir = tmp();
  writeFileSync(join(dir, 'partner.pem'), partner.rootPem);
  writeFileSync(join(dir, 'partner.crl'), (await crl.get()).pem);
  const warnings: Array<[unknown, string]> = [];
  const logger = { warn: (o: unknown, m: string) => void warnings.push([o, m]), info() {}, error() {}, debug() {} } as unknown as NonNullable<CertificateStepsDeps['logger']>;
  const audit = new MemoryAuditSink();
  const route = { name: 'partner-feed', require: { clientCertificate: { mapToApp: false, caBundle: 'partner.pem', crls: ['partner.crl'], revocation: 'leaf' } } } as unknown as RouteConfig;
  const [step] = certificateSteps(route, { pki, clock, findApp: () => undefined, resolve: (f) => join(dir, f), logger, audit });
  // every request on its own connection (verified anew) and a second one on the same connection
  const request = async (): Promise<void> => {
    const socket = partnerSocket(partner, leaf);
    for (let i = 0; i < 2; i++) await step!(requestOn(socket));
  };
  await request();
  assert.equal(audit.events.length, 0);

  clock.advance(CRL_LIFETIME + 1000);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(request(), { code: 'cert.revocation-unknown' });
    clock.advance(11_000); // past the files' recheck interval
  }
  const stale = audit.events.filter((e) => e.type === 'cert.partner-crl-stale');
  assert.equal(stale.length, 1, 'one audit event for the stale CRL, not one per request');
  assert.equal(stale[0]!.route, 'partner-feed');
  assert.equal(stale[0]!.actor, 'system');
  assert.equal(stale[0]!.reason, 'cert.revocation-unknown');
  assert.equal((stale[0]!.data as { file: string }).file, 'partner.crl');
  const logged = warnings.filter(([, m]) => /partner\.crl.*nextUpdate/.test(m));
  assert.equal(logged.length, 1, 'one warning naming the file');

  // a fresh CRL passes again, and when it goes stale in turn it is reported again
  writeFileSync(join(dir, 'partner.crl'), (await crl.regenerate()).pem);
  clock.advance(11_000);
  await request();
  clock.advance(CRL_LIFETIME + 1000);
  await assert.rejects(request(), { code: 'cert.revocation-unknown' });
  await assert.rejects(request(), { code: 'cert.revocation-unknown' });
  assert.equal(audit.events.filter((e) => e.type === 'cert.partner-crl-stale').length, 2);
  assert.equal(warnings.filter(([, m]) => /partner\.crl.*nextUpdate/.test(m)).length, 2);
});
