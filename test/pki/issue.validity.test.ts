/**
 * A certificate's validity lies within its issuer's (RFC 5280 §6.1.3 (a)(2) checks each
 * certificate of the path at one time): the back-dating for clock skew never reaches
 * before the issuing CA's notBefore, as the issuer's notAfter already bounds notAfter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issueCertificate } from '../../src/pki/issue.js';
import { parseCertificate } from '../../src/pki/parse.js';
import { makeCa, T0 } from './helpers.js';

test('a leaf issued by a node whose clock is behind the one that made the CA does not start before the CA', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  // another node, 30 s behind the one that created the intermediate (notBefore T0 - 60 s)
  t.clock.set(T0 - 30_000);
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  assert.equal(c.notBefore, t.ca.cert.notBefore);
  assert.equal(parseCertificate(c.der).notBefore, t.ca.cert.notBefore);
});

test('a leaf never outlives its issuing CA', async () => {
  const t = await makeCa({ trustDomain: 'example.org' });
  t.clock.set(t.ca.cert.notAfter - 3_600_000);
  const c = await issueCertificate(t.ctx, { profile: 'client', clientId: 'app1' });
  assert.equal(c.notAfter, t.ca.cert.notAfter);
});
