/**
 * `SignatureVerifier.check`: synchronous when the key lookup and `verifySignature`
 * are (a server's HMAC), a Promise otherwise, with the same outcome and the same
 * error precedence (the first selected signature's error) as `verify`; and header
 * sources that give field lines as received (node's rawHeaders).
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { FieldLineSource, HttpRequestLike } from '../../src/signatures/types.js';
import { SignatureVerifier, type VerificationKey } from '../../src/signatures/verify.js';

const NOW = 1_700_000_000;
const clock = new FrozenClock(NOW * 1000);
const secret = new Uint8Array(32).fill(9);
const nodeHmac = (_k: VerificationKey, sig: Uint8Array, base: string): boolean => sig.byteLength === 32 && timingSafeEqual(createHmac('sha256', secret).update(base).digest(), sig);

async function signed(extra: Record<string, string> = {}): Promise<HttpRequestLike & { headers: Record<string, string> }> {
  const key = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['sign']);
  const headers: Record<string, string> = { 'x-a': 'one', ...extra };
  const m = { method: 'POST', url: 'https://api.example/orders?id=1', headers };
  const s = await signMessage(m, { key, alg: 'hmac-sha256', keyid: 'k', clock, nonce: 'n1', components: ['@method', '@target-uri', 'x-a'] });
  headers['signature-input'] = s.signatureInput;
  headers['signature'] = s.signature;
  return m;
}

describe('SignatureVerifier.check', () => {
  it('returns the result itself (no Promise) with a synchronous lookup and verifySignature, and a Promise with an async lookup', async () => {
    const key = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['verify']);
    const m = await signed();
    const sync = new SignatureVerifier({ clock, keyLookup: (kid) => (kid === 'k' ? { key, alg: 'hmac-sha256' } : undefined), verifySignature: nodeHmac, requiredComponents: ['@method', 'x-a'] });
    const r = sync.check(m);
    assert.ok(!(r instanceof Promise));
    assert.equal(r.keyid, 'k');
    assert.deepEqual(r.components, ['"@method"', '"@target-uri"', '"x-a"']);
    const async = new SignatureVerifier({ clock, keyLookup: async (kid) => (kid === 'k' ? { key, alg: 'hmac-sha256' } : undefined), verifySignature: nodeHmac });
    const p = async.check(m);
    assert.ok(p instanceof Promise);
    assert.equal((await p).keyid, 'k');
  });

  it('a tampered message throws signature.invalid synchronously, and with several signatures the first one error wins whichever path', async () => {
    const key = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['verify']);
    const m = await signed();
    const tampered = { ...m, headers: { ...m.headers, 'x-a': 'two' } };
    const lookup = (kid: string | undefined): VerificationKey | undefined => (kid === 'k' ? { key, alg: 'hmac-sha256' } : undefined);
    const v = new SignatureVerifier({ clock, keyLookup: lookup, verifySignature: nodeHmac });
    assert.throws(() => v.check(tampered), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.invalid');
    // a second member by an unknown key after the (tampered) first: the first member's error is reported
    const two = { ...tampered, headers: { ...tampered.headers, 'signature-input': `${m.headers['signature-input']}, b=("@method");created=${NOW};keyid="nobody"`, signature: `${m.headers['signature']}, b=:AAAA:` } };
    assert.throws(() => v.check(two), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.invalid');
    const va = new SignatureVerifier({ clock, keyLookup: async (kid) => lookup(kid), verifySignature: nodeHmac });
    await assert.rejects(Promise.resolve().then(() => va.check(two)), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.invalid');
    // the valid member second: it is found on either path
    const valid = { ...m, headers: { ...m.headers, 'signature-input': `b=("@method");created=${NOW};keyid="nobody", ${m.headers['signature-input']}`, signature: `b=:AAAA:, ${m.headers['signature']}` } };
    assert.equal((v.check(valid) as { label: string }).label, 'sig1');
    assert.equal((await va.check(valid)).label, 'sig1');
  });

  it('reads a FieldLineSource: every line of a repeated field is covered, joined with ", " (RFC 9421 §2.1)', async () => {
    const key = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['verify']);
    const signKey = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['sign']);
    const s = await signMessage({ method: 'GET', url: 'https://api.example/x', headers: { 'x-a': 'one, two' } }, { key: signKey, alg: 'hmac-sha256', keyid: 'k', clock, components: ['@method', 'x-a'] });
    const raw = ['Host', 'api.example', 'X-A', 'one', 'Signature-Input', s.signatureInput, 'x-a', 'two', 'SIGNATURE', s.signature];
    const lines: FieldLineSource = {
      fieldLines: (name) => {
        const out: string[] = [];
        for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
        return out.length === 0 ? undefined : out;
      },
    };
    const v = new SignatureVerifier({ clock, keyLookup: () => ({ key, alg: 'hmac-sha256' }), verifySignature: nodeHmac });
    assert.equal((v.check({ method: 'GET', url: 'https://api.example/x', headers: lines }) as { keyid?: string }).keyid, 'k');
    raw[7] = 'three';
    assert.throws(() => v.check({ method: 'GET', url: 'https://api.example/x', headers: lines }), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.invalid');
  });
});

describe('signatures per message are capped (DoS: one request, many public-key verifications)', () => {
  it('more members than maxSignatures (default 4) is signature.too-many, before any key lookup or verification', async () => {
    const key = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['verify']);
    const m = await signed();
    const one = m.headers['signature-input']!.slice(5);
    const sig = m.headers['signature']!.slice(5);
    const n = (k: number) => ({
      ...m,
      headers: { ...m.headers, 'signature-input': Array.from({ length: k }, (_, i) => `s${i}=${one}`).join(', '), signature: Array.from({ length: k }, (_, i) => `s${i}=${sig}`).join(', ') },
    });
    let lookups = 0;
    const keyLookup = () => (lookups++, { key, alg: 'hmac-sha256' as const });
    const v = new SignatureVerifier({ clock, keyLookup, verifySignature: nodeHmac });
    assert.throws(() => v.check(n(5)), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.too-many' && e.status === 400);
    assert.equal(lookups, 0);
    assert.equal((v.check(n(4)) as { label: string }).label, 's0');
    const capped = new SignatureVerifier({ clock, keyLookup, verifySignature: nodeHmac, maxSignatures: 1 });
    assert.throws(() => capped.check(n(2)), (e: unknown) => e instanceof PortcullisError && e.code === 'signature.too-many');
  });
});
