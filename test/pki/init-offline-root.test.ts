/**
 * `portcullis init --root-key-offline FILE`: the root key exists only in memory until it
 * is written, so it is written (atomically, mode 0600) before the root is stored; a write
 * that fails leaves no root behind and a retry works; an init over an existing PKI never
 * pretends to have written a key file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPortcullis } from '../../src/init.js';
import { testConfig } from '../support/portcullis.js';

const cfg = () => testConfig('pki: { trustDomain: example.org }');

test('attack on availability: an offline root key file that cannot be written (missing directory) → typed error, nothing stored; the retry writes the key (0600) and it matches the root', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'offroot-'));
  await assert.rejects(initPortcullis(dir, { config: cfg(), rootKeyOfflineFile: join(dir, 'no-such-dir', 'root.key') }), (e: any) => e.code === 'config.not-found');
  assert.equal(existsSync(join(dir, 'ca.pem')), false, 'no root was kept');
  const keyFile = join(dir, 'root.key');
  await initPortcullis(dir, { config: cfg(), rootKeyOfflineFile: keyFile });
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const root = new X509Certificate(readFileSync(join(dir, 'ca.pem')));
  assert.ok(root.checkPrivateKey(createPrivateKey(readFileSync(keyFile))), 'the key file holds the root key');
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary file left');
});

test('a second init with --root-key-offline over an existing PKI refuses (conflict) instead of finishing without writing the key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'offroot-'));
  await initPortcullis(dir, { config: cfg() });
  await assert.rejects(initPortcullis(dir, { config: cfg(), rootKeyOfflineFile: join(dir, 'root.key') }), (e: any) => e.code === 'conflict');
  assert.equal(existsSync(join(dir, 'root.key')), false);
});
