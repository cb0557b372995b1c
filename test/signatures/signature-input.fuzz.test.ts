/**
 * Fuzz: thousands of random and mutated Signature-Input / Signature / Accept-Signature /
 * Content-Digest values (seeded PRNG, reproducible). Every input either verifies or
 * fails with a typed signature.* / digest.* PortcullisError; never a crash or a hang.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { parseContentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import { parseDictionary, serializeInnerList, serializeItem, type InnerList } from 'structured-headers';
import { parseAcceptSignature, parseSignature, parseSignatureInput, parseSignatureInputStructured, parseSignatureStructured, scanSignature, scanSignatureInput } from '../../src/signatures/signature-input.js';
import { SignatureVerifier } from '../../src/signatures/verify.js';
import { registerStructuredField } from '../../src/signatures/components.js';

// RFC 9421 §2.1.1 and its appendix use Example-Dict as a Dictionary field
registerStructuredField('example-dict', 'dictionary');

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'sig1=():;,"\\ *-._@?%abcdefghkmnopqrstuvwxyz0123456789ABCXYZ+/\t\n\r\x00\u00e9\u{1F600}';
const NOW = 1_700_000_000;

const typed = (e: unknown): boolean => e instanceof PortcullisError && /^(signature|digest)\./.test(e.code);

describe('parser fuzz', () => {
  it('5000 random and mutated headers: always a typed error or a verified signature, within 30 s', async () => {
    const rand = mulberry32(0x9421);
    const pick = (s: string): string => s[Math.floor(rand() * s.length)]!;
    const key = await crypto.subtle.importKey('raw', new Uint8Array(32).fill(7), importParams('hmac-sha256'), false, ['sign', 'verify']);
    const clock = new FrozenClock(NOW * 1000);
    const base = { method: 'GET', url: 'https://example.com/a?b=c&d=e', headers: new Headers({ 'x-a': 'one', 'example-dict': 'a=1, b=(1 2);x' }) };
    const good = await signMessage(base, {
      key,
      alg: 'hmac-sha256',
      keyid: 'k',
      clock,
      nonce: 'abc',
      tag: 't',
      components: ['@method', '@authority', '@path', '@query', '@query-param;name="b"', '@target-uri', '@scheme', '@request-target', 'x-a', '"example-dict";key="b"', '"example-dict";sf', '"x-a";bs'],
    });
    const verifier = new SignatureVerifier({ clock, keyLookup: (kid) => (kid === 'k' ? { key, alg: 'hmac-sha256' } : undefined), clockSkew: 10 });
    assert.equal((await verifier.verify({ ...base, headers: new Headers({ 'x-a': 'one', 'example-dict': 'a=1, b=(1 2);x', 'signature-input': good.signatureInput, signature: good.signature }) })).label, 'sig1');

    const mutate = (s: string): string => {
      let out = s;
      const n = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < n; i++) {
        const at = Math.floor(rand() * (out.length + 1));
        const op = rand();
        if (op < 0.35) out = out.slice(0, at) + pick(ALPHABET) + out.slice(at);
        else if (op < 0.65) out = out.slice(0, at) + out.slice(at + 1);
        else if (op < 0.85) out = out.slice(0, at) + pick(ALPHABET) + out.slice(at + 1);
        else out = out + ', ' + out.slice(at);
      }
      return out;
    };
    const random = (): string => Array.from({ length: Math.floor(rand() * 80) }, () => pick(ALPHABET)).join('');

    const started = Date.now();
    let verified = 0;
    const codes = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const r = rand();
      const input = r < 0.45 ? mutate(good.signatureInput) : r < 0.6 ? random() : good.signatureInput;
      const sig = r >= 0.6 && r < 0.85 ? mutate(good.signature) : r >= 0.85 ? random() : good.signature;
      const headers = new Headers(base.headers);
      // Headers rejects values with NUL/CR/LF itself; pass those through a plain record instead
      const rec: Record<string, string> = { 'x-a': 'one', 'example-dict': 'a=1, b=(1 2);x', 'signature-input': input, signature: sig };
      const message = /[\0\r\n]|[^\x00-\xff]/.test(input + sig) ? { ...base, headers: rec } : { ...base, headers: (headers.set('signature-input', input), headers.set('signature', sig), headers) };
      try {
        await verifier.verify(message);
        verified++;
      } catch (e) {
        assert.ok(typed(e), `input ${JSON.stringify(input)} / ${JSON.stringify(sig)} threw ${String(e)}`);
        const code = (e as PortcullisError).code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      for (const value of [mutate(input), random()]) {
        try {
          parseAcceptSignature(value);
        } catch (e) {
          assert.ok(typed(e), `Accept-Signature ${JSON.stringify(value)} threw ${String(e)}`);
        }
        try {
          parseContentDigest(mutate('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:' + 'A'.repeat(86) + '==:') + value.slice(0, 5));
        } catch (e) {
          assert.ok(typed(e), `Content-Digest threw ${String(e)}`);
        }
      }
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 30_000, `took ${elapsed} ms`);
    assert.ok(codes.get('signature.malformed')! > 100, 'the mutations reach the parser');
    assert.ok((codes.get('signature.invalid') ?? 0) + (codes.get('signature.component-missing') ?? 0) > 10, 'some mutations parse and reach verification');
    assert.ok(verified < 5000 * 0.2, 'most mutations must not verify');
  });

  it('the canonical-form scanner and structured-headers agree on 20000 canonical and mutated Signature-Input / Signature values', () => {
    const rand = mulberry32(0x9422);
    const pick = (s: string): string => s[Math.floor(rand() * s.length)]!;
    const inputs = [
      'sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
      'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
      'sig1=("@query-param";name="Pet" "example-dict";key="a" "x-a";bs "x-b";sf;req "x-c";tr);created=0;expires=999999999999999;tag="t", *b.c_d-e=("x");alg="hmac-sha256";x',
      'a=("x" "y\\"q\\\\");created=-5;expires=0012;alg=hmac;z=1.5;w=:AQID:;v=?1',
      'sig1=("a";x;x="b" "c");created=1;created=2;keyid="k"',
    ];
    const signatures = ['sig1=:' + Buffer.alloc(64, 7).toString('base64') + ':', 'a=:AQID:, b=:AQ==:, c=:AQI=:, d=::', 'a=:AQ:;x, b=:A===:'];
    const outcome = (f: () => unknown): unknown => {
      try {
        return { ok: f() };
      } catch (e) {
        assert.ok(typed(e), String(e));
        return { error: (e as PortcullisError).code };
      }
    };
    const mutate = (v: string): string => {
      const n = Math.floor(rand() * 3);
      for (let k = 0; k < n; k++) {
        const at = Math.floor(rand() * (v.length + 1));
        const op = rand();
        v = op < 0.4 ? v.slice(0, at) + pick(' \t;=()":,?0123456789abz*.-\\+/AQ\u00e9') + v.slice(at) : op < 0.8 ? v.slice(0, at) + v.slice(at + 1) : v + ', ' + v.slice(at);
      }
      return v;
    };
    let scanned = 0;
    let fellBack = 0;
    for (let i = 0; i < 20000; i++) {
      const sigInput = mutate(inputs[i % inputs.length]!);
      assert.deepEqual(outcome(() => parseSignatureInput(sigInput)), outcome(() => parseSignatureInputStructured(sigInput)), JSON.stringify(sigInput));
      if (scanSignatureInput(sigInput) !== undefined) scanned++;
      else fellBack++;
      const sig = mutate(signatures[i % signatures.length]!);
      assert.deepEqual(outcome(() => parseSignature(sig)), outcome(() => parseSignatureStructured(sig)), JSON.stringify(sig));
    }
    // both paths are exercised: canonical values by the scanner, the rest by structured-headers
    assert.ok(scanned > 5000 && fellBack > 5000, `scanned ${scanned}, fell back ${fellBack}`);
    assert.ok(scanSignatureInput(inputs[0]!) !== undefined && scanSignatureInput(inputs[2]!) !== undefined && scanSignature(signatures[1]!) !== undefined);
    assert.equal(scanSignatureInput(inputs[3]!), undefined, 'escapes, signs, leading zeros, decimals, byte sequences and booleans are left to structured-headers');
  });

  it('@signature-params built from the parsed member equals structured-headers serialization, for 5000 mutated inputs', () => {
    const rand = mulberry32(0x8941);
    const pick = (s: string): string => s[Math.floor(rand() * s.length)]!;
    const seeds = [
      'sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
      'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
      'a=("@query-param";name="Pet" "example-dict";key="a" "x-a";bs "x-b";sf;req "x-c";tr);created=-0;expires=000123;alg=hmac-sha256;x=?1;y=?0;z=1.50;w=:AQID:;v=tok/en:x, b=("x" "y\\"q\\\\");tag="t"',
    ];
    let compared = 0;
    for (let i = 0; i < 5000; i++) {
      let v = seeds[i % seeds.length]!;
      const n = Math.floor(rand() * 3);
      for (let k = 0; k < n; k++) {
        const at = Math.floor(rand() * (v.length + 1));
        v = rand() < 0.5 ? v.slice(0, at) + pick(' ;=()":,?0123456789abz*.-\\') + v.slice(at) : v.slice(0, at) + v.slice(at + 1);
      }
      let parsed;
      try {
        parsed = parseSignatureInput(v);
      } catch (e) {
        assert.ok(typed(e), `${JSON.stringify(v)} threw ${String(e)}`);
        continue;
      }
      const dict = parseDictionary(v);
      for (const [label, input] of parsed) {
        const member = dict.get(label) as InnerList;
        assert.equal(input.serialized, serializeInnerList(member), JSON.stringify(v));
        assert.deepEqual(input.componentIds, member[0].map((item) => serializeItem(item)), JSON.stringify(v));
        compared++;
      }
    }
    assert.ok(compared > 2000, `only ${compared} members parsed`);
  });
});
