/**
 * Wycheproof AEAD and key-wrap vectors through Portcullis's crypto paths:
 * aes_gcm_test.json through the transit AES-256-GCM primitive, aes_wrap_test.json through
 * JWE A256KW (decryptBody on both engines: node:crypto and jose) and node's id-aes256-wrap, a256cbc_hs512_test.json through
 * jose's A256CBC-HS512 decryption (empty AAD) and the RFC 7518 §5.2.2 primitive (other AAD).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { flattenedDecrypt } from 'jose';
import { decryptBody } from '../../src/crypto/jwe/index.js';
import { gcmOpen, gcmSeal } from '../../src/crypto/transit/index.js';
import { buildJwe, hex, load, outcome, type Vector } from './wycheproof-support.js';

const gcm = load('aes_gcm_test.json');
const gcmIn = gcm.testGroups.filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128);
const gcmInCount = gcmIn.reduce((n, g) => n + g.tests.length, 0);

test(`wycheproof aes_gcm: ${gcmInCount} vectors with 256-bit keys, 96-bit IVs, 128-bit tags through the transit AES-256-GCM primitive`, () => {
  const failures: string[] = [];
  for (const g of gcmIn) {
    for (const t of g.tests) {
      const key = createSecretKey(hex(t.key));
      const sealed = Buffer.concat([hex(t.ct), hex(t.tag)]);
      let opened: Buffer | string;
      try {
        opened = gcmOpen(key, hex(t.iv), sealed, hex(t.aad));
      } catch (e) {
        opened = (e as { code: string }).code;
      }
      if (t.result === 'valid') {
        if (!(opened instanceof Buffer) || !opened.equals(hex(t.msg))) failures.push(`${t.tcId} open: ${String(opened)}`);
        if (!gcmSeal(key, hex(t.iv), hex(t.msg), hex(t.aad)).equals(sealed)) failures.push(`${t.tcId} seal`);
      } else if (opened !== 'transit.decrypt-failed') failures.push(`${t.tcId} (${t.result}) opened: ${String(opened)}`);
    }
  }
  assert.deepEqual(failures, []);
});

test(`wycheproof aes_gcm: the other ${gcm.numberOfTests - gcmInCount} vectors (128/192-bit keys, IVs other than 96 bits) are not run: transit uses only AES-256 with 96-bit IVs`, () => {
  const other = gcm.testGroups.filter((g) => !gcmIn.includes(g));
  assert.ok(other.every((g) => g.keySize !== 256 || g.ivSize !== 96));
  assert.equal(other.reduce((n, g) => n + g.tests.length, 0) + gcmInCount, gcm.numberOfTests);
});

const wrap = load('aes_wrap_test.json');
const wrap256 = wrap.testGroups.filter((g) => g.keySize === 256).flatMap((g) => g.tests);

function nodeUnwrap(t: Vector): Buffer | undefined {
  try {
    const d = createDecipheriv('id-aes256-wrap', hex(t.key), Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    return Buffer.concat([d.update(hex(t.ct)), d.final()]);
  } catch {
    return undefined;
  }
}

test(`wycheproof aes_wrap: ${wrap256.length} vectors with 256-bit keys through JWE A256KW (decryptBody, node and jose engines) and node id-aes256-wrap (empty-ciphertext wrap-size vectors: JWE path only)`, async () => {
  const failures: string[] = [];
  let throughJwe = 0;
  for (const t of wrap256) {
    const msg = hex(t.msg);
    const unwrapped = nodeUnwrap(t);
    if (t.result === 'valid' && !unwrapped?.equals(msg)) failures.push(`${t.tcId} node unwrap`);
    // Vectors with an empty ciphertext test the wrapping side (sizes not a multiple of 8); node's
    // raw unwrap of no input yields no output rather than an error, so only the JWE path is judged there.
    if (t.result === 'invalid' && unwrapped && hex(t.ct).length > 0) failures.push(`${t.tcId} node unwrapped an invalid vector`);
    if (t.result === 'acceptable' && unwrapped && !unwrapped.equals(msg)) failures.push(`${t.tcId} node unwrap (acceptable) differs`);
    // Through the JWE path: the encrypted key is the vector's ciphertext; it decrypts only
    // when A256KW unwraps it to the 32-byte content key the vector names.
    const header = { alg: 'A256KW', enc: 'A256GCM', aud: 'wycheproof' };
    const jwe = buildJwe(header, hex(t.ct), t.result === 'valid' && msg.length === 32 ? msg : undefined, Buffer.from(`tc ${t.tcId}`));
    const r = await outcome(decryptBody(jwe, { getKey: () => ({ key: hex(t.key) }), context: { aud: 'wycheproof' } }));
    const viaJose = await outcome(decryptBody(jwe, { getKey: () => ({ key: hex(t.key) }), context: { aud: 'wycheproof' }, engine: 'jose' }));
    if (viaJose.code !== r.code) failures.push(`${t.tcId} engines disagree: node ${r.code}, jose ${viaJose.code}`);
    if (t.result === 'valid' && msg.length === 32) {
      throughJwe++;
      if (r.code !== 'ok' || Buffer.from(r.value!.plaintext).toString() !== `tc ${t.tcId}`) failures.push(`${t.tcId} jwe: ${r.code}`);
    } else if (t.result === 'invalid' && !['jwe.decrypt-failed', 'jwe.malformed'].includes(r.code)) failures.push(`${t.tcId} jwe accepted invalid: ${r.code}`);
  }
  assert.deepEqual(failures, []);
  assert.equal(throughJwe, 4, 'the valid 32-byte content keys decrypt through the JWE path');
});

test(`wycheproof aes_wrap: the ${wrap.numberOfTests - wrap256.length} vectors with 128/192-bit keys are not run: A256KW uses 256-bit keys only`, () => {
  assert.equal(wrap.testGroups.filter((g) => g.keySize !== 256).reduce((n, g) => n + g.tests.length, 0), wrap.numberOfTests - wrap256.length);
});

/** RFC 7518 §5.2.2.2 AES_CBC_HMAC_SHA2 decryption, as a check of the primitive where jose cannot take the AAD. */
function cbcHmacOpen(t: Vector): Buffer | undefined {
  const key = hex(t.key);
  const macKey = key.subarray(0, 32);
  const encKey = key.subarray(32);
  const aad = hex(t.aad);
  const al = Buffer.alloc(8);
  al.writeBigUInt64BE(BigInt(aad.length * 8));
  const m = createHmac('sha512', macKey).update(Buffer.concat([aad, hex(t.iv), hex(t.ct), al])).digest().subarray(0, 32);
  const tag = hex(t.tag);
  if (tag.length !== 32 || !timingSafeEqual(m, tag)) return undefined;
  try {
    const d = createDecipheriv('aes-256-cbc', encKey, hex(t.iv));
    return Buffer.concat([d.update(hex(t.ct)), d.final()]);
  } catch {
    return undefined;
  }
}

const cbc = load('a256cbc_hs512_test.json').testGroups.flatMap((g) => g.tests);

test(`wycheproof a256cbc_hs512: ${cbc.filter((t) => t.aad === '').length} vectors with empty AAD through jose's A256CBC-HS512 JWE decryption (dir, unprotected header); Portcullis's own policy refuses this enc`, async () => {
  const failures: string[] = [];
  for (const t of cbc.filter((v) => v.aad === '')) {
    // With no protected header and no aad member, the JWE AAD is the empty string (RFC 7516 §5.2 step 14).
    const jwe = { unprotected: { alg: 'dir', enc: 'A256CBC-HS512' }, iv: hex(t.iv).toString('base64url'), ciphertext: hex(t.ct).toString('base64url'), tag: hex(t.tag).toString('base64url') };
    let plain: Uint8Array | undefined;
    try {
      plain = (await flattenedDecrypt(jwe, hex(t.key), { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256CBC-HS512'] })).plaintext;
    } catch {
      plain = undefined;
    }
    if (t.result === 'valid' && !(plain && Buffer.from(plain).equals(hex(t.msg)))) failures.push(`${t.tcId} valid not decrypted`);
    if (t.result === 'invalid' && plain) failures.push(`${t.tcId} invalid decrypted`);
    // And Portcullis refuses the enc outright on the body path.
    const r = await outcome(decryptBody({ ...jwe, protected: Buffer.from('{"aud":"w"}').toString('base64url') }, { getKey: () => ({ key: hex(t.key) }), context: { aud: 'w' } }));
    if (r.code !== 'jwe.alg-not-allowed') failures.push(`${t.tcId} policy: ${r.code}`);
  }
  assert.deepEqual(failures, []);
});

test(`wycheproof a256cbc_hs512: ${cbc.filter((t) => t.aad !== '').length} vectors with AAD through node aes-256-cbc + HMAC-SHA512 per RFC 7518 §5.2.2 (a JWE cannot carry arbitrary AAD bytes)`, () => {
  const failures: string[] = [];
  for (const t of cbc.filter((v) => v.aad !== '')) {
    const plain = cbcHmacOpen(t);
    if (t.result === 'valid' && !plain?.equals(hex(t.msg))) failures.push(`${t.tcId} valid`);
    if (t.result === 'invalid' && plain) failures.push(`${t.tcId} invalid accepted`);
  }
  assert.deepEqual(failures, []);
});
