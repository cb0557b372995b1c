/**
 * `gateway.tokenCacheSize` (verified tokens kept in memory, by the gateway, the transit plane
 * and the token service each) and `gateway.connectionsPerUpstream` (sockets per upstream
 * origin) had no upper bound: a typo such as 1e12 loaded, and the node then held as many
 * tokens or opened as many sockets as traffic brought, until it ran out of memory or file
 * descriptors. Past their maximum they are config.invalid naming the key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

test('gateway.tokenCacheSize past 1000000 (1e12, 1000001) → config.invalid naming the key', () => {
  for (const tokenCacheSize of [1e12, 1_000_001]) {
    assert.throws(
      () => validateConfig({ gateway: { tokenCacheSize } }),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && /^ {2}gateway\.tokenCacheSize: .*1000000/m.test(e.message),
      String(tokenCacheSize),
    );
  }
});

test('gateway.connectionsPerUpstream past 4096 (1e12, 4097) → config.invalid naming the key', () => {
  for (const connectionsPerUpstream of [1e12, 4097]) {
    assert.throws(
      () => validateConfig({ gateway: { connectionsPerUpstream } }),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && /^ {2}gateway\.connectionsPerUpstream: .*4096/m.test(e.message),
      String(connectionsPerUpstream),
    );
  }
});

test('the defaults and the maxima load', () => {
  const d = validateConfig({}).gateway;
  assert.equal(d.tokenCacheSize, 10_000);
  assert.equal(d.connectionsPerUpstream, 64);
  const m = validateConfig({ gateway: { tokenCacheSize: 1_000_000, connectionsPerUpstream: 4096 } }).gateway;
  assert.equal(m.tokenCacheSize, 1_000_000);
  assert.equal(m.connectionsPerUpstream, 4096);
  assert.equal(validateConfig({ gateway: { tokenCacheSize: 0 } }).gateway.tokenCacheSize, 0);
});
