/**
 * Secrets inside URLs never reach a log line: the password of a URL's userinfo and the
 * value of a secret-named query parameter are removed wherever they appear (a field, an
 * error's message, stack or own properties, the message), while the line still names the
 * host and path. A node logged an external issuer's `jwksUri` whole, query API key
 * included, on every failed retrieval of its key set.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { generateKeyPair, SignJWT } from 'jose';
import { createLogger } from '../../src/core/logger.js';
import { withoutUrlSecrets } from '../../src/core/url-secrets.js';
import { startTestNode, testConfig } from '../support/portcullis.js';

function capture(): { sink: Writable; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { sink, text: () => lines.join('') };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('attack: a jwksUri carrying an API key in its query → the key is in no log line; the failed retrieval is still logged with host and path', async () => {
  const port = await closedPort();
  const { sink, text } = capture();
  const node = await startTestNode({
    logger: createLogger('trace', sink),
    config: testConfig(`gateway: { thread: false }
routes:
  - name: partner
    match: { pathPrefix: /partner }
    upstream: http://127.0.0.1:9
    require:
      token:
        audience: orders-api
        issuers:
          - issuer: https://partner.example
            jwksUri: http://127.0.0.1:${port}/jwks.json?tenant=a&api_key=QUERYSECRET
`),
  });
  try {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ iss: 'https://partner.example', sub: 'u', aud: 'orders-api', exp: Math.floor(Date.now() / 1000) + 300 }).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' }).sign(privateKey);
    const r = await fetch(`${node.urls.gateway}/partner/x`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 503);
    const logs = text();
    assert.match(logs, /JWKS prefetch failed/);
    assert.match(logs, /JWKS unavailable/);
    assert.ok(logs.includes(`http://127.0.0.1:${port}/jwks.json?tenant=a&api_key=[redacted]`), logs);
    assert.ok(!logs.includes('QUERYSECRET'), 'the API key of the jwksUri was logged');
  } finally {
    await node.stop();
  }
});

test('attack: an error carrying a store URL with its password (message, stack, own properties, cause) → the password is in no log line', () => {
  const { sink, text } = capture();
  const logger = createLogger('info', sink);
  const url = 'postgres://portcullis:s3cretPW@127.0.0.1:99999/portcullis';
  let invalid: unknown;
  try {
    new URL(url);
  } catch (e) {
    invalid = e; // Node's ERR_INVALID_URL: its own `input` holds the whole URL
  }
  const wrapped = new Error(`cannot use ${url}`, { cause: invalid });
  logger.error({ err: invalid, store: url }, `store ${url} failed`);
  logger.error({ err: wrapped, nested: { url: 'redis://:s3cretPW@127.0.0.1:6379/0' } }, 'wrapped');
  const logs = text();
  assert.ok(!logs.includes('s3cretPW'), logs);
  assert.ok(logs.includes('postgres://portcullis:[redacted]@127.0.0.1:99999/portcullis'), logs);
  assert.ok(logs.includes('redis://:[redacted]@127.0.0.1:6379/0'), logs);
  assert.match(logs, /"input":"postgres:\/\/portcullis:\[redacted\]@/);
});

test('withoutUrlSecrets: the password of a userinfo (an @ in it too) and secret-named query values; everything else as it was', () => {
  const cases: Array<[string, string]> = [
    ['postgres://u:p%40ss@db:5432/x', 'postgres://u:[redacted]@db:5432/x'],
    ['postgres://u:p@ss@db/x and redis://:pw@r:6379', 'postgres://u:[redacted]@db/x and redis://:[redacted]@r:6379'],
    ['"rediss://default:pw@r"', '"rediss://default:[redacted]@r"'],
    ['https://user@host/x', 'https://user@host/x'],
    ['https://host/cb?code=abc&state=s1', 'https://host/cb?code=[redacted]&state=s1'],
    ['https://host/j?client_secret=a&Access_Token=b&sig=c&tenant=d', 'https://host/j?client_secret=[redacted]&Access_Token=[redacted]&sig=[redacted]&tenant=d'],
    ['mailto:a@b.example', 'mailto:a@b.example'],
    ['connect ECONNREFUSED 127.0.0.1:5432', 'connect ECONNREFUSED 127.0.0.1:5432'],
    ['http://host:80/x?to=a@b', 'http://host:80/x?to=a@b'],
  ];
  for (const [given, want] of cases) assert.equal(withoutUrlSecrets(given), want, given);
});

/** Every string a logged error carries (message, own `input`, its cause's), as the err serializer takes them. */
async function errorOf(run: () => unknown): Promise<Error> {
  try {
    await run();
  } catch (e) {
    return e as Error;
  }
  assert.fail('no error');
}

test('attack: a password with a space (and a / or #) in a URL that fetch or ioredis quote in their errors → no part of it in a log line', async () => {
  const errors = [
    // "Request cannot be constructed from a URL that includes credentials: https://svc:Sekr 3t@…"
    await errorOf(() => fetch('https://svc:Sekr 3t@127.0.0.1:1/send')),
    // "Failed to parse URL from https://svc:Sekr 3t/x@…", its cause's `input` the URL alone
    await errorOf(() => fetch('https://svc:Sekr 3t/x@127.0.0.1:1/send')),
    // the password holds an @ too: the first @ is not the end of the userinfo
    await errorOf(() => fetch('https://svc:Sekr@3t x@127.0.0.1:1/send')),
    // new Redis(): TypeError "Invalid URL" with the URL as `input`
    await errorOf(() => new Redis('redis://:Sekr 3t/x@127.0.0.1:6379', { lazyConnect: true })),
    await errorOf(() => new Redis('redis://:Sekr 3t#x@127.0.0.1:6379/0', { lazyConnect: true })),
  ];
  const { sink, text } = capture();
  const logger = createLogger('info', sink);
  for (const err of errors) logger.error({ err }, err.message);
  const logs = text();
  for (const part of ['Sekr', '3t']) assert.ok(!logs.includes(part), `${part} logged:\n${logs}`);
  assert.ok(logs.includes('https://svc:[redacted]@127.0.0.1:1/send'), logs);
  assert.ok(logs.includes('redis://:[redacted]@127.0.0.1:6379'), logs);
});

test('withoutUrlSecrets: a password holding spaces, / ? # @ or quotes (as written, or percent-decoded) is removed to the @ before the host', () => {
  const cases: Array<[string, string]> = [
    ['cannot use postgres://user:pa ss@host/db', 'cannot use postgres://user:[redacted]@host/db'],
    ['postgres://user:pa ss@host:5432/db failed for admin@example.com', 'postgres://user:[redacted]@host:5432/db failed for admin@example.com'],
    ['Failed to parse URL from https://u:pa ss/w?x#y@127.0.0.1:1/x', 'Failed to parse URL from https://u:[redacted]@127.0.0.1:1/x'],
    ['redis://:p@ss w/rd@cache:6379/0', 'redis://:[redacted]@cache:6379/0'],
    ['redis://:pa ss@cache', 'redis://:[redacted]@cache'],
    ['postgres://a@b.example:pa ss@db/x', 'postgres://a@b.example:[redacted]@db/x'],
    ['url "postgres://u:pa ss@db/x" and "redis://:q w@r:6379"', 'url "postgres://u:[redacted]@db/x" and "redis://:[redacted]@r:6379"'],
    ['{"store":"postgres://u:pw@db","contact":"a@b.example"}', '{"store":"postgres://u:[redacted]@db","contact":"a@b.example"}'],
  ];
  for (const [given, want] of cases) assert.equal(withoutUrlSecrets(given), want, given);
});

test('withoutUrlSecrets: prose beside a URL stays (a host:port, a user without password, a colon followed by a space)', () => {
  for (const text of [
    'connect to redis://127.0.0.1:6379 failed for ops@example.com',
    'redis://cache.internal: connection refused; page oncall@example.com',
    'https://registry.example:443/@scope/pkg by a@b.example',
    'see https://medium.example/@user and write to me@example.com',
    'https://user@host.example:8443/x then admin@example.com',
  ]) {
    assert.equal(withoutUrlSecrets(text), text, text);
  }
});

test('attack: a secret query value with a space in a URL that fetch or the URL parser quote as written → no part of it in a log line', async () => {
  const errors = [
    // "Failed to parse URL from https://h:99999/x?api_key=Sekr 3tQ&t=1", its cause's `input` the URL alone
    await errorOf(() => fetch('https://h:99999/x?api_key=Sekr 3tQ&t=1')),
    // ERR_INVALID_URL: `input` is the URL, the value at its end
    await errorOf(() => new URL('https://h:99999/cb?code=Sekr 3tQ')),
  ];
  const { sink, text } = capture();
  const logger = createLogger('info', sink);
  for (const err of errors) logger.error({ err }, err.message);
  logger.warn({ jwksUri: 'https://idp.example/jwks?access_token=Sekr 3tQ' }, 'JWKS unavailable');
  const logs = text();
  for (const part of ['Sekr', '3tQ']) assert.ok(!logs.includes(part), `${part} logged:\n${logs}`);
  assert.ok(logs.includes('https://h:99999/x?api_key=[redacted]&t=1'), logs);
  assert.ok(logs.includes('https://idp.example/jwks?access_token=[redacted]'), logs);
});

test('withoutUrlSecrets: a secret query value as written (spaces, quotes, ? / = @ in it) is removed to the next & or #, the closing quote of a quoted URL, or the end of the line', () => {
  const cases: Array<[string, string]> = [
    ['https://h/x?api_key=ab cd', 'https://h/x?api_key=[redacted]'],
    ['Failed to parse URL from https://h:99999/x?api_key=ab cd&tenant=t', 'Failed to parse URL from https://h:99999/x?api_key=[redacted]&tenant=t'],
    ['https://h/cb?code=ab cd#frag', 'https://h/cb?code=[redacted]#frag'],
    ['https://h/x?token=a"b\'c<d>e f', 'https://h/x?token=[redacted]'],
    ['https://h/x?token=a?b/c=d@e f&x=1', 'https://h/x?token=[redacted]&x=1'],
    // quoted: the value ends at the closing quote, the prose after it stays
    ['jwksUri "https://h/j?token=ab cd" is unreachable', 'jwksUri "https://h/j?token=[redacted]" is unreachable'],
    ["url 'https://h/j?client_secret=ab cd' refused", "url 'https://h/j?client_secret=[redacted]' refused"],
    ['see <https://h/j?sig=ab cd> for it', 'see <https://h/j?sig=[redacted]> for it'],
    ['{"url":"https://h/j?api_key=ab cd","status":503}', '{"url":"https://h/j?api_key=[redacted]","status":503}'],
    // the next line, and another URL on the line, stay
    ['GET https://h/?token=ab cd\n    at next (file.js:1:2)', 'GET https://h/?token=[redacted]\n    at next (file.js:1:2)'],
    ['https://a.example/?token=ab cd then https://b.example/x', 'https://a.example/?token=[redacted] https://b.example/x'],
    // a parameter that is no secret still ends at a space
    ['https://h/?tenant=a b and more', 'https://h/?tenant=a b and more'],
    // an empty value leaves the prose after it; a secret in the value of another parameter goes
    ['https://h/?token= was empty', 'https://h/?token= was empty'],
    ['"https://h/?token=" was empty', '"https://h/?token=" was empty'],
    ['https://h/?api_key="k1 2"', 'https://h/?api_key=[redacted]'],
    ['https://h/?redirect_uri=https://app/cb?code=abc', 'https://h/?redirect_uri=https://app/cb?code=[redacted]'],
  ];
  for (const [given, want] of cases) assert.equal(withoutUrlSecrets(given), want, given);
});
