/**
 * Sizes past Number.MAX_SAFE_INTEGER bytes (`99999999999999999999999gb`, 1e30) lost their
 * precision and were accepted as a silent "no limit" for keys without a maximum of their
 * own (`routes[].maxBodySize`). Refused, naming the key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

const route = (maxBodySize: unknown) => ({ routes: [{ name: 'orders', match: {}, upstream: 'http://127.0.0.1:9000', maxBodySize }] });

test('routes[].maxBodySize beyond 2^53-1 bytes → config.invalid naming the key', () => {
  for (const [v, shown] of [['99999999999999999999999gb', '"99999999999999999999999gb"'], [1e30, '1e+30'], ['9007199254740992', '"9007199254740992"']] as const) {
    assert.throws(
      () => validateConfig(route(v)),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message === `invalid configuration:\n  routes[0].maxBodySize: expected a size from 0 to 9007199254740991 bytes, got ${shown}`,
      String(v),
    );
  }
});

test('routes[].maxBodySize up to 2^53-1 bytes loads', () => {
  assert.equal(validateConfig(route('8gb')).routes[0]!.maxBodySize, 8 * 2 ** 30);
  assert.equal(validateConfig(route(Number.MAX_SAFE_INTEGER)).routes[0]!.maxBodySize, Number.MAX_SAFE_INTEGER);
});
