import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Envelope } from '../../src/crypto/envelope.js';
import { openDurableStore } from '../../src/store/index.js';
import { PortcullisError } from '../../src/core/errors.js';

const isCode = (code: string) => (e: unknown) => e instanceof PortcullisError && e.code === code;

test('envelope: a secret round-trips and its ciphertext never contains the plaintext', async () => {
  const store = await openDurableStore('sqlite::memory:');
  const env = await Envelope.open(store, randomBytes(32));
  const sealed = await env.encrypt('s3cret-value', 'ctx:a');
  assert.match(sealed, /^pc1\.[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(!sealed.includes('s3cret'));
  assert.equal(await env.decryptString(sealed, 'ctx:a'), 's3cret-value');
  await store.close();
});

test('envelope: a ciphertext moved to another context fails (AAD binding)', async () => {
  const store = await openDurableStore('sqlite::memory:');
  const env = await Envelope.open(store, randomBytes(32));
  const sealed = await env.encrypt('v', 'signing-key:A');
  await assert.rejects(env.decrypt(sealed, 'signing-key:B'), isCode('crypto.decrypt-failed'));
  await store.close();
});

test('envelope: a tampered ciphertext fails to decrypt', async () => {
  const store = await openDurableStore('sqlite::memory:');
  const env = await Envelope.open(store, randomBytes(32));
  const parts = (await env.encrypt('value', 'c')).split('.');
  const ct = Buffer.from(parts[3]!, 'base64url');
  ct[0]! ^= 1;
  parts[3] = ct.toString('base64url');
  await assert.rejects(env.decrypt(parts.join('.'), 'c'), isCode('crypto.decrypt-failed'));
  await assert.rejects(env.decrypt('not-a-ciphertext', 'c'), isCode('crypto.decrypt-failed'));
  await store.close();
});

test('envelope: the data key is stored wrapped, and only the right master key unwraps it', async () => {
  const store = await openDurableStore('sqlite::memory:');
  const master = randomBytes(32);
  const env = await Envelope.open(store, master);
  const sealed = await env.encrypt('value', 'c');
  const again = await Envelope.open(store, master);
  assert.equal(await again.decryptString(sealed, 'c'), 'value');
  await assert.rejects(Envelope.open(store, randomBytes(32)), isCode('crypto.decrypt-failed'));
  await store.close();
});
