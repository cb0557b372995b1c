/**
 * The CLI against a running node: `portcullis transit create|encrypt|decrypt|rewrap|sign|verify|hmac|rotate|config`
 * and `portcullis app enc-keys add|list|revoke` (the symmetric key shown once, never listed).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { runCli } from '../cli/run.js';
import { startTestNode, type TestNode } from '../admin/node.js';

let t: TestNode;
const cli = (...args: string[]) => runCli([...args, '--dir', t.dir, '--admin-url', t.admin]);

before(async () => {
  t = await startTestNode();
});
after(() => t.close());

test('transit list before any key is created prints "no transit keys", as the other list commands print "no …"', async () => {
  const list = await cli('transit', 'list');
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout, 'no transit keys\n');
});

test('transit CLI: create, encrypt/decrypt text with a context, rotate, rewrap, config retires v1, sign/verify and hmac/verify', async () => {
  assert.equal((await cli('transit', 'create', 'pii')).code, 0);
  const enc = await cli('transit', 'encrypt', 'pii', 'jane@example.org', '--text', '--context', 'user:9');
  assert.equal(enc.code, 0, enc.stderr);
  const ct = enc.stdout.trim();
  assert.match(ct, /^pc:v1:/);
  assert.equal((await cli('transit', 'decrypt', 'pii', ct, '--text', '--context', 'user:9')).stdout.trim(), 'jane@example.org');
  const wrong = await cli('transit', 'decrypt', 'pii', ct, '--text', '--context', 'user:10');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^error: transit\.decrypt-failed: /);
  assert.match((await cli('transit', 'rotate', 'pii')).stdout, /latest v2/);
  const re = (await cli('transit', 'rewrap', 'pii', ct, '--text', '--context', 'user:9')).stdout.trim();
  assert.match(re, /^pc:v2:/);
  assert.equal((await cli('transit', 'config', 'pii', '--min-decryption-version', '2')).code, 0);
  assert.match((await cli('transit', 'decrypt', 'pii', ct, '--text', '--context', 'user:9')).stderr, /transit\.version-retired/);
  assert.equal((await cli('transit', 'decrypt', 'pii', re, '--text', '--context', 'user:9')).stdout.trim(), 'jane@example.org');

  assert.equal((await cli('transit', 'create', 'docs', '--type', 'ed25519')).code, 0);
  const sig = (await cli('transit', 'sign', 'docs', 'aGVsbG8=')).stdout.trim();
  assert.equal((await cli('transit', 'verify', 'docs', 'aGVsbG8=', sig)).stdout.trim(), 'true');
  assert.equal((await cli('transit', 'verify', 'docs', 'aGVsbG9v', sig)).stdout.trim(), 'false');
  const mac = (await cli('transit', 'hmac', 'pii', 'aGVsbG8=')).stdout.trim();
  assert.equal((await cli('transit', 'verify', 'pii', 'aGVsbG8=', mac, '--hmac')).stdout.trim(), 'true');
  assert.deepEqual(JSON.parse((await cli('transit', 'list', '--json')).stdout), ['docs', 'pii']);
  const bad = await cli('transit', 'encrypt', 'pii', 'not base64!');
  assert.match(bad.stderr, /^error: transit\.invalid-input: /);
});

test('transit CLI: datakey prints the plaintext key with its wrapped form (JSON), as its help says; datakey wrapped prints the wrapped form only', async () => {
  assert.equal((await cli('transit', 'create', 'blobs')).code, 0);
  const dk = await cli('transit', 'datakey', 'blobs', '--context', 'YmxvYi0x');
  assert.equal(dk.code, 0, dk.stderr);
  const out = JSON.parse(dk.stdout);
  assert.equal(Buffer.from(out.plaintext, 'base64').length, 32);
  assert.match(out.ciphertext, /^pc:v1:/);
  assert.equal(out.key_version, 1);
  const back = await cli('transit', 'decrypt', 'blobs', out.ciphertext, '--context', 'YmxvYi0x');
  assert.equal(back.stdout.trim(), out.plaintext);
  const wrapped = await cli('transit', 'datakey', 'blobs', 'wrapped');
  assert.match(wrapped.stdout.trim(), /^pc:v1:[A-Za-z0-9+/]+=*$/);
});

test('app enc-keys CLI: --symmetric shows the key once, list never shows it, --jwk registers a public key, revoke', async () => {
  const { app } = await t.node.services.apps.create({ name: 'enc-cli', audiences: ['api'], scopes: [] }, 'test');
  const added = await cli('app', 'enc-keys', 'add', app.clientId, '--symmetric', '--json');
  assert.equal(added.code, 0, added.stderr);
  const r = JSON.parse(added.stdout);
  assert.equal(r.secret.kty, 'oct');
  assert.equal(Buffer.from(r.secret.k, 'base64url').length, 32);
  const jwkFile = join(t.dir, 'app-enc.jwk');
  writeFileSync(jwkFile, JSON.stringify(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' })));
  assert.equal((await cli('app', 'enc-keys', 'add', app.clientId, '--jwk', jwkFile)).code, 0);
  const list = await cli('app', 'enc-keys', 'list', app.clientId, '--json');
  assert.ok(!list.stdout.includes(r.secret.k));
  assert.deepEqual(JSON.parse(list.stdout).map((k: { type: string; alg: string }) => `${k.type}/${k.alg}`), ['symmetric/dir', 'public/ECDH-ES+A256KW']);
  const rev = await cli('app', 'enc-keys', 'revoke', app.clientId, r.key.kid);
  assert.match(rev.stdout, /revoked at/);
  assert.equal(t.node.services.appEncryptionKeys.symmetric(app.clientId, r.key.kid), undefined);
  const both = await cli('app', 'enc-keys', 'add', app.clientId, '--symmetric', '--jwk', jwkFile);
  assert.match(both.stderr, /^error: request\.invalid: give exactly one/);
});

test('attack: app enc-keys add --jwk with an RSA key of public exponent 1 or an even one is refused (request.invalid naming it), nothing registered', async () => {
  const { app } = await t.node.services.apps.create({ name: 'enc-cli-weak-rsa', audiences: ['api'], scopes: [] }, 'test');
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  for (const e of ['AQ', 'BA']) {
    const jwkFile = join(t.dir, `weak-rsa-${e}.jwk`);
    writeFileSync(jwkFile, JSON.stringify({ ...jwk, e }));
    const r = await cli('app', 'enc-keys', 'add', app.clientId, '--jwk', jwkFile, '--alg', 'RSA-OAEP-256');
    assert.equal(r.code, 1, e);
    assert.equal(r.stderr, 'error: request.invalid: jwk: the RSA public exponent must be odd and at least 3\n', e);
  }
  const list = await cli('app', 'enc-keys', 'list', app.clientId, '--json');
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), []);
});

test('attack: transit config with an empty or non-decimal version (an unset shell variable, 0x2, 1e0, " 2", 2.0) is refused as transit.invalid-input naming the option, nothing changed, since Number() made "" the floor 0 (no floor) and 0x2 the version 2', async () => {
  assert.equal((await cli('transit', 'create', 'floors')).code, 0);
  await cli('transit', 'rotate', 'floors');
  await cli('transit', 'rotate', 'floors');
  assert.equal((await cli('transit', 'config', 'floors', '--min-encryption-version', '2')).code, 0);
  for (const [option, value] of [
    ['--min-encryption-version', ''],
    ['--min-encryption-version', ' '],
    ['--min-decryption-version', '0x2'],
    ['--min-decryption-version', '1e0'],
    ['--min-decryption-version', ' 2'],
    ['--min-decryption-version', '2.0'],
  ] as const) {
    const r = await cli('transit', 'config', 'floors', option, value);
    assert.equal(r.code, 1, `${option} ${JSON.stringify(value)}`);
    assert.equal(r.stderr, `error: transit.invalid-input: ${option} must be a whole number\n`, `${option} ${JSON.stringify(value)}`);
  }
  const k = await t.node.services.transit.readKey('floors');
  assert.equal(k.minEncryptionVersion, 2, 'the floor stands');
  assert.equal(k.minDecryptionVersion, 1);
  assert.equal((await cli('transit', 'config', 'floors', '--min-encryption-version', '0')).code, 0, '0 is still "no floor", when said');
  assert.equal((await t.node.services.transit.readKey('floors')).minEncryptionVersion, 0);
});

test('attack: an option a transit command has no use for (decrypt/datakey --version, sign/hmac/verify --context, verify --version, --text on key management) is refused as a usage error naming it, exit 1, nothing run', async () => {
  assert.equal((await cli('transit', 'create', 'opts-aes')).code, 0);
  assert.equal((await cli('transit', 'create', 'opts-sign', '--type', 'ed25519')).code, 0);
  const ct = (await cli('transit', 'encrypt', 'opts-aes', 'aGVsbG8=')).stdout.trim();
  const sig = (await cli('transit', 'sign', 'opts-sign', 'aGVsbG8=')).stdout.trim();
  const mac = (await cli('transit', 'hmac', 'opts-aes', 'aGVsbG8=')).stdout.trim();
  for (const [option, args] of [
    ['--version', ['decrypt', 'opts-aes', ct, '--version', '1']],
    ['--version', ['datakey', 'opts-aes', '--version', '1']],
    ['--version', ['datakey', 'opts-aes', 'wrapped', '--version', '1']],
    ['--version', ['verify', 'opts-sign', 'aGVsbG8=', sig, '--version', '1']],
    ['--version', ['verify', 'opts-aes', 'aGVsbG8=', mac, '--hmac', '--version', '1']],
    ['--context', ['sign', 'opts-sign', 'aGVsbG8=', '--context', 'eA==']],
    ['--context', ['hmac', 'opts-aes', 'aGVsbG8=', '--context', 'eA==']],
    ['--context', ['verify', 'opts-sign', 'aGVsbG8=', sig, '--context', 'eA==']],
    ['--text', ['create', 'opts-never', '--text']],
    ['--text', ['read', 'opts-aes', '--text']],
    ['--text', ['list', '--text']],
    ['--text', ['rotate', 'opts-aes', '--text']],
    ['--text', ['config', 'opts-aes', '--auto-rotate', 'false', '--text']],
  ] as const) {
    const r = await cli('transit', ...args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
    assert.match(r.stderr, new RegExp(`^error: usage: unknown option '${option}'\\n`), args.join(' '));
  }
  // --text where nothing it applies to is given (no --context, no text argument, nothing printed as text)
  for (const args of [
    ['rewrap', 'opts-aes', ct, '--text'],
    ['datakey', 'opts-aes', '--text'],
    ['datakey', 'opts-aes', 'wrapped', '--text'],
    ['encrypt', 'opts-aes', '-', '--text'],
    ['hmac', 'opts-aes', '-', '--text'],
  ]) {
    const r = await cli('transit', ...args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
    assert.match(r.stderr, /^error: usage: --text has no effect here: /, args.join(' '));
  }
  const k = await t.node.services.transit.readKey('opts-aes');
  assert.equal(k.latestVersion, 1, 'rotate --text did not rotate');
  assert.equal(k.autoRotate, true, 'config --text changed nothing');
  await assert.rejects(t.node.services.transit.readKey('opts-never'), { code: 'transit.key-not-found' });
  // where it does apply, --text still works: rewrap with a text --context, datakey with one
  const ctx = (await cli('transit', 'encrypt', 'opts-aes', 'aGVsbG8=', '--text', '--context', 'row-1')).stdout.trim();
  const re = await cli('transit', 'rewrap', 'opts-aes', ctx, '--text', '--context', 'row-1');
  assert.equal(re.code, 0, re.stderr);
  assert.equal((await cli('transit', 'datakey', 'opts-aes', 'wrapped', '--text', '--context', 'row-1')).code, 0);
});

test('transit hmac and verify --hmac take --algorithm (sha2-256, the default, or sha2-512) as the API does; hmac works on every key type; another algorithm is transit.invalid-input; --algorithm on a signature verify is a usage error', async () => {
  assert.equal((await cli('transit', 'create', 'mac-aes')).code, 0);
  assert.equal((await cli('transit', 'create', 'mac-sign', '--type', 'ecdsa-p256')).code, 0);
  for (const key of ['mac-aes', 'mac-sign']) {
    const h512 = await cli('transit', 'hmac', key, 'aGVsbG8=', '--algorithm', 'sha2-512');
    assert.equal(h512.code, 0, h512.stderr);
    const mac = h512.stdout.trim();
    assert.equal(Buffer.from(mac.slice('pc:v1:'.length), 'base64').length, 64, key);
    assert.equal(Buffer.from((await cli('transit', 'hmac', key, 'aGVsbG8=')).stdout.trim().slice('pc:v1:'.length), 'base64').length, 32, key);
    assert.equal((await cli('transit', 'verify', key, 'aGVsbG8=', mac, '--hmac', '--algorithm', 'sha2-512')).stdout, 'true\n', key);
    const as256 = await cli('transit', 'verify', key, 'aGVsbG8=', mac, '--hmac');
    assert.equal(as256.stdout, 'false\n', key);
    assert.equal(as256.code, 1, key);
  }
  for (const args of [
    ['hmac', 'mac-aes', 'aGVsbG8=', '--algorithm', 'md5'],
    ['hmac', 'mac-aes', 'aGVsbG8=', '--algorithm', 'SHA2-512'],
    ['verify', 'mac-aes', 'aGVsbG8=', 'pc:v1:AAAA', '--hmac', '--algorithm', 'sha256'],
  ]) {
    const r = await cli('transit', ...args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
    assert.equal(r.stderr, 'error: transit.invalid-input: --algorithm must be sha2-256 or sha2-512\n', args.join(' '));
  }
  const sig = (await cli('transit', 'sign', 'mac-sign', 'aGVsbG8=')).stdout.trim();
  const r = await cli('transit', 'verify', 'mac-sign', 'aGVsbG8=', sig, '--algorithm', 'sha2-512');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: usage: --algorithm has no effect without --hmac/);
});
