/**
 * Environment overrides of string keys: the value was parsed as YAML, so a password such as
 * `!Passw0rd` became the empty string (a YAML tag), `s3cret #2` lost its end (a comment),
 * `&a x` its start (an anchor), and a numeric one (`12345678`) was refused as a number. The
 * YAML parser also printed a warning with the whole value (`Unresolved tag: !Passw0rd`) on the
 * node's stderr, and so into its logs. A string key now takes the value as written (a quoted
 * value still reads as YAML: `""` is the empty string); other keys still parse it as YAML, without
 * a warning: a value that YAML reads only with one reaches the schema as written.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyEnvOverrides, validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

const SMTP = { identity: { otp: { sender: 'smtp', smtp: { host: 'mail.example', from: 'id@example.com' } } } };

/** The config an override of `name` gives, and every process warning it raised meanwhile. */
function withOverride(name: string, value: string, raw: Record<string, unknown> = SMTP): { config: ReturnType<typeof validateConfig>; warnings: string[] } {
  const warnings: string[] = [];
  const original = process.emitWarning;
  process.emitWarning = ((w: string | Error) => void warnings.push(String(w))) as typeof process.emitWarning;
  try {
    return { config: validateConfig(applyEnvOverrides(raw, { [name]: value })), warnings };
  } finally {
    process.emitWarning = original;
  }
}

test('bug: an SMTP password from the environment reaches the sender as written, whatever YAML would read in it', () => {
  for (const pass of ['!Passw0rd', 's3cret #2', '&anchor x', '12345678', '0x1F', 'a: b', '- a', '[x]', '? x', '  padded  ', 'null']) {
    const { config, warnings } = withOverride('PORTCULLIS_IDENTITY__OTP__SMTP__PASS', pass);
    assert.equal(config.identity.otp.smtp?.pass, pass, JSON.stringify(pass));
    assert.deepEqual(warnings, [], JSON.stringify(pass));
  }
});

test('bug: a secret in an environment override is never echoed in a YAML warning', () => {
  const { warnings } = withOverride('PORTCULLIS_IDENTITY__OTP__WEBHOOK__HEADERS__AUTHORIZATION', '!Bearer-s3cr3t', { identity: { otp: { sender: 'webhook', webhook: { url: 'https://sms.example/send' } } } });
  assert.deepEqual(warnings, []);
});

test('a string key: a quoted value still reads as YAML (the empty string, escapes)', () => {
  assert.equal(withOverride('PORTCULLIS_PKI__ORGANIZATION', '"Acme\\tCorp"').config.pki.organization, 'Acme\tCorp');
  assert.equal(withOverride('PORTCULLIS_PKI__ORGANIZATION', "'Acme #1'").config.pki.organization, 'Acme #1');
  assert.equal(withOverride('PORTCULLIS_PKI__ORGANIZATION', 'Acme #1 Corp').config.pki.organization, 'Acme #1 Corp');
  assert.throws(
    () => withOverride('PORTCULLIS_PKI__ORGANIZATION', '""'),
    (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes('pki.organization'),
  );
});

test('other keys still parse YAML: numbers, booleans, lists, durations', () => {
  const c = validateConfig(
    applyEnvOverrides({}, { PORTCULLIS_PLANES: '[gateway, admin]', PORTCULLIS_GATEWAY__TOKEN_CACHE_SIZE: '5', PORTCULLIS_WEBHOOKS__ALLOW_PRIVATE_TARGETS: 'true', PORTCULLIS_TOKENS__LEEWAY: '10' }),
  );
  assert.deepEqual(c.planes, ['gateway', 'admin']);
  assert.equal(c.gateway.tokenCacheSize, 5);
  assert.equal(c.webhooks.allowPrivateTargets, true);
  assert.equal(c.tokens.leeway, 10_000);
});

test('a non-string key whose value YAML reads only with a warning: refused as written, no warning', () => {
  const warnings: string[] = [];
  const original = process.emitWarning;
  process.emitWarning = ((w: string | Error) => void warnings.push(String(w))) as typeof process.emitWarning;
  try {
    assert.throws(
      () => validateConfig(applyEnvOverrides({}, { PORTCULLIS_GATEWAY__TOKEN_CACHE_SIZE: '!x 5' })),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes('gateway.tokenCacheSize: Invalid input: expected number, received string'),
    );
  } finally {
    process.emitWarning = original;
  }
  assert.deepEqual(warnings, []);
});
