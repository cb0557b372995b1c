/** RFC 9421 Appendix B: every signature verifies, every signature base is reproduced exactly, B.2.5 and B.2.6 byte for byte. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { nodeHasherFactory } from '../../src/http/content-digest-node.js';
import { contentDigest, contentDigestChecker } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import { signatureBase } from '../../src/signatures/signature-base.js';
import { parseSignatureInput } from '../../src/signatures/signature-input.js';
import { SignatureVerifier } from '../../src/signatures/verify.js';
import { appendixB, importB1Key, member, parseHttpMessage, type ParsedMessage } from './helpers.js';

const CREATED = 1618884473;

/**
 * RFC 9421 prints the test response with `Content-Digest: sha-512=:JlEy…:`, which is
 * not the digest of its body; B.2.4 was computed over the correct digest
 * (`mEWX…`). The test checks both facts, then verifies B.2.4 over the corrected field.
 */
async function messageFor(c: (typeof appendixB.cases)[number]): Promise<ParsedMessage> {
  const m = parseHttpMessage(appendixB.messages[c.message]!);
  if (c.label === 'sig-b24') {
    const printed = m.headers.get('content-digest');
    await assert.rejects(async () => {
      const check = contentDigestChecker(printed, nodeHasherFactory);
      check.update(m.body);
      await check.finish();
    }, (e: unknown) => e instanceof PortcullisError && e.code === 'digest.mismatch');
    const actual = await contentDigest(m.body, ['sha-512']);
    assert.ok(c.signatureBase.includes(`"content-digest": ${actual}\n`), 'B.2.4 base covers the digest of the body');
    m.headers.set('content-digest', actual);
  }
  return m;
}

function verifierFor(keyid: string, clock = new FrozenClock(CREATED * 1000 + 5_000)): SignatureVerifier {
  return new SignatureVerifier({ clock, keyLookup: async (kid) => (kid === keyid ? importB1Key(kid, 'verify') : undefined) });
}

describe('RFC 9421 Appendix B', () => {
  it('request body digests in the test request are correct (RFC 9530)', async () => {
    const m = parseHttpMessage(appendixB.messages['test-request']!);
    assert.equal(await contentDigest(m.body, ['sha-512']), m.headers.get('content-digest'));
  });

  for (const c of appendixB.cases) {
    describe(`${c.label} (${c.alg})`, () => {
      it('builds the exact signature base', async () => {
        const m = await messageFor(c);
        const [label, inputValue] = member(c.signatureInput);
        const input = parseSignatureInput(c.signatureInput).get(label)!;
        assert.equal(input.serialized, inputValue, 'Signature-Input round-trips');
        const base = signatureBase(m.response ?? m.request!, input.components, input.serialized, m.request);
        assert.equal(base, c.signatureBase);
      });

      it('verifies', async () => {
        const m = await messageFor(c);
        m.headers.set('signature-input', c.signatureInput);
        m.headers.set('signature', c.signature);
        const v = await verifierFor(c.keyid).verify(m.response ?? m.request!);
        assert.equal(v.label, c.label);
        assert.equal(v.alg, c.alg);
        assert.equal(v.keyid, c.keyid);
        assert.equal(v.params.created, CREATED);
      });

      it('fails with signature.invalid when one signature byte is flipped', async () => {
        const m = await messageFor(c);
        const [label, sigValue] = member(c.signature);
        const bytes = Buffer.from(sigValue.slice(1, -1), 'base64');
        bytes[bytes.length >> 1] ^= 0x01;
        m.headers.set('signature-input', c.signatureInput);
        m.headers.set('signature', `${label}=:${bytes.toString('base64')}:`);
        await assert.rejects(verifierFor(c.keyid).verify(m.response ?? m.request!), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.invalid');
      });

      it(c.deterministic ? 'is reproduced byte for byte by signMessage' : 'signMessage with the B.1 key produces a signature that verifies (non-deterministic algorithm)', async () => {
        const m = await messageFor(c);
        const [label] = member(c.signatureInput);
        const input = parseSignatureInput(c.signatureInput).get(label)!;
        const { key, alg } = await importB1Key(c.keyid, 'sign');
        const signed = await signMessage(m.response ?? m.request!, {
          label,
          key,
          alg,
          components: input.components,
          created: input.params.created ?? false,
          keyid: input.params.keyid!,
          ...(input.params.nonce !== undefined ? { nonce: input.params.nonce } : {}),
          ...(input.params.tag !== undefined ? { tag: input.params.tag } : {}),
        });
        assert.equal(signed.base, c.signatureBase);
        assert.equal(signed.signatureInput, c.signatureInput);
        if (c.deterministic) assert.equal(signed.signature, c.signature);
        m.headers.set('signature-input', signed.signatureInput);
        m.headers.set('signature', signed.signature);
        assert.equal((await verifierFor(c.keyid).verify(m.response ?? m.request!)).label, label);
      });
    });
  }
});
