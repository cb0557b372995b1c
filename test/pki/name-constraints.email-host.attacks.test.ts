/**
 * RFC 5280 §4.2.1.10: an rfc822Name constraint applies to the mailbox's domain. A mail
 * system delivers `x@a.evil.example.` (the absolute form) to `a.evil.example`, so the check
 * must read it as that name, or an excluded `.evil.example` lets it through. A domain the
 * check cannot compare with a constraint — an address literal (`x@[10.0.0.1]`), an empty
 * label — is refused under an excluded email subtree, as a URI host it cannot compare is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyCertificateChain } from '../../src/pki/verify-chain.js';
import { constrainedCa } from './helpers.js';

const check = (ca: ReturnType<typeof constrainedCa>, email: string) => verifyCertificateChain(ca.leaf([`email:${email}`]), { anchors: ca.anchors, at: Date.now() });
const accepted = async (ca: ReturnType<typeof constrainedCa>, email: string) => assert.doesNotReject(check(ca, email), email);
const refused = async (ca: ReturnType<typeof constrainedCa>, email: string) => assert.rejects(check(ca, email), (e: any) => e.code === 'cert.name-constraint', email);

test('attack: a mailbox in an excluded domain written absolute (x@a.evil.example.) → cert.name-constraint', async () => {
  const ca = constrainedCa('excluded;email:.evil.example,excluded;email:evil.example');
  await accepted(ca, 'x@partner.example');
  await accepted(ca, 'x@partner.example.');
  for (const email of ['x@a.evil.example.', 'x@evil.example.', 'x@A.EVIL.Example.', 'x@a.evil.example', 'x@EVIL.EXAMPLE']) await refused(ca, email);
});

test('attack: a mailbox whose domain an excluded subtree cannot be compared with (address literal, empty label) → cert.name-constraint', async () => {
  const ca = constrainedCa('excluded;email:.evil.example');
  for (const email of ['x@[10.0.0.1]', 'x@[IPv6:::1]', 'x@a..evil.example', 'x@a.evil.example..', 'x@']) await refused(ca, email);
  // other name forms are not held to the email constraint
  await assert.doesNotReject(verifyCertificateChain(ca.leaf(['URI:https://a.evil.example/']), { anchors: ca.anchors, at: Date.now() }));
});

test('a permitted email subtree takes the absolute form of its own domain, and nothing it cannot compare', async () => {
  const ca = constrainedCa('permitted;email:.partner.example,permitted;email:partner.example');
  for (const email of ['x@partner.example', 'x@partner.example.', 'x@a.partner.example.']) await accepted(ca, email);
  for (const email of ['x@evil.example', 'x@[10.0.0.1]', 'x@a..partner.example']) await refused(ca, email);
});
