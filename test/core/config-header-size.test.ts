/**
 * `gateway.maxHeaderSize` is handed to Node's HTTP server: 0 was silently Node's default
 * (16 KiB), not the limit written, and a value past Node's range (1e30) made the gateway
 * listener throw an untyped RangeError (ERR_OUT_OF_RANGE) at start. Outside 1kb..1mb it
 * is now config.invalid naming the key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

test('gateway.maxHeaderSize of 0, 512, 2mb or 1e30 → config.invalid naming gateway.maxHeaderSize', () => {
  for (const maxHeaderSize of [0, '0', 512, '2mb', 1e30]) {
    assert.throws(
      () => validateConfig({ gateway: { maxHeaderSize } }),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes('gateway.maxHeaderSize: expected a size from 1024 to 1048576 bytes'),
      String(maxHeaderSize),
    );
  }
});

test('gateway.maxHeaderSize of 1kb, 16kb (default) and 1mb load', () => {
  assert.equal(validateConfig({ gateway: { maxHeaderSize: '1kb' } }).gateway.maxHeaderSize, 1024);
  assert.equal(validateConfig({}).gateway.maxHeaderSize, 16384);
  assert.equal(validateConfig({ gateway: { maxHeaderSize: '1mb' } }).gateway.maxHeaderSize, 1 << 20);
});
