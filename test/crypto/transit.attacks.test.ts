/**
 * Named attacks on encryption as a service: each must be refused with its exact code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transitFixture } from './transit-support.js';

function tamper(ct: string, at: 'iv' | 'ciphertext' | 'tag'): string {
  const head = ct.slice(0, ct.lastIndexOf(':') + 1);
  const raw = Buffer.from(ct.slice(head.length), 'base64');
  const i = at === 'iv' ? 3 : at === 'tag' ? raw.length - 2 : 12 + 1;
  raw[i]! ^= 0x80;
  return head + raw.toString('base64');
}

for (const part of ['ciphertext', 'tag', 'iv'] as const) {
  test(`transit attack: a tampered ${part} fails as transit.decrypt-failed (and rewrap refuses it too)`, async () => {
    const { transit } = await transitFixture();
    await transit.createKey('pii', 'aes256-gcm');
    const ct = await transit.encrypt('pii', 'account 1234', { context: 'row:7' });
    await assert.rejects(transit.decrypt('pii', tamper(ct, part), { context: 'row:7' }), { code: 'transit.decrypt-failed' });
    await assert.rejects(transit.rewrap('pii', tamper(ct, part), { context: 'row:7' }), { code: 'transit.decrypt-failed' });
  });
}

test('transit attack: a ciphertext moved to another row (wrong or missing context) fails as transit.decrypt-failed', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('pii', 'aes256-gcm');
  const ct = await transit.encrypt('pii', 'account 1234', { context: 'row:7' });
  await assert.rejects(transit.decrypt('pii', ct, { context: 'row:8' }), { code: 'transit.decrypt-failed' });
  await assert.rejects(transit.decrypt('pii', ct), { code: 'transit.decrypt-failed' });
  const noCtx = await transit.encrypt('pii', 'x');
  await assert.rejects(transit.decrypt('pii', noCtx, { context: 'row:7' }), { code: 'transit.decrypt-failed' });
});

test('transit attack: a ciphertext of another key (same version number) fails as transit.decrypt-failed', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('a', 'aes256-gcm');
  await transit.createKey('b', 'aes256-gcm');
  await assert.rejects(transit.decrypt('b', await transit.encrypt('a', 'x')), { code: 'transit.decrypt-failed' });
});

test('transit attack: relabelling a ciphertext with another version does not decrypt it', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  const v1 = await transit.encrypt('k', 'x');
  await transit.rotate('k');
  await assert.rejects(transit.decrypt('k', v1.replace('pc:v1:', 'pc:v2:')), { code: 'transit.decrypt-failed' });
});

test('transit attack: decryption after minDecryptionVersion passed the version is refused as transit.version-retired (decrypt, rewrap, verify, verifyHmac)', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  await transit.createKey('s', 'ed25519');
  const ct = await transit.encrypt('k', 'x');
  const mac = await transit.hmac('k', 'x');
  const sig = await transit.sign('s', 'x');
  await transit.rotate('k');
  await transit.rotate('s');
  await transit.configure('k', { minDecryptionVersion: 2 });
  await transit.configure('s', { minDecryptionVersion: 2 });
  await assert.rejects(transit.decrypt('k', ct), { code: 'transit.version-retired' });
  await assert.rejects(transit.rewrap('k', ct), { code: 'transit.version-retired' });
  await assert.rejects(transit.verifyHmac('k', 'x', mac), { code: 'transit.version-retired' });
  await assert.rejects(transit.verify('s', 'x', sig), { code: 'transit.version-retired' });
  await assert.rejects(transit.encrypt('k', 'x', { version: 1 }), { code: 'transit.version-retired' });
  // Lowering it again restores access (as Vault does): the old version was retired, not destroyed.
  await transit.configure('k', { minDecryptionVersion: 1 });
  assert.equal(new TextDecoder().decode(await transit.decrypt('k', ct)), 'x');
});

test('transit attack: wrong key type (decrypt with a signing key, sign with an AES key) is refused as transit.wrong-key-type', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('aes', 'aes256-gcm');
  await transit.createKey('ed', 'ed25519');
  await transit.createKey('ec', 'ecdsa-p256');
  const ct = await transit.encrypt('aes', 'x');
  for (const op of [
    () => transit.encrypt('ed', 'x'),
    () => transit.decrypt('ec', ct),
    () => transit.rewrap('ed', ct),
    () => transit.generateDataKey('ec'),
    () => transit.sign('aes', 'x'),
    () => transit.verify('aes', 'x', ct),
  ]) {
    await assert.rejects(op(), { code: 'transit.wrong-key-type' });
  }
});

test('transit attack: malformed values (no prefix, leading-zero or huge version, bad base64, truncated) are transit.malformed-ciphertext', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  const ct = await transit.encrypt('k', 'x');
  const body = ct.slice('pc:v1:'.length);
  for (const bad of [
    body,
    `vault:v1:${body}`,
    `pc:v01:${body}`,
    `pc:v0:${body}`,
    `pc:v99999999999:${body}`,
    `pc:v1:${body.slice(0, -1)}`,
    `pc:v1:${body}!`,
    `pc:v1:${body.replace(/[+/]/g, '-')}${/[+/]/.test(body) ? '' : '-'}`,
    'pc:v1:',
    'pc:v1:AAAA',
    `pc:v7:${body}`,
    // a UTF-16 unit whose low byte is an alphabet letter ('Ł' is U+0141, 'A' is 0x41) is not base64
    `pc:v1:${body.slice(0, 4)}\u0141${body.slice(5)}`,
    `pc:v1:${body.slice(0, 4)}\u0161${body.slice(5)}`,
  ]) {
    await assert.rejects(transit.decrypt('k', bad), { code: 'transit.malformed-ciphertext' }, bad);
  }
  await assert.rejects(transit.decrypt('k', 42 as unknown as string), { code: 'transit.malformed-ciphertext' });
});

test('transit attack: a tampered signature or HMAC does not verify', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('ec', 'ecdsa-p256');
  const sig = await transit.sign('ec', 'pay 10');
  assert.equal(await transit.verify('ec', 'pay 10', tamper(sig, 'ciphertext')), false);
  assert.equal(await transit.verify('ec', 'pay 1000', sig), false);
  const mac = await transit.hmac('ec', 'pay 10');
  assert.equal(await transit.verifyHmac('ec', 'pay 10', tamper(mac, 'iv')), false);
  assert.equal(await transit.verifyHmac('ec', 'pay 10', 'pc:v1:AAAA'), false, 'a short HMAC is false, not an exception');
});

test('transit attack: forged high versions cannot flood the store with reloads (concurrent values and a batch share one read; reads of a key never overlap)', async () => {
  const { transit, store } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  const body = (await transit.encrypt('k', 'x')).slice('pc:v1:'.length);
  let reads = 0;
  let inFlight = 0;
  let most = 0;
  const get = store.getTransitKey.bind(store);
  store.getTransitKey = async (n) => {
    reads++;
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return get(n);
  };
  // 50 at once: one read, every value malformed
  const all = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => transit.decrypt('k', `pc:v${2 + i}:${body}`)));
  assert.ok(all.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'transit.malformed-ciphertext'));
  assert.equal(reads, 1);
  // a batch of 50: one read
  const batch = await transit.decryptBatch('k', Array.from({ length: 50 }, (_, i) => ({ ciphertext: `pc:v${2 + i}:${body}` })));
  assert.ok(batch.every((r) => !r.ok && r.code === 'transit.malformed-ciphertext'));
  assert.equal(reads, 2);
  // values that arrive while a read is in flight wait for one read after it, shared: never a read each, never two at once
  reads = 0;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const read = store.getTransitKey;
  let first = true;
  store.getTransitKey = async (n) => {
    if (first) {
      first = false;
      most = Math.max(most, ++inFlight);
      await held;
      inFlight--;
      reads++;
      return get(n);
    }
    return read(n);
  };
  const early = transit.verifyHmac('k', 'x', `pc:v9:${body}`).catch((e: { code: string }) => e.code);
  await new Promise((r) => setImmediate(r));
  const late = Array.from({ length: 20 }, (_, i) => transit.verifyHmac('k', 'x', `pc:v${10 + i}:${body}`).catch((e: { code: string }) => e.code));
  await new Promise((r) => setImmediate(r));
  release();
  assert.deepEqual(new Set([await early, ...(await Promise.all(late))]), new Set(['transit.malformed-ciphertext']));
  assert.equal(reads, 2, 'the read in flight, then one for all that came during it');
  assert.equal(most, 1);
});

test('transit attack: a version a value names is looked for in a read begun after the call, even one read a moment ago (rotation on another node), never in an older read alone', async () => {
  const { transit, node } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  await transit.encrypt('k', 'warm the cache'); // frozen clock: no time passes
  const other = node();
  await other.rotate('k');
  const v2 = await other.encrypt('k', 'from v2');
  assert.equal(new TextDecoder().decode(await transit.decrypt('k', v2)), 'from v2');
  await other.rotate('k');
  const v3 = await other.encrypt('k', 'from v3');
  const [r] = await transit.decryptBatch('k', [{ ciphertext: v3 }]);
  assert.ok(r!.ok);
  await assert.rejects(transit.decrypt('k', v3.replace('pc:v3:', 'pc:v4:')), { code: 'transit.malformed-ciphertext' });
});

/** The same bytes spelled with non-zero pad bits in the last base64 character (RFC 4648 §3.5). */
function respell(value: string): string {
  const head = value.slice(0, value.lastIndexOf(':') + 1);
  const body = value.slice(head.length);
  const pad = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  assert.ok(pad > 0, `${value} has no pad bits`);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const at = body.length - 1 - pad;
  const spelled = head + body.slice(0, at) + alphabet[alphabet.indexOf(body[at]!) | 1] + body.slice(at + 1);
  assert.notEqual(spelled, value);
  assert.deepEqual(Buffer.from(spelled.slice(head.length), 'base64'), Buffer.from(body, 'base64'), 'the same bytes');
  return spelled;
}

test('transit attack: a value respelled with non-zero base64 pad bits (non-canonical) is transit.malformed-ciphertext, not a second spelling of the same ciphertext, signature or HMAC', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  await transit.createKey('ec', 'ecdsa-p256');
  const ct = await transit.encrypt('k', 'xy'); // 12 + 2 + 16 = 30 bytes: no padding
  const ct1 = await transit.encrypt('k', 'x'); // 29 bytes: one '='
  const ct2 = await transit.encrypt('k', ''); // 28 bytes: two '='
  assert.equal(ct.endsWith('='), false);
  for (const v of [ct1, ct2]) {
    await assert.rejects(transit.decrypt('k', respell(v)), { code: 'transit.malformed-ciphertext' });
    await assert.rejects(transit.rewrap('k', respell(v)), { code: 'transit.malformed-ciphertext' });
  }
  const sig = await transit.sign('ec', 'pay 10'); // 64 bytes: '=='
  await assert.rejects(transit.verify('ec', 'pay 10', respell(sig)), { code: 'transit.malformed-ciphertext' });
  const mac = await transit.hmac('k', 'pay 10'); // 32 bytes: '='
  await assert.rejects(transit.verifyHmac('k', 'pay 10', respell(mac)), { code: 'transit.malformed-ciphertext' });
  // the canonical spellings still work
  assert.equal(new TextDecoder().decode(await transit.decrypt('k', ct1)), 'x');
  assert.equal(await transit.verify('ec', 'pay 10', sig), true);
  assert.equal(await transit.verifyHmac('k', 'pay 10', mac), true);
});

test('transit attack: a store read that began before an invalidation is not cached, so a version retired on another node is refused (transit.version-retired), not decrypted until the cache TTL', async () => {
  const { transit, store, node } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  const v1 = await transit.encrypt('k', 'old');
  await transit.rotate('k');
  const b = node();
  // node B starts a decrypt with a cold cache: its store read sees v1 still live, and its answer is slow
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const get = store.getTransitKey.bind(store);
  let calls = 0;
  store.getTransitKey = async (n) => {
    const snapshot = await get(n);
    if (calls++ === 0) await held;
    return snapshot;
  };
  const inFlight = b.decrypt('k', v1);
  await new Promise((r) => setImmediate(r));
  // node A retires v1 (a compromised version, say); its transit.changed event reaches node B
  await transit.configure('k', { minDecryptionVersion: 2 });
  b.invalidate('k');
  release();
  // the decrypt that began before the retirement may finish as it began
  assert.equal(new TextDecoder().decode(await inFlight), 'old');
  // but what it read is not kept: the next decrypt on node B sees the retirement
  await assert.rejects(b.decrypt('k', v1), { code: 'transit.version-retired' });
});
