/**
 * `routes[].match.pathPrefix` is compared with the normalised request path (gateway
 * request-target.ts): `%7E` decoded to `~`, percent-encoding hex upper-cased, `;`
 * parameters removed, and a path with a dot or empty segment, a backslash, or an encoded
 * `/`, `\`, `;` or NUL refused. A prefix written otherwise was accepted and silently never
 * matched: `/%7Euser` missed every `/%7Euser/…` request, which fell through to a broader,
 * less protected route. A prefix is now normalised the same way at load, or refused with
 * `config.invalid` naming the route's key when no request could ever match it.
 *
 * `routes[].match.host` is compared with a request Host the gateway accepts (request-target.ts
 * `isValidHost`): lower-cased, without its port and its one trailing dot. A host written with a
 * character no accepted Host has (a sub-delimiter such as `*` or `,`, percent-encoding, a space),
 * an empty label, a legacy IPv4 form or an IP literal that is no IPv6 address loaded and silently
 * never matched, so its requests went through a broader route; a port loaded and was ignored, so
 * the route matched the host on every port. Each is `config.invalid` naming the key and the fault.
 * `admin.allowedHosts` names are held to the same rule (`127.1` or `admin.example.123` loaded
 * and the admin plane never answered to them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/core/config/schema.js';
import { loadConfig, validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { initDir } from '../admin/node.js';
import { runCli } from '../cli/run.js';

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

function hostOf(host: string): string | undefined {
  return validateConfig({ routes: [{ name: 'r', match: { host }, upstream: UPSTREAM }] }).routes[0]!.match.host;
}

test('a host a request can carry loads: any case, the trailing dot of the absolute form, an IPv4 address, an IPv6 literal in any spelling', () => {
  for (const host of ['api.example.com', 'API.Example.com', 'api.example.com.', 'my_host-1.example', 'xn--bcher-kva.example', 'localhost', '127.0.0.1', '[::1]', '[0:0::1]', '[::ffff:127.0.0.1]']) assert.equal(hostOf(host), host);
});

test('attack: a host no request can match, or one with a port → config.invalid naming routes[i].match.host and the fault', () => {
  const cases: Array<[string, RegExp]> = [
    ['*.example.com', /sub-delimiter `\*`.*wildcard/],
    ['api.example.com,other.example', /sub-delimiter `,`/],
    ['api.example.com;x', /sub-delimiter `;`/],
    ["o'hara.example", /sub-delimiter `'`/],
    ['a+b.example', /sub-delimiter `\+`/],
    ['api%2eexample.com', /percent-encoding/],
    ['api..example.com', /empty label/],
    ['.api.example.com', /empty label/],
    ['api.example.com..', /empty label/],
    ['.', /empty label/],
    ['api.example.com:8443', /port/],
    ['api.example.com:', /port/],
    ['[::1]:8443', /port/],
    ['127.0.0.1:80', /port/],
    ['::1', /brackets/],
    ['127.1', /legacy form of an IPv4 address/],
    ['0x7f.0.0.1', /legacy form of an IPv4 address/],
    ['2130706433', /legacy form of an IPv4 address/],
    ['[fe80::1%25eth0]', /IPv6 address/],
    ['[v1.x]', /IPv6 address/],
    ['[::1::]', /IPv6 address/],
    ['bücher.example', /ASCII.*xn--/],
    ['api example.com', /character/],
    ['api.example.com/orders', /character/],
    ['user@api.example.com', /character/],
    ['https://api.example.com', /character|port/],
  ];
  for (const [host, why] of cases) {
    assert.throws(
      () => validateConfig({ routes: [{ name: 'ok', match: { host: 'ok.example' }, upstream: UPSTREAM }, { name: 'admin', match: { host, pathPrefix: '/admin' }, upstream: UPSTREAM }] }),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.startsWith('invalid configuration:\n  routes[1].match.host: ') && why.test(e.message),
      JSON.stringify(host),
    );
    assert.equal(configSchema.safeParse({ routes: [{ name: 'admin', match: { host }, upstream: UPSTREAM }] }).success, false, JSON.stringify(host));
  }
});

test('attack: `portcullis config check` on a wildcard route host → exit 1, config.invalid naming routes[0].match.host with its line', async () => {
  const { dir } = await initDir();
  try {
    const config = join(dir, 'host.yaml');
    writeFileSync(config, 'routes:\n  - name: admin\n    upstream: http://127.0.0.1:9000\n    match:\n      host: "*.example.com"\n      pathPrefix: /admin\n  - name: any\n    upstream: http://127.0.0.1:9001\n    match: {}\n');
    const r = await runCli(['config', 'check', '--config', config], {}, 60_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: config\.invalid: invalid configuration:\n {2}routes\[0\]\.match\.host: .*sub-delimiter `\*`.* \(line 5\)\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('admin.allowedHosts: a name no request Host can carry → config.invalid naming admin.allowedHosts[i]; the names a Host can carry load', () => {
  for (const name of ['127.1', 'admin.example.123', '0x7f.0.0.1', '2130706433']) {
    assert.throws(
      () => validateConfig({ admin: { allowedHosts: ['ok.example', name] } }),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes('admin.allowedHosts[1]: ') && /legacy form of an IPv4 address|refuses it in a request Host/.test(e.message),
      name,
    );
  }
  assert.deepEqual(validateConfig({ admin: { allowedHosts: ['Admin.Internal.Example', 'admin.internal.example.', 'a_b.example'] } }).admin.allowedHosts, ['Admin.Internal.Example', 'admin.internal.example.', 'a_b.example']);
});
