/**
 * `identity.otp.webhook.headers` took any name and any value: a value holding CR, LF or NUL
 * (a secret file or variable with a line break inside, or `Bearer k\r\nX-Other: 1`) loaded
 * and `config check` said ok, and the first code sent failed in `new Headers()` with a
 * TypeError that quoted the value (the provider credential) outside any typed error; other
 * control characters reached undici, which refused the request. Names and values are now
 * checked at load (RFC 9110 §5.1 token names, §5.5 field values): `config.invalid` naming the
 * header's path, never the value. Whitespace around a value is dropped, as fetch drops it.
 *
 * The names the HTTP client or the sender sets were taken too: a configured `Host` or
 * `Content-Length` went out with the request (to another virtual host, or with a length that
 * is not the body's), and `Content-Type`, `Content-Digest` or the signature fields were
 * silently replaced at send time. They are `config.invalid` at load, naming the header.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyEnvOverrides, loadConfig, validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { runCli } from '../cli/run.js';

const SECRET = 'k3y-S3CRET-value';
const PATH = 'identity.otp.webhook.headers';

function withHeaders(headers: Record<string, string>, env: Record<string, string> = {}) {
  const raw = { identity: { otp: { channel: 'sms', sender: 'webhook', webhook: { url: 'https://sms.example/send', headers } } } };
  return validateConfig(applyEnvOverrides(raw, env)).identity.otp.webhook!.headers;
}

function refused(headers: Record<string, string>, env: Record<string, string> = {}): string {
  try {
    withHeaders(headers, env);
  } catch (e) {
    assert.ok(isPortcullisError(e) && e.code === 'config.invalid', String(e));
    assert.ok(!e.message.includes(SECRET) && !JSON.stringify(e.details).includes(SECRET), `the value is quoted: ${e.message}`);
    return e.message;
  }
  assert.fail(`accepted: ${JSON.stringify(headers)}`);
}

test('attack: a header value with CR LF (a second header smuggled in) → config.invalid naming the header, the value not quoted', () => {
  assert.equal(
    refused({ Authorization: `Bearer ${SECRET}\r\nX-Injected: 1` }),
    `invalid configuration:\n  ${PATH}.Authorization: the value holds a control character (carriage return, U+000D); a header value may hold visible ASCII characters, spaces and tabs only (RFC 9110 §5.5)`,
  );
});

test('attack: a lone LF, a NUL, DEL or another control character inside a value → config.invalid naming it', () => {
  assert.match(refused({ 'X-Api-Key': `${SECRET}\nX-Injected: 1` }), /\.X-Api-Key: the value holds a control character \(line feed, U\+000A\)/);
  assert.match(refused({ 'X-Api-Key': `${SECRET}\0` }), /\.X-Api-Key: the value holds a control character \(NUL, U\+0000\)/);
  assert.match(refused({ 'X-Api-Key': `${SECRET}\x1b[2J` }), /\.X-Api-Key: the value holds a control character \(U\+001B\)/);
  assert.match(refused({ 'X-Api-Key': `${SECRET}\x7f` }), /\.X-Api-Key: the value holds a control character \(U\+007F\)/);
  assert.match(refused({ 'X-Api-Key': `${SECRET}€` }), /\.X-Api-Key: the value holds a character outside ASCII;/);
});

test('attack: a header name that is no HTTP token (space, colon, CR LF, empty) → config.invalid naming the map, the name shown up to the bad character only', () => {
  assert.equal(
    refused({ [`Authorization: Bearer ${SECRET}`]: '' }),
    `invalid configuration:\n  ${PATH}: the header name starting "Authorization" holds ":" (U+003A); a header name is a token of letters, digits and !#$%&'*+-.^_\`|~ (RFC 9110 §5.1)`,
  );
  assert.match(refused({ 'X Api': 'v' }), /^invalid configuration:\n {2}identity\.otp\.webhook\.headers: the header name starting "X" holds " " \(U\+0020\)/);
  assert.match(refused({ 'X-A\r\nX-B': 'v' }), /the header name starting "X-A" holds a control character \(carriage return, U\+000D\)/);
  assert.match(refused({ '': 'v' }), /^invalid configuration:\n {2}identity\.otp\.webhook\.headers: a header name is empty/);
});

test('attack: a value set through the environment with a line break inside → config.invalid naming the variable, not the value', () => {
  const variable = 'PORTCULLIS_IDENTITY__OTP__WEBHOOK__HEADERS__X_API_KEY';
  const dir = mkdtempSync(join(tmpdir(), 'pc-otp-headers-'));
  try {
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, 'identity:\n  otp: { channel: sms, sender: webhook, webhook: { url: "https://sms.example/send" } }\n');
    assert.throws(
      () => loadConfig(file, { [variable]: `${SECRET}\r\nX-Injected: 1` }),
      (e: unknown) =>
        isPortcullisError(e) &&
        e.code === 'config.invalid' &&
        e.message.endsWith(`${PATH}.x-api-key: the value holds a control character (carriage return, U+000D); a header value may hold visible ASCII characters, spaces and tabs only (RFC 9110 §5.5) (${variable})`) &&
        !e.message.includes(SECRET),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('whitespace around a value is dropped (as fetch drops it: a secret read with its final newline still works); tabs and spaces inside stay', () => {
  assert.deepEqual(withHeaders({ Authorization: `Bearer ${SECRET}` }), { Authorization: `Bearer ${SECRET}` });
  assert.deepEqual(withHeaders({}, { PORTCULLIS_IDENTITY__OTP__WEBHOOK__HEADERS__AUTHORIZATION: `Bearer ${SECRET}\n` }), { authorization: `Bearer ${SECRET}` });
  assert.deepEqual(withHeaders({ 'X-List': ' a,\tb c ', "!#$%&'*+-.^_`|~09az": '' }), { 'X-List': 'a,\tb c', "!#$%&'*+-.^_`|~09az": '' });
});

test('attack: config check on a file whose webhook header holds CR LF → exit 1, config.invalid with the path and line, the value on neither stream', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-otp-headers-'));
  try {
    writeFileSync(join(dir, 'key'), `${SECRET}\r\nX-Injected: 1`);
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, 'identity:\n  otp:\n    channel: sms\n    sender: webhook\n    webhook:\n      url: https://sms.example/send\n      headers:\n        X-Api-Key: "${file:./key}"\n');
    assert.throws(() => loadConfig(file, {}), (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes(`${PATH}.X-Api-Key: the value holds a control character`) && !e.message.includes(SECRET));
    const r = await runCli(['config', 'check', '--config', file]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `error: config.invalid: invalid configuration:\n  ${PATH}.X-Api-Key: the value holds a control character (carriage return, U+000D); a header value may hold visible ASCII characters, spaces and tabs only (RFC 9110 §5.5) (line 8)\n`,
    );
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const CONNECTION = 'set by the HTTP client (the target host, the message framing or the connection): configured, it would redirect or break the request';
const SENDER = 'set by the OTP webhook sender (the JSON body\'s type, its RFC 9421 signature and Content-Digest, Accept and User-Agent): a configured value would be replaced';

test('attack: a configured Host or Content-Length (the request sent to another host, or framed wrong) → config.invalid naming the header, the value not quoted', () => {
  assert.equal(refused({ Host: `internal-admin.example ${SECRET}` }), `invalid configuration:\n  ${PATH}.Host: ${CONNECTION}`);
  assert.equal(refused({ 'content-length': `0${SECRET}` }), `invalid configuration:\n  ${PATH}.content-length: ${CONNECTION}`);
  for (const name of ['HOST', 'Transfer-Encoding', 'connection', 'TE', 'Upgrade', 'Keep-Alive', 'Expect', 'Trailer', 'Proxy-Connection']) {
    assert.equal(refused({ Authorization: `Bearer ${SECRET}`, [name]: SECRET }), `invalid configuration:\n  ${PATH}.${name}: ${CONNECTION}`, name);
  }
});

test('attack: a configured signature field or Content-Type (silently replaced by the signed one) → config.invalid naming the header', () => {
  for (const name of ['Content-Type', 'content-digest', 'Signature', 'Signature-Input', 'Accept', 'User-Agent']) {
    assert.equal(refused({ [name]: SECRET }), `invalid configuration:\n  ${PATH}.${name}: ${SENDER}`, name);
  }
});

test('attack: Content-Length set through the environment → config.invalid naming the variable, not the value', () => {
  const variable = 'PORTCULLIS_IDENTITY__OTP__WEBHOOK__HEADERS__CONTENT_LENGTH';
  const dir = mkdtempSync(join(tmpdir(), 'pc-otp-headers-'));
  try {
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, 'identity:\n  otp: { channel: sms, sender: webhook, webhook: { url: "https://sms.example/send" } }\n');
    assert.throws(
      () => loadConfig(file, { [variable]: `7${SECRET}` }),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.endsWith(`\n  ${PATH}.content-length: ${CONNECTION} (${variable})`) && !e.message.includes(SECRET),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('attack: config check on a file that sets Host → exit 1, config.invalid with the header and line, the value on neither stream', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-otp-headers-'));
  try {
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, `identity:\n  otp:\n    channel: sms\n    sender: webhook\n    webhook:\n      url: https://sms.example/send\n      headers:\n        Authorization: Bearer ${SECRET}\n        Host: ${SECRET}.internal\n`);
    assert.throws(() => loadConfig(file, {}), (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes(`${PATH}.Host: ${CONNECTION}`) && !e.message.includes(SECRET));
    const r = await runCli(['config', 'check', '--config', file]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: config.invalid: invalid configuration:\n  ${PATH}.Host: ${CONNECTION} (line 9)\n`);
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('other names a provider uses still load (Authorization, X-Api-Key, Cookie, a name that only starts like a reserved one)', () => {
  const headers = { Authorization: `Bearer ${SECRET}`, 'X-Api-Key': SECRET, Cookie: `s=${SECRET}`, 'Host-Id': '7', 'X-Signature': 'v' };
  assert.deepEqual(withHeaders(headers), headers);
});

/*
 * The URL beside the headers: its user name and password are sent as Basic authorization,
 * decoded with decodeURIComponent when the sender is built. A % that starts no escape, or
 * escapes that are no UTF-8 (%E9, é in Latin-1), loaded and `config check` said ok; the node
 * then failed at start with the raw `URIError: URI malformed` of the decoder.
 */
const URL_PATH = 'identity.otp.webhook.url';
const UNDECODABLE = 'the user name or password holds a % that encodes no UTF-8 text: write % itself as %25, and a character outside ASCII as its UTF-8 bytes (é as %C3%A9)';

function urlRefused(url: string): string {
  try {
    validateConfig({ identity: { otp: { channel: 'sms', sender: 'webhook', webhook: { url } } } });
  } catch (e) {
    assert.ok(isPortcullisError(e) && e.code === 'config.invalid', String(e));
    const shown = `${e.message}\n${JSON.stringify(e.details)}`;
    for (const s of [SECRET, 's3cr', 'AC1']) assert.ok(!shown.includes(s), `${s} is in the error:\n${shown}`);
    return e.message;
  }
  assert.fail(`accepted: ${url}`);
}

test('attack: a webhook URL whose password holds a % that encodes nothing, or no UTF-8 → config.invalid naming the URL setting, neither URL nor password quoted', () => {
  assert.equal(urlRefused('https://AC1:s3cr%zzet@sms.example/send'), `invalid configuration:\n  ${URL_PATH}: ${UNDECODABLE}`);
  assert.equal(urlRefused(`https://AC1:s3cr%E9t${SECRET}@sms.example/send`), `invalid configuration:\n  ${URL_PATH}: ${UNDECODABLE}`);
  assert.equal(urlRefused(`https://AC1%C3:${SECRET}@sms.example/send`), `invalid configuration:\n  ${URL_PATH}: ${UNDECODABLE}`);
  assert.equal(urlRefused(`https://AC1:${SECRET}%@sms.example/send`), `invalid configuration:\n  ${URL_PATH}: ${UNDECODABLE}`);
});

test('a webhook URL whose credentials are percent-encoded UTF-8 still loads', () => {
  for (const url of ['https://AC1:p%40ss%C3%A9%25@sms.example/send', 'https://AC1:s3cr%2Fet@sms.example/send?k=%zz', 'https://sms.example/send']) {
    assert.equal(validateConfig({ identity: { otp: { channel: 'sms', sender: 'webhook', webhook: { url } } } }).identity.otp.webhook!.url, url);
  }
});

test('attack: config check on a file whose webhook URL password holds %zz → exit 1, config.invalid naming the setting and line, the password on neither stream', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-otp-url-'));
  try {
    const file = join(dir, 'portcullis.yaml');
    writeFileSync(file, `identity:\n  otp:\n    channel: sms\n    sender: webhook\n    webhook:\n      url: "https://AC1:s3cr%zzet${SECRET}@sms.example/send"\n`);
    const r = await runCli(['config', 'check', '--config', file]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: config.invalid: invalid configuration:\n  ${URL_PATH}: ${UNDECODABLE} (line 6)\n`);
    for (const s of [SECRET, 's3cr']) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a webhook URL with an upper-case scheme (RFC 3986 §3.1) loads as fetch takes it, and HTTP:// to a host that is not loopback is refused as http: is', () => {
  const otp = (url: string) => ({ identity: { otp: { channel: 'sms', sender: 'webhook', webhook: { url } } } });
  assert.equal(validateConfig(otp('HTTPS://sms.example/send')).identity.otp.webhook!.url, 'HTTPS://sms.example/send');
  assert.equal(validateConfig(otp('Http://127.0.0.1:8080/send')).identity.otp.webhook!.url, 'Http://127.0.0.1:8080/send');
  assert.throws(() => validateConfig(otp('HTTP://sms.example/send')), (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.startsWith(`invalid configuration:\n  ${URL_PATH}: a plain http: URL sends every one-time code`));
});
