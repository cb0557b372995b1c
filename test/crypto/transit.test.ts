import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { transitFixture } from './transit-support.js';

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test('transit: encrypt/decrypt round trip; ciphertexts carry the version and differ each time (random IV)', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('pii', 'aes256-gcm');
  const a = await transit.encrypt('pii', 'ssn 078-05-1120');
  const b = await transit.encrypt('pii', 'ssn 078-05-1120');
  assert.match(a, /^pc:v1:[A-Za-z0-9+/]+=*$/);
  assert.notEqual(a, b);
  assert.equal(dec(await transit.decrypt('pii', a)), 'ssn 078-05-1120');
  assert.equal(dec(await transit.decrypt('pii', await transit.encrypt('pii', new Uint8Array()))), '');
});

test('transit: associated data (context) is authenticated: same context decrypts', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('pii', 'aes256-gcm');
  const ct = await transit.encrypt('pii', 'x', { context: 'customer:42' });
  assert.equal(dec(await transit.decrypt('pii', ct, { context: new TextEncoder().encode('customer:42') })), 'x');
});

test('transit: rotate adds a version; new ciphertexts use it and old ones still decrypt; rewrap moves them to the latest', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('pii', 'aes256-gcm');
  const v1 = await transit.encrypt('pii', 'old', { context: 'c' });
  const info = await transit.rotate('pii');
  assert.equal(info.latestVersion, 2);
  assert.deepEqual(info.versions.map((v) => v.version), [1, 2]);
  const v2 = await transit.encrypt('pii', 'new');
  assert.ok(v2.startsWith('pc:v2:'));
  assert.equal(dec(await transit.decrypt('pii', v1, { context: 'c' })), 'old');
  await transit.rotate('pii');
  const rewrapped = await transit.rewrap('pii', v1, { context: 'c' });
  assert.ok(rewrapped.startsWith('pc:v3:'));
  assert.equal(dec(await transit.decrypt('pii', rewrapped, { context: 'c' })), 'old');
});

test('transit: minEncryptionVersion and an explicit version choose the encryption version', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  await transit.rotate('k');
  await transit.rotate('k');
  assert.ok((await transit.encrypt('k', 'x', { version: 1 })).startsWith('pc:v1:'), 'minEncryptionVersion 0 allows any version');
  await transit.configure('k', { minEncryptionVersion: 2 });
  assert.ok((await transit.encrypt('k', 'x', { version: 2 })).startsWith('pc:v2:'));
  await assert.rejects(transit.encrypt('k', 'x', { version: 1 }), { code: 'transit.version-retired' });
  await assert.rejects(transit.encrypt('k', 'x', { version: 4 }), { code: 'transit.invalid-input' });
  await assert.rejects(transit.configure('k', { minDecryptionVersion: 3 }), { code: 'transit.invalid-input' }, 'minEncryptionVersion below minDecryptionVersion');
  await assert.rejects(transit.configure('k', { minDecryptionVersion: 4 }), { code: 'transit.invalid-input' }, 'beyond latest');
  const info = await transit.configure('k', { minDecryptionVersion: 2 });
  assert.equal(info.minDecryptionVersion, 2);
});

test('transit: generate data key returns plaintext and wrapped key; the wrapped key decrypts to the plaintext; wrapped-only omits it', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('dk', 'aes256-gcm');
  const d = await transit.generateDataKey('dk', { context: 'bucket/a' });
  assert.equal(d.plaintext!.length, 32);
  assert.equal(d.keyVersion, 1);
  assert.deepEqual(Buffer.from(await transit.decrypt('dk', d.ciphertext, { context: 'bucket/a' })), Buffer.from(d.plaintext!));
  const w = await transit.generateDataKey('dk', { plaintext: false, bits: 512 });
  assert.equal('plaintext' in w, false);
  assert.equal((await transit.decrypt('dk', w.ciphertext)).length, 64);
  await assert.rejects(transit.generateDataKey('dk', { bits: 192 as 256 }), { code: 'transit.invalid-input' });
});

for (const type of ['ed25519', 'ecdsa-p256'] as const) {
  test(`transit: ${type} sign/verify, across a rotation; the public key verifies outside Portcullis`, async () => {
    const { transit } = await transitFixture();
    const info = await transit.createKey('signer', type);
    const sig = await transit.sign('signer', 'invoice 17');
    assert.ok(sig.startsWith('pc:v1:'));
    assert.equal(await transit.verify('signer', 'invoice 17', sig), true);
    assert.equal(await transit.verify('signer', 'invoice 18', sig), false);
    const raw = Buffer.from(sig.slice('pc:v1:'.length), 'base64');
    const pub = createPublicKey({ key: Buffer.from(info.versions[0]!.publicKey!, 'base64'), format: 'der', type: 'spki' });
    const ok = type === 'ed25519' ? verify(null, Buffer.from('invoice 17'), pub, raw) : verify('sha256', Buffer.from('invoice 17'), { key: pub, dsaEncoding: 'ieee-p1363' }, raw);
    assert.equal(ok, true);
    await transit.rotate('signer');
    const sig2 = await transit.sign('signer', 'invoice 17');
    assert.ok(sig2.startsWith('pc:v2:'));
    assert.equal(await transit.verify('signer', 'invoice 17', sig), true, 'an old signature still verifies');
    assert.equal(await transit.verify('signer', 'invoice 17', sig2.replace('pc:v2:', 'pc:v1:')), false, 'a v2 signature is not valid under v1');
  });
}

test('transit: HMAC per key version with an HMAC subkey, sha2-256 and sha2-512, verified in constant time', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('mac', 'aes256-gcm');
  await transit.createKey('sig', 'ed25519');
  for (const name of ['mac', 'sig']) {
    const h = await transit.hmac(name, 'message');
    assert.equal(Buffer.from(h.slice(6), 'base64').length, 32);
    assert.equal(await transit.verifyHmac(name, 'message', h), true);
    assert.equal(await transit.verifyHmac(name, 'messagE', h), false);
    const h512 = await transit.hmac(name, 'message', { algorithm: 'sha2-512' });
    assert.equal(Buffer.from(h512.slice(6), 'base64').length, 64);
    assert.equal(await transit.verifyHmac(name, 'message', h512, { algorithm: 'sha2-512' }), true);
    assert.equal(await transit.verifyHmac(name, 'message', h512), false, 'algorithm must match');
  }
  assert.notEqual(await transit.hmac('mac', 'm'), await transit.hmac('sig', 'm'), 'each key has its own subkey');
});

test('transit: batch input for every operation; one bad item fails alone', async () => {
  const { transit } = await transitFixture();
  await transit.createKey('b', 'aes256-gcm');
  await transit.createKey('s', 'ecdsa-p256');
  const enc = await transit.encryptBatch('b', [{ plaintext: 'one' }, { plaintext: 'two', context: 'c2' }, { plaintext: 'three', version: 9 }]);
  assert.equal(enc[0]!.ok && enc[1]!.ok, true);
  assert.deepEqual(enc[2], { ok: false, code: 'transit.invalid-input', message: enc[2]!.ok ? '' : enc[2]!.message });
  const cts = enc.flatMap((r) => (r.ok ? [r.value] : []));
  const decd = await transit.decryptBatch('b', [{ ciphertext: cts[0]! }, { ciphertext: cts[1]!, context: 'c2' }, { ciphertext: cts[1]! }, { ciphertext: 'garbage' }]);
  assert.deepEqual(decd.map((r) => (r.ok ? dec(r.value) : r.code)), ['one', 'two', 'transit.decrypt-failed', 'transit.malformed-ciphertext']);
  await transit.rotate('b');
  const rw = await transit.rewrapBatch('b', [{ ciphertext: cts[0]! }]);
  assert.ok(rw[0]!.ok && rw[0]!.value.startsWith('pc:v2:'));
  const dks = await transit.generateDataKeyBatch('b', [{}, { plaintext: false }]);
  assert.equal(dks.length, 2);
  const sigs = await transit.signBatch('s', [{ input: 'a' }, { input: 'b' }]);
  const sigValues = sigs.map((r) => (r.ok ? r.value : ''));
  const ver = await transit.verifyBatch('s', [{ input: 'a', signature: sigValues[0]! }, { input: 'a', signature: sigValues[1]! }]);
  assert.deepEqual(ver.map((r) => r.ok && r.value), [true, false]);
  const macs = await transit.hmacBatch('b', [{ input: 'x' }]);
  const vm = await transit.verifyHmacBatch('b', [{ input: 'x', hmac: macs[0]!.ok ? macs[0]!.value : '' }]);
  assert.deepEqual(vm, [{ ok: true, value: true }]);
  await assert.rejects(transit.encryptBatch('missing', [{ plaintext: 'x' }]), { code: 'transit.key-not-found' });
  await assert.rejects(transit.signBatch('b', [{ input: 'x' }]), { code: 'transit.wrong-key-type' });
  await assert.rejects(transit.encryptBatch('b', []), { code: 'transit.invalid-input' });
});

test('transit: key material is sealed in the store (no key bytes in clear), and another node reads the same keys', async () => {
  const { transit, store, node } = await transitFixture();
  await transit.createKey('pii', 'aes256-gcm');
  const rec = (await store.getTransitKey('pii'))!;
  assert.ok(rec.versions[0]!.sealed.startsWith('pc1.'));
  const ct = await transit.encrypt('pii', 'hello', { context: 'c' });
  assert.equal(dec(await node().decrypt('pii', ct, { context: 'c' })), 'hello');
  assert.deepEqual(await transit.listKeys(), ['pii']);
});

test('transit: a rotation on another node is picked up for new versions (reload on an unknown version, invalidate, cache TTL)', async () => {
  const { transit, node, clock } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  await transit.encrypt('k', 'warm the cache');
  const other = node();
  await other.rotate('k');
  const v2 = await other.encrypt('k', 'from v2');
  clock.advance(1000);
  assert.equal(dec(await transit.decrypt('k', v2)), 'from v2', 'an unknown newer version triggers one store read');
  await other.configure('k', { minDecryptionVersion: 2 });
  const v1 = await other.encrypt('k', 'x', { version: 1 }).catch(() => undefined);
  assert.equal(v1, undefined);
  transit.invalidate('k');
  const info = await transit.readKey('k');
  assert.equal(info.minDecryptionVersion, 2);
  await other.rotate('k');
  clock.advance(30_000);
  assert.ok((await transit.encrypt('k', 'x')).startsWith('pc:v3:'), 'the cache TTL bounds staleness');
});

test('transit: key names and types are validated; creating an existing key is a conflict', async () => {
  const { transit } = await transitFixture();
  await assert.rejects(transit.createKey('../etc', 'aes256-gcm'), { code: 'transit.invalid-input' });
  await assert.rejects(transit.createKey('k', 'rsa-4096' as 'ed25519'), { code: 'transit.invalid-input' });
  await transit.createKey('k', 'aes256-gcm');
  await assert.rejects(transit.createKey('k', 'aes256-gcm'), { code: 'conflict' });
  await assert.rejects(transit.readKey('nope'), { code: 'transit.key-not-found' });
  await assert.rejects(transit.encrypt('nope', 'x'), { code: 'transit.key-not-found' });
  await assert.rejects(transit.encrypt('k', 42 as unknown as string), { code: 'transit.invalid-input' });
});

test('transit: two nodes rotating at once both succeed with distinct versions (compare-and-set in the store)', async () => {
  const { transit, node } = await transitFixture();
  await transit.createKey('k', 'aes256-gcm');
  const [a, b] = await Promise.all([transit.rotate('k'), node().rotate('k')]);
  assert.deepEqual([a.latestVersion, b.latestVersion].sort(), [2, 3]);
  assert.deepEqual((await transit.readKey('k')).versions.map((v) => v.version), [1, 2, 3]);
});

test('transit: two configure calls at once each keep what the other set (an acknowledged minDecryptionVersion is not reverted)', async () => {
  const { transit, store, node } = await transitFixture();
  await transit.createKey('pii', 'aes256-gcm');
  await transit.rotate('pii');
  const other = node();
  // node B reads the key, then its write is held until node A's configure has been acknowledged
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const update = store.updateTransitKeyConfig.bind(store);
  let calls = 0;
  store.updateTransitKeyConfig = async (name, patch) => {
    if (calls++ === 0) await held;
    return update(name, patch);
  };
  const b = other.configure('pii', { autoRotate: false });
  await new Promise((r) => setImmediate(r));
  const a = await transit.configure('pii', { minDecryptionVersion: 2 });
  assert.equal(a.minDecryptionVersion, 2);
  release();
  await b;
  const k = await store.getTransitKey('pii');
  assert.equal(k!.minDecryptionVersion, 2, 'A\'s retirement of v1 stands');
  assert.equal(k!.autoRotate, false, 'B\'s change stands');
});
