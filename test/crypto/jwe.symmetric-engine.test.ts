/**
 * The node:crypto engine for `dir` and `A256KW` with A256GCM (src/crypto/jwe/symmetric.ts,
 * docs/decisions/0005-jwe-symmetric-fast-path.md) against jose, the reference: what jose
 * encrypts the node engine decrypts and the other way round, and on every valid, tampered
 * or malformed JWE below both engines give the same answer (the same plaintext, or the
 * same refusal code), and that answer is the one each attack names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { CompactEncrypt, FlattenedEncrypt, compactDecrypt, flattenedDecrypt, type FlattenedJWE } from 'jose';
import { decryptBody, encryptBody, generateSymmetricKey, type DecryptBodyOptions, type JweDecryptionKey } from '../../src/crypto/jwe/index.js';
import { decryptSymmetric, gcmSeal } from '../../src/crypto/jwe/symmetric.js';
import { hex, load } from './wycheproof-support.js';

const ctx = { aud: 'orders-api', app: 'app-1' };
const dirKey = generateSymmetricKey('dir', 'd1');
const kwKey = generateSymmetricKey('A256KW', 'w1');
const otherKey = generateSymmetricKey('dir', 'd1');
const keys: Record<string, JweDecryptionKey> = { d1: { key: dirKey.key, use: 'enc' }, w1: { key: kwKey.key, use: 'enc' } };
const plain = new TextEncoder().encode(JSON.stringify({ order: 42, note: 'é€ü' }));
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const u8 = (s: string) => new TextEncoder().encode(s);

type Input = string | FlattenedJWE;
type Outcome = { code: string; plaintext?: string; cty?: string };

async function run(input: Input, engine: 'node' | 'jose', over: Partial<DecryptBodyOptions> = {}): Promise<Outcome> {
  try {
    const r = await decryptBody(input, { getKey: (kid) => (kid ? keys[kid] : undefined), context: ctx, engine, ...over });
    return { code: 'ok', plaintext: Buffer.from(r.plaintext).toString('hex'), ...(r.contentType ? { cty: r.contentType } : {}) };
  } catch (e) {
    return { code: (e as { code?: string }).code ?? `uncoded: ${String(e)}` };
  }
}

/** Both engines, same answer; returns it. */
async function agree(input: Input, label: string, over: Partial<DecryptBodyOptions> = {}): Promise<Outcome> {
  const [n, j] = await Promise.all([run(input, 'node', over), run(input, 'jose', over)]);
  assert.deepEqual(n, j, `${label}: node ${JSON.stringify(n)} vs jose ${JSON.stringify(j)}`);
  return n;
}

const header = (alg: 'dir' | 'A256KW', extra: Record<string, unknown> = {}) => ({ alg, enc: 'A256GCM', kid: alg === 'dir' ? 'd1' : 'w1', cty: 'application/json', aud: 'orders-api', pc_app: 'app-1', ...extra });
const keyOf = (alg: 'dir' | 'A256KW') => (alg === 'dir' ? dirKey.key : kwKey.key);

async function joseCompact(alg: 'dir' | 'A256KW', extra: Record<string, unknown> = {}): Promise<string> {
  return new CompactEncrypt(plain).setProtectedHeader(header(alg, extra) as never).encrypt(keyOf(alg));
}

const parts = (jwe: string) => jwe.split('.') as [string, string, string, string, string];
const join = (p: string[]) => p.join('.');
/** Flips one bit of a base64url member's decoded bytes. */
function flip(member: string, byte = 0): string {
  const b = Buffer.from(member, 'base64url');
  b[byte % b.length]! ^= 0x01;
  return b.toString('base64url');
}
/** A compact JWE with the same IV, ciphertext and tag under a forged protected header. */
const reheader = (jwe: string, h: Record<string, unknown>) => join([b64(h), ...parts(jwe).slice(1)]);

test('jwe symmetric engine: a JWE made by jose (compact and flattened JSON, dir and A256KW, with and without aad) decrypts on the node engine to the same plaintext', async () => {
  for (const alg of ['dir', 'A256KW'] as const) {
    const compact = await joseCompact(alg);
    const r = await agree(compact, `${alg} compact`);
    assert.equal(r.code, 'ok');
    assert.equal(r.plaintext, Buffer.from(plain).toString('hex'));
    assert.equal(r.cty, 'application/json');
    const flat = await new FlattenedEncrypt(plain).setProtectedHeader(header(alg) as never).setAdditionalAuthenticatedData(u8('order 42')).encrypt(keyOf(alg));
    assert.equal((await agree(flat, `${alg} flattened with aad`)).code, 'ok');
    const unprot = await new FlattenedEncrypt(plain).setProtectedHeader({ enc: 'A256GCM', aud: 'orders-api', pc_app: 'app-1' }).setUnprotectedHeader({ alg, kid: alg === 'dir' ? 'd1' : 'w1' }).encrypt(keyOf(alg));
    assert.equal((await agree(unprot, `${alg} alg and kid unprotected`)).code, 'ok');
    // and from bytes, as the gateway hands it over
    assert.equal((await agree(Buffer.from(compact) as unknown as string, `${alg} compact bytes`)).code, 'ok');
  }
});

test('jwe symmetric engine: what the node engine encrypts, jose decrypts (dir and A256KW, compact and flattened JSON), and the header is the one asked for', async () => {
  for (const alg of ['dir', 'A256KW'] as const) {
    const key = keyOf(alg);
    const compact = await encryptBody(plain, { key, alg, kid: 'k', cty: 'text/plain', context: { aud: 'a', app: 'b', requestId: 'r' } });
    const d = await compactDecrypt(compact, key);
    assert.deepEqual(Buffer.from(d.plaintext), Buffer.from(plain));
    assert.deepEqual(d.protectedHeader, { alg, enc: 'A256GCM', aud: 'a', pc_app: 'b', pc_rid: 'r', kid: 'k', cty: 'text/plain' });
    if (alg === 'dir') assert.equal(parts(compact)[1], '', 'dir carries no encrypted key');
    else assert.equal(Buffer.from(parts(compact)[1], 'base64url').length, 40, 'A256KW wraps a 256-bit CEK');
    const json = JSON.parse(await encryptBody(plain, { key, alg, context: { aud: 'a' }, serialization: 'json' })) as FlattenedJWE;
    assert.deepEqual(Buffer.from((await flattenedDecrypt(json, key)).plaintext), Buffer.from(plain));
    // the jose engine produces the same header for the same request
    const viaJose = await encryptBody(plain, { key, alg, kid: 'k', cty: 'text/plain', context: { aud: 'a', app: 'b', requestId: 'r' }, engine: 'jose' });
    assert.equal(parts(viaJose)[0], parts(compact)[0]);
  }
  // fresh IVs and, for A256KW, fresh content keys
  const a = parts(await encryptBody(plain, { key: kwKey.key, alg: 'A256KW', context: ctx }));
  const b = parts(await encryptBody(plain, { key: kwKey.key, alg: 'A256KW', context: ctx }));
  assert.notEqual(a[2], b[2]);
  assert.notEqual(a[1], b[1]);
});

test('jwe symmetric engine attack: a changed tag, ciphertext, IV, encrypted key, aad or protected header does not decrypt (jwe.decrypt-failed) on either engine', async () => {
  for (const alg of ['dir', 'A256KW'] as const) {
    const jwe = await joseCompact(alg);
    const p = parts(jwe);
    const cases: Array<[string, Input]> = [
      ['tag', join([p[0], p[1], p[2], p[3], flip(p[4], 15)])],
      ['tag first byte', join([p[0], p[1], p[2], p[3], flip(p[4])])],
      ['ciphertext', join([p[0], p[1], p[2], flip(p[3], 7), p[4]])],
      ['iv', join([p[0], p[1], flip(p[2], 11), p[3], p[4]])],
      // the header still names this route and app; only the authenticated bytes differ
      ['protected cty', reheader(jwe, header(alg, { cty: 'text/html' }))],
      ['protected member order', reheader(jwe, (({ alg: a, ...rest }) => ({ ...rest, alg: a }))(header(alg)))],
      ['truncated ciphertext', join([p[0], p[1], p[2], p[3].slice(0, -4), p[4]])],
    ];
    if (alg === 'A256KW') {
      cases.push(['encrypted key', join([p[0], flip(p[1], 20), p[2], p[3], p[4]])]);
      cases.push(['encrypted key too short', join([p[0], p[1].slice(0, 43), p[2], p[3], p[4]])]);
      cases.push(['no encrypted key', join([p[0], '', p[2], p[3], p[4]])]);
    }
    const flat = await new FlattenedEncrypt(plain).setProtectedHeader(header(alg) as never).setAdditionalAuthenticatedData(u8('order 42')).encrypt(keyOf(alg));
    cases.push(['aad', { ...flat, aad: Buffer.from('order 43').toString('base64url') }]);
    cases.push(['aad removed', { ...flat, aad: undefined } as FlattenedJWE]);
    for (const [what, input] of cases) assert.equal((await agree(input, `${alg} ${what}`)).code, 'jwe.decrypt-failed', `${alg} ${what}`);
  }
});

test('jwe symmetric engine attack: the wrong app key (same kid, another secret) is jwe.decrypt-failed on either engine', async () => {
  const jwe = await new CompactEncrypt(plain).setProtectedHeader(header('dir') as never).encrypt(otherKey.key);
  assert.equal((await agree(jwe, 'dir under another key')).code, 'jwe.decrypt-failed');
  const kw = await new CompactEncrypt(plain).setProtectedHeader(header('A256KW') as never).encrypt(generateSymmetricKey('A256KW').key);
  assert.equal((await agree(kw, 'A256KW under another key')).code, 'jwe.decrypt-failed');
});

test('jwe symmetric engine attack: malformed members (short tag, long IV, missing IV or tag, dir with an encrypted key, bad base64url) are jwe.malformed on either engine', async () => {
  for (const alg of ['dir', 'A256KW'] as const) {
    const jwe = await joseCompact(alg);
    const p = parts(jwe);
    const cases: Array<[string, Input]> = [
      ['tag of 15 bytes', join([p[0], p[1], p[2], p[3], Buffer.from(p[4], 'base64url').subarray(0, 15).toString('base64url')])],
      ['tag of 12 bytes (truncated-tag forgery)', join([p[0], p[1], p[2], p[3], Buffer.from(p[4], 'base64url').subarray(0, 12).toString('base64url')])],
      ['IV of 16 bytes', join([p[0], p[1], randomBytes(16).toString('base64url'), p[3], p[4]])],
      ['IV of 8 bytes', join([p[0], p[1], randomBytes(8).toString('base64url'), p[3], p[4]])],
      ['no IV', join([p[0], p[1], '', p[3], p[4]])],
      ['no tag', join([p[0], p[1], p[2], p[3], ''])],
      ['ciphertext of 4n+1 characters', join([p[0], p[1], p[2], p[3].length % 4 === 0 ? `${p[3]}A` : `${p[3].slice(0, p[3].length - (p[3].length % 4))}A`, p[4]])],
      ['ciphertext with + (base64, not base64url)', join([p[0], p[1], p[2], `+${p[3].slice(1)}`, p[4]])],
      ['ciphertext with padding', join([p[0], p[1], p[2], `${p[3]}==`, p[4]])],
      ['tag with a non-alphabet character', join([p[0], p[1], p[2], p[3], `${p[4].slice(0, -1)}!`])],
      ['protected header of 4n+1 characters', join([`${p[0]}A`, p[1], p[2], p[3], p[4]])],
      ['protected header not JSON', join([Buffer.from('{"alg":"dir",').toString('base64url'), p[1], p[2], p[3], p[4]])],
      ['protected header not UTF-8', join([Buffer.concat([Buffer.from('{"alg":"dir","enc":"A256GCM","aud":"orders-api","pc_app":"app-1","kid":"d1","x":"'), Buffer.from([0xff]), Buffer.from('"}')]).toString('base64url'), p[1], p[2], p[3], p[4]])],
      ['four parts', p.slice(0, 4).join('.')],
    ];
    if (alg === 'dir') cases.push(['dir with an encrypted key', join([p[0], randomBytes(40).toString('base64url'), p[2], p[3], p[4]])]);
    const flat = JSON.parse(await encryptBody(plain, { key: keyOf(alg), alg, kid: alg === 'dir' ? 'd1' : 'w1', context: ctx, serialization: 'json' })) as FlattenedJWE;
    cases.push(['empty aad member', { ...flat, aad: '' }]);
    cases.push(['empty iv member', { ...flat, iv: '' }]);
    if (alg === 'dir') cases.push(['dir with an empty encrypted_key member', { ...flat, encrypted_key: '' }]);
    for (const [what, input] of cases) assert.equal((await agree(input, `${alg} ${what}`)).code, 'jwe.malformed', `${alg} ${what}`);
  }
});

test('jwe symmetric engine: the same policy refusals come first on both engines (zip, crit, RSA1_5, PBES2, wrong key use, context binding, unknown kid, key size)', async () => {
  for (const alg of ['dir', 'A256KW'] as const) {
    const jwe = await joseCompact(alg);
    const cases: Array<[string, Input, string, Partial<DecryptBodyOptions>?]> = [
      ['zip', reheader(jwe, header(alg, { zip: 'DEF' })), 'jwe.zip-not-allowed'],
      ['crit', reheader(jwe, header(alg, { crit: ['exp'], exp: 1 })), 'jwe.crit-unsupported'],
      ['RSA1_5', reheader(jwe, { ...header(alg), alg: 'RSA1_5' }), 'jwe.alg-not-allowed'],
      ['PBES2', reheader(jwe, { ...header(alg), alg: 'PBES2-HS512+A256KW', p2c: 100_000_000 }), 'jwe.alg-not-allowed'],
      ['A128GCM', reheader(jwe, header(alg, { enc: 'A128GCM' })), 'jwe.alg-not-allowed'],
      ['another route', reheader(jwe, header(alg, { aud: 'billing-api' })), 'jwe.context-mismatch'],
      ['another app', reheader(jwe, header(alg, { pc_app: 'app-2' })), 'jwe.context-mismatch'],
      ['no binding', reheader(jwe, { alg, enc: 'A256GCM', kid: alg === 'dir' ? 'd1' : 'w1' }), 'jwe.context-mismatch'],
      ['unknown kid', reheader(jwe, header(alg, { kid: 'nope' })), 'jwe.unknown-key'],
      ['a signing key', jwe, 'jwe.wrong-key-use', { getKey: () => ({ key: keyOf(alg), use: 'sig' }) }],
      ['key_ops without decrypt', jwe, 'jwe.wrong-key-use', { getKey: () => ({ key: keyOf(alg), keyOps: ['encrypt'] }) }],
      ['a 128-bit key', jwe, 'jwe.alg-not-allowed', { getKey: () => ({ key: randomBytes(16) }) }],
      ['route takes ECDH only', jwe, 'jwe.alg-not-allowed', { algorithms: ['ECDH-ES+A256KW'] }],
    ];
    for (const [what, input, code, over] of cases) assert.equal((await agree(input, `${alg} ${what}`, over)).code, code, `${alg} ${what}`);
  }
});

test('jwe symmetric engine: raw secret bytes decrypt like a KeyObject; a CryptoKey stays on jose', async () => {
  const raw = Buffer.from(dirKey.jwk.k!, 'base64url');
  const jwe = await joseCompact('dir');
  assert.equal((await agree(jwe, 'raw bytes', { getKey: () => ({ key: new Uint8Array(raw) }) })).code, 'ok');
  const cryptoKey = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['decrypt']);
  assert.equal((await agree(jwe, 'CryptoKey', { getKey: () => ({ key: cryptoKey }) })).code, 'ok');
});

test('jwe symmetric engine: base64url with non-zero trailing bits decodes as jose decodes it (both engines accept the same bytes)', async () => {
  const jwe = await joseCompact('dir');
  const p = parts(jwe);
  // a 16-byte tag is 22 characters; the last one carries 4 unused bits
  const last = p[4].at(-1)!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
  assert.equal((await agree(join([p[0], p[1], p[2], p[3], p[4].slice(0, -1) + sibling]), 'trailing bits')).code, 'ok');
  // the same in the ciphertext, which the node engine decodes while it checks the alphabet
  assert.notEqual(p[3].length % 4, 0, 'the ciphertext has spare bits');
  const ctLast = p[3].at(-1)!;
  const ctSibling = alphabet[alphabet.indexOf(ctLast) ^ 1]!;
  const r = await agree(join([p[0], p[1], p[2], p[3].slice(0, -1) + ctSibling, p[4]]), 'ciphertext trailing bits');
  assert.equal(r.code, 'ok');
});

const gcm = load('aes_gcm_test.json');
const gcm256 = gcm.testGroups.filter((g) => g.keySize === 256);

test(`wycheproof aes_gcm: ${gcm256.reduce((n, g) => n + g.tests.length, 0)} vectors with 256-bit keys through the JWE node engine (decryptSymmetric, AAD as the JWE AAD bytes); IVs other than 96 bits and tags other than 128 bits are jwe.malformed`, () => {
  const failures: string[] = [];
  let opened = 0;
  for (const g of gcm256) {
    for (const t of g.tests) {
      const jwe: FlattenedJWE = {
        protected: hex(t.aad).toString('latin1'),
        iv: hex(t.iv).toString('base64url'),
        ciphertext: hex(t.ct).toString('base64url'),
        tag: hex(t.tag).toString('base64url'),
      };
      if (jwe.iv === '') delete jwe.iv;
      let got: string;
      try {
        got = decryptSymmetric(jwe, hex(t.key), 'dir').toString('hex');
      } catch (e) {
        got = (e as { code: string }).code;
      }
      const jweShaped = g.ivSize === 96 && g.tagSize === 128;
      if (!jweShaped) {
        if (got !== 'jwe.malformed') failures.push(`${t.tcId} (iv ${String(g.ivSize)}, tag ${String(g.tagSize)}): ${got}`);
      } else if (t.result === 'valid') {
        opened++;
        if (got !== t.msg) failures.push(`${t.tcId} valid: ${got}`);
        const sealed = gcmSeal(hex(t.key), hex(t.iv), hex(t.msg), hex(t.aad).toString('latin1'));
        if (sealed.ciphertext.toString('hex') !== t.ct || sealed.tag.toString('hex') !== t.tag) failures.push(`${t.tcId} seal`);
      } else if (got !== 'jwe.decrypt-failed') failures.push(`${t.tcId} (${t.result}): ${got}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(opened > 20, `valid 96/128 vectors opened: ${opened}`);
});

test('jwe symmetric engine: a JWE whose AES-GCM layer was made outside jose (node createCipheriv, RFC 7516 §5.1) decrypts on both engines', async () => {
  const protectedB64 = b64(header('dir'));
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', dirKey.key, iv);
  c.setAAD(Buffer.from(protectedB64, 'ascii'));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const jwe = join([protectedB64, '', iv.toString('base64url'), ct.toString('base64url'), c.getAuthTag().toString('base64url')]);
  assert.equal((await agree(jwe, 'outside')).plaintext, Buffer.from(plain).toString('hex'));
});
