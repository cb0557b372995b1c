import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEnvOverrides, loadConfig, parseConfigText, validateConfig } from '../../src/core/config/load.js';
import { PortcullisError } from '../../src/core/errors.js';
import { renderConfigReference, renderErrorCatalogue } from '../../src/core/docs.js';
import { DEFAULT_CONFIG } from '../../src/core/config/default-config.js';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PortcullisError);
    return `${e.code}: ${e.message}`;
  }
  assert.fail('expected a config error');
}

test('config: the commented default config validates to the documented defaults', () => {
  const c = validateConfig(parseConfigText(DEFAULT_CONFIG));
  assert.equal(c.issuer, 'https://127.0.0.1:8080');
  assert.equal(c.tls.mode, 'auto');
  assert.equal(c.store, 'sqlite:./portcullis.db');
  assert.equal(c.ephemeral, 'memory');
  assert.equal(c.tokens.accessTokenTtl, 600_000);
  assert.equal(c.tokens.signingAlg, 'ES256');
  assert.deepEqual(c.routes, []);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.tokens), 'the result is frozen');
});

test('config: the issue example (orders route) validates', () => {
  const c = validateConfig(
    parseConfigText(`
issuer: http://127.0.0.1:8080
listen: { identity: 127.0.0.1:8080, gateway: 127.0.0.1:8443, admin: 127.0.0.1:8081 }
store: sqlite:./portcullis.db
ephemeral: memory
tokens: { accessTokenTtl: 10m, signingAlg: ES256 }
routes:
  - name: orders
    match: { pathPrefix: /orders, methods: [GET, POST] }
    upstream: http://127.0.0.1:9000
    require:
      token: { audience: orders-api, scopes: [orders:read] }
`),
  );
  assert.equal(c.routes[0]!.require.token!.audience, 'orders-api');
  assert.deepEqual(c.routes[0]!.require.token!.issuers, ['self']);
});

test('bad config: every error names its path and what was expected', () => {
  const msg = configError(() =>
    validateConfig({
      bogus: 1,
      tokens: { accessTokenTtl: 'soon', signingAlg: 'HS256' },
      listen: { gateway: 'localhost' },
      routes: [{ name: 'Bad Name', match: { pathPrefix: 'orders' }, upstream: 'ftp://x', require: { token: { scopes: ['a b'] } } }],
    }),
  );
  assert.match(msg, /^config\.invalid/);
  assert.match(msg, /\(root\): unknown key "bogus"/);
  assert.match(msg, /tokens\.accessTokenTtl: expected a duration/);
  assert.match(msg, /tokens\.signingAlg: /);
  assert.match(msg, /listen\.gateway: expected host:port/);
  assert.match(msg, /routes\[0\]\.name: expected a route name/);
  assert.match(msg, /routes\[0\]\.match\.pathPrefix: expected a path starting with \//);
  assert.match(msg, /routes\[0\]\.upstream: expected an http\(s\) URL/);
  assert.match(msg, /routes\[0\]\.require\.token\.audience: /);
  assert.match(msg, /routes\[0\]\.require\.token\.scopes\[0\]: expected a scope token/);
});

test('config: identity.lockout.ipv6Prefix is 64 by default and must be 48–128', () => {
  assert.equal(validateConfig(parseConfigText(DEFAULT_CONFIG)).identity.lockout.ipv6Prefix, 64);
  assert.equal(validateConfig({ identity: { lockout: { ipv6Prefix: 56 } } }).identity.lockout.ipv6Prefix, 56);
  for (const bad of [47, 129, 64.5]) assert.match(configError(() => validateConfig({ identity: { lockout: { ipv6Prefix: bad } } })), /identity\.lockout\.ipv6Prefix: /);
});

test('bad config: unknown nested keys, duplicate route names and YAML syntax errors are named', () => {
  assert.match(configError(() => validateConfig({ routes: [{ name: 'a', match: {}, upstream: 'http://x', require: { tokn: {} } }] })), /routes\[0\]\.require: unknown key "tokn"/);
  const dup = { name: 'a', match: {}, upstream: 'http://x' };
  assert.match(configError(() => validateConfig({ routes: [dup, dup] })), /routes\[1\]\.name: duplicate route name "a"/);
  assert.match(configError(() => parseConfigText('issuer: [unclosed\n')), /^config\.parse: .*line \d+/);
  assert.match(configError(() => parseConfigText('- a\n- b\n')), /expected a mapping/);
  assert.match(configError(() => parseConfigText('a: 1\na: 2\n')), /^config\.parse/);
});

test('attack: bad config: two routes whose prefixes differ only in ASCII case, on the same host and methods, are refused naming both', () => {
  const r = (name: string, match: Record<string, unknown>) => ({ name, match, upstream: 'http://x' });
  assert.equal(
    configError(() => validateConfig({ routes: [r('admin', { pathPrefix: '/admin/' }), r('public', { pathPrefix: '/' }), r('admin-upper', { pathPrefix: '/Admin/' })] })),
    'config.invalid: invalid configuration:\n  routes[2].match.pathPrefix: routes "admin-upper" (/Admin/) and "admin" (/admin/) match the same requests (paths are matched ignoring ASCII case, on the same host and methods): only their order would decide, and one would never match; merge them, or give them other hosts or methods',
  );
  assert.match(configError(() => validateConfig({ routes: [r('a', { host: 'x.example', pathPrefix: '/A', methods: ['GET'] }), r('b', { host: 'X.example', pathPrefix: '/a' })] })), /routes\[1\]\.match\.pathPrefix: routes "b" \(\/a\) and "a" \(\/A\)/);
  // disjoint hosts or methods keep both
  assert.equal(validateConfig({ routes: [r('a', { host: 'x.example', pathPrefix: '/A' }), r('b', { host: 'y.example', pathPrefix: '/a' })] }).routes.length, 2);
  assert.equal(validateConfig({ routes: [r('a', { pathPrefix: '/A', methods: ['GET'] }), r('b', { pathPrefix: '/a', methods: ['POST'] })] }).routes.length, 2);
});

test('config: PORTCULLIS_ environment variables override by path', () => {
  const raw = applyEnvOverrides({ tokens: { accessTokenTtl: '10m' } }, { PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL: '5m', PORTCULLIS_STORE: 'postgres://u@127.0.0.1:5432/db', PORTCULLIS_PLANES: '[gateway]' });
  const c = validateConfig(raw);
  assert.equal(c.tokens.accessTokenTtl, 300_000);
  assert.equal(c.store, 'postgres://u@127.0.0.1:5432/db');
  assert.deepEqual(c.planes, ['gateway']);
});

test('config: ${env:…} and ${file:…} interpolation; a missing variable or file is a named error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-cfg-'));
  writeFileSync(join(dir, 'db-url'), 'postgres://svc@127.0.0.1:5432/p\n');
  writeFileSync(join(dir, 'portcullis.yaml'), 'store: ${file:./db-url}\nissuer: ${env:ISSUER_URL}\n');
  const { config } = loadConfig(join(dir, 'portcullis.yaml'), { ISSUER_URL: 'https://id.example.com' });
  assert.equal(config.store, 'postgres://svc@127.0.0.1:5432/p');
  assert.equal(config.issuer, 'https://id.example.com');
  assert.match(configError(() => loadConfig(join(dir, 'portcullis.yaml'), {})), /issuer: environment variable ISSUER_URL is not set/);
  writeFileSync(join(dir, 'portcullis.yaml'), 'store: ${file:./nope}\n');
  assert.match(configError(() => loadConfig(join(dir, 'portcullis.yaml'), {})), /^config\.not-found: store: secret file/);
  assert.match(configError(() => loadConfig(join(dir, 'missing.yaml'), {})), /^config\.not-found/);
});

test('docs: docs/configuration.md is generated from the schema and up to date (npm run docs)', () => {
  assert.equal(readFileSync('docs/configuration.md', 'utf8'), renderConfigReference());
});

test('docs: every error code is listed in docs/errors.md with meaning and fix (npm run docs)', () => {
  assert.equal(readFileSync('docs/errors.md', 'utf8'), renderErrorCatalogue());
});

test('config: variables that steer the CLI and tests (PORTCULLIS_DIR, PORTCULLIS_REQUIRE_SERVICES, PORTCULLIS_TEST_*) are not config overrides', () => {
  const raw = applyEnvOverrides({}, { PORTCULLIS_REQUIRE_SERVICES: '1', PORTCULLIS_DIR: '/x', PORTCULLIS_CONFIG: '/y', PORTCULLIS_TEST: '1', PORTCULLIS_TEST_POSTGRES_URL: 'postgres://x', PORTCULLIS_ADMIN_URL: 'http://a' });
  assert.deepEqual(raw, {});
  assert.equal(
    configError(() => validateConfig(applyEnvOverrides({}, { PORTCULLIS_TOKNS__TTL: '5m' }))),
    'config.invalid: invalid configuration:\n  PORTCULLIS_TOKNS__TTL (environment): no configuration key tokns',
  );
  assert.equal(
    configError(() => validateConfig(applyEnvOverrides({}, { PORTCULLIS_TOKENS__TTL: '5m' }))),
    'config.invalid: invalid configuration:\n  PORTCULLIS_TOKENS__TTL (environment): no configuration key tokens.ttl',
  );
});

test('bad config: a zero interval or one above the timer maximum (24.8 days) is refused naming the key (it would fire every 1 ms)', () => {
  assert.equal(
    configError(() => validateConfig({ revocation: { reconcileInterval: '0ms' } })),
    'config.invalid: invalid configuration:\n  revocation.reconcileInterval: expected a duration of at least 100ms, got "0ms"',
  );
  assert.equal(
    configError(() => validateConfig({ keys: { checkInterval: '30d' } })),
    'config.invalid: invalid configuration:\n  keys.checkInterval: expected a duration of at most 24.8 days (2147483647ms, the largest timer delay), got "30d"',
  );
  assert.match(configError(() => validateConfig({ tokens: { accessTokenTtl: 0 } })), /tokens\.accessTokenTtl: expected a duration of at least 1s, got 0/);
  assert.match(configError(() => validateConfig({ routes: [{ name: 'r', match: { pathPrefix: '/r' }, upstream: 'http://127.0.0.1:1', timeout: '100d' }] })), /routes\[0\]\.timeout: expected a duration of at most 24\.8 days/);
  assert.match(configError(() => validateConfig({ tokens: { accessTokenTtl: true } })), /tokens\.accessTokenTtl: expected a duration such as "30s", "10m" or "24h", got true/);
  // zero stays meaningful where it means "no tolerance"
  assert.equal(validateConfig({ tokens: { leeway: 0 } }).tokens.leeway, 0);
  assert.equal(validateConfig({ revocation: { reconcileInterval: '500ms' } }).revocation.reconcileInterval, 500);
});

test('bad config: encryption.prepublish not longer than revocation.reconcileInterval is refused (a node that missed keys.changed would refuse JWEs to the next key at its handover)', () => {
  assert.equal(validateConfig({}).encryption.prepublish, 3_600_000);
  assert.equal(
    configError(() => validateConfig({ revocation: { reconcileInterval: '1h' } })),
    'config.invalid: invalid configuration:\n  encryption.prepublish: must be longer than revocation.reconcileInterval (1h): a node that missed the keys.changed event would not have loaded the next encryption key at its handover, and would refuse what clients encrypt to it (jwe.unknown-key)',
  );
  assert.equal(validateConfig({ revocation: { reconcileInterval: '1h' }, encryption: { prepublish: '2h' } }).encryption.prepublish, 7_200_000);
  assert.match(configError(() => validateConfig({ encryption: { prepublish: '5s' } })), /encryption\.prepublish: must be longer than revocation\.reconcileInterval \(5s\)/);
});

test('config: Kubernetes service-link variables (PORTCULLIS_SERVICE_HOST, PORTCULLIS_PORT_8080_TCP…) are not configuration: left alone, named as ignored', () => {
  const env = {
    PORTCULLIS_SERVICE_HOST: '10.0.0.7',
    PORTCULLIS_SERVICE_PORT: '8080',
    PORTCULLIS_PORT: 'tcp://10.0.0.7:8080',
    PORTCULLIS_PORT_8080_TCP: 'tcp://10.0.0.7:8080',
    PORTCULLIS_PORT_8080_TCP_PROTO: 'tcp',
    PORTCULLIS_PORT_8080_TCP_PORT: '8080',
    PORTCULLIS_PORT_8080_TCP_ADDR: '10.0.0.7',
    PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL: '5m',
  };
  const ignored: string[] = [];
  const c = validateConfig(applyEnvOverrides({}, env, ignored));
  assert.equal(c.tokens.accessTokenTtl, 300_000);
  assert.deepEqual(ignored.sort(), Object.keys(env).filter((k) => !k.includes('__')).sort());
  const dir = mkdtempSync(join(tmpdir(), 'pc-cfg-'));
  writeFileSync(join(dir, 'portcullis.yaml'), 'issuer: https://id.example.com\n');
  const loaded = loadConfig(join(dir, 'portcullis.yaml'), env);
  assert.equal(loaded.config.tokens.accessTokenTtl, 300_000);
  assert.equal(loaded.ignoredEnv.length, 7);
});

test('config: an environment override reaches camelCase keys with acronyms (requireTLS) and top-level keys', () => {
  const c = validateConfig(applyEnvOverrides({ identity: { otp: { sender: 'smtp', smtp: { host: 'mail.example', from: 'id@example.com' } } } }, { PORTCULLIS_IDENTITY__OTP__SMTP__REQUIRE_TLS: 'false', PORTCULLIS_ISSUER: 'https://x.example' }));
  assert.equal(c.identity.otp.smtp?.requireTLS, false);
  assert.equal(c.issuer, 'https://x.example');
});

test('config: identity.otp.smtp.timeout (the SMTP send deadline) defaults to 10s, takes a duration, and refuses 0 and values past 2m', () => {
  const smtp = { host: 'mail.example', from: 'id@example.com' };
  assert.equal(validateConfig({ identity: { otp: { sender: 'smtp', smtp } } }).identity.otp.smtp?.timeout, 10_000);
  assert.equal(validateConfig({ identity: { otp: { sender: 'smtp', smtp: { ...smtp, timeout: '3s' } } } }).identity.otp.smtp?.timeout, 3_000);
  assert.match(configError(() => validateConfig({ identity: { otp: { sender: 'smtp', smtp: { ...smtp, timeout: 0 } } } })), /identity\.otp\.smtp\.timeout: expected a duration of at least 100ms, got 0/);
  assert.match(configError(() => validateConfig({ identity: { otp: { sender: 'smtp', smtp: { ...smtp, timeout: '5m' } } } })), /identity\.otp\.smtp\.timeout: expected a duration of at most 2m/);
});

test('config: postgres.statementTimeout defaults to 10s, takes a duration, and refuses values out of its bounds (no way to turn it off)', () => {
  assert.equal(validateConfig({}).postgres.statementTimeout, 10_000);
  assert.equal(validateConfig({ postgres: { statementTimeout: '30s' } }).postgres.statementTimeout, 30_000);
  assert.match(configError(() => validateConfig({ postgres: { statementTimeout: 0 } })), /postgres\.statementTimeout: expected a duration of at least 1s, got 0/);
  assert.match(configError(() => validateConfig({ postgres: { statementTimeout: '1h' } })), /postgres\.statementTimeout: expected a duration of at most 5m, got "1h"/);
  assert.match(configError(() => validateConfig({ postgres: { timeout: '1s' } })), /postgres/);
});

test('config: webhooks.deliveryRetention bounds the delivery log (default 30 days, at least an hour)', () => {
  assert.equal(validateConfig(parseConfigText(DEFAULT_CONFIG)).webhooks.deliveryRetention, 30 * 86_400_000);
  assert.equal(validateConfig(parseConfigText('webhooks: { deliveryRetention: 7d }')).webhooks.deliveryRetention, 7 * 86_400_000);
  assert.match(configError(() => validateConfig(parseConfigText('webhooks: { deliveryRetention: 1m }'))), /webhooks\.deliveryRetention: expected a duration of at least 1h/);
});

test('config: identity.otp.sender defaults to none (no code factor), never to console, which prints every code to stderr; console and none can be chosen', () => {
  assert.equal(validateConfig({}).identity.otp.sender, 'none');
  assert.equal(validateConfig({ identity: { otp: { channel: 'sms' } } }).identity.otp.sender, 'none');
  assert.equal(validateConfig({ identity: { otp: { sender: 'console' } } }).identity.otp.sender, 'console');
  assert.equal(validateConfig({ identity: { otp: { sender: 'none' } } }).identity.otp.sender, 'none');
  assert.match(configError(() => validateConfig({ identity: { otp: { sender: 'stderr' } } })), /identity\.otp\.sender: .*"none"/);
});
