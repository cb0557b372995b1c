/**
 * `routes[].match.pathPrefix` is compared with the normalised request path (gateway
 * request-target.ts): `%7E` decoded to `~`, percent-encoding hex upper-cased, `;`
 * parameters removed, and a path with a dot or empty segment, a backslash, or an encoded
 * `/`, `\`, `;` or NUL refused. A prefix written otherwise was accepted and silently never
 * matched: `/%7Euser` missed every `/%7Euser/…` request, which fell through to a broader,
 * less protected route. A prefix is now normalised the same way at load, or refused with
 * `config.invalid` naming the route's key when no request could ever match it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/core/config/schema.js';
import { loadConfig, validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

const UPSTREAM = 'http://127.0.0.1:9000';

function prefixOf(pathPrefix: string): string {
  return validateConfig({ routes: [{ name: 'r', match: { pathPrefix }, upstream: UPSTREAM }] }).routes[0]!.match.pathPrefix;
}

test('a prefix is normalised as request paths are: unreserved characters decoded, hex upper-cased', () => {
  assert.equal(prefixOf('/%7Euser'), '/~user');
  assert.equal(prefixOf('/%7euser/%61pi/'), '/~user/api/');
  assert.equal(prefixOf('/caf%c3%a9'), '/caf%C3%A9');
  assert.equal(prefixOf('/orders'), '/orders');
  assert.equal(prefixOf('/'), '/');
  assert.equal(validateConfig({ routes: [{ name: 'r', match: {}, upstream: UPSTREAM }] }).routes[0]!.match.pathPrefix, '/');
});

test('a prefix no request path can match → config.invalid naming routes[i].match.pathPrefix', () => {
  for (const pathPrefix of ['/public/../admin', '/a/./b', '/a//b', '//admin', '/admin;v=1', '/a%2Fb', '/a%2fb', '/a%5Cb', '/a\\b', '/a%3Bb', '/a%00', '/a\0b', '/a%zz', '/a%4', '/a?x=1', '/a#b', '/a b', '/caf\u00e9']) {
    assert.throws(
      () => validateConfig({ routes: [{ name: 'ok', match: { pathPrefix: '/ok' }, upstream: UPSTREAM }, { name: 'admin', match: { pathPrefix }, upstream: UPSTREAM }] }),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.startsWith('invalid configuration:\n  routes[1].match.pathPrefix: ') && !e.message.includes('\0'),
      JSON.stringify(pathPrefix),
    );
    assert.equal(configSchema.safeParse({ routes: [{ name: 'admin', match: { pathPrefix }, upstream: UPSTREAM }] }).success, false, JSON.stringify(pathPrefix));
  }
});

test('the error of a file names the line of the prefix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-prefix-'));
  try {
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, 'routes:\n  - name: admin\n    upstream: http://127.0.0.1:9000\n    match:\n      pathPrefix: /public/../admin\n');
    assert.throws(() => loadConfig(file, {}), (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && /^invalid configuration:\n {2}routes\[0\]\.match\.pathPrefix: .* \(line 5\)$/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
