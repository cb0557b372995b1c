/**
 * `routes[].upstream` is a base URL: the gateway proxies to its origin and path only. A
 * `user:password@`, a query or a fragment in it were accepted and silently dropped (no
 * credentials reached the upstream, no query was appended), so an operator who wrote
 * `http://svc:pw@orders/?api_key=…` believed the upstream authenticated requests it never
 * saw. Refused at load, naming the route key and its line, never echoing the password.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

const MESSAGE = 'expected a base URL without user:password, a query or a fragment (the gateway sends none of them upstream)';

test('a route upstream with user:password, a query or a fragment → config.invalid naming routes[0].upstream, the password not echoed', () => {
  for (const upstream of ['http://svc:hunter2@127.0.0.1:9000/', 'http://svc@127.0.0.1:9000', 'http://127.0.0.1:9000/api?key=hunter2', 'http://127.0.0.1:9000/api?', 'http://127.0.0.1:9000/#x']) {
    assert.throws(
      () => validateConfig({ routes: [{ name: 'orders', match: {}, upstream }] }),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message === `invalid configuration:\n  routes[0].upstream: ${MESSAGE}` && !e.message.includes('hunter2'),
      upstream,
    );
  }
});

test('the error of a file names the line of the upstream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-upstream-'));
  try {
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, 'routes:\n  - name: orders\n    match: { pathPrefix: /orders }\n    upstream: http://svc:hunter2@127.0.0.1:9000\n');
    assert.throws(() => loadConfig(file, {}), (e: unknown) => isPortcullisError(e) && e.message === `invalid configuration:\n  routes[0].upstream: ${MESSAGE} (line 4)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('upstreams with a port, a base path or a trailing slash are accepted', () => {
  for (const upstream of ['http://127.0.0.1:9000', 'https://orders.internal/', 'http://[::1]:9000/v1/base']) {
    assert.equal(validateConfig({ routes: [{ name: 'orders', match: {}, upstream }] }).routes[0]!.upstream, upstream);
  }
});
