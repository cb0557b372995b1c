/**
 * `${file:…}` and `${env:…}` in environment overrides: interpolation ran on the YAML
 * before the `PORTCULLIS_*` overrides were applied, so
 * `PORTCULLIS_IDENTITY__OTP__SMTP__PASS='${file:/run/secrets/smtp}'` made the literal text
 * `${file:/run/secrets/smtp}` the SMTP password, though the reference says interpolation
 * works in any string. An override is now expanded by the same rules as the file (a relative
 * path against the config directory, the content trimmed and taken as written, never read as
 * YAML), and a missing file or variable is the same error, naming the key and the override
 * variable, never the value around the reference.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pc-env-interp-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'portcullis.yaml');
writeFileSync(file, 'identity:\n  otp:\n    sender: smtp\n    smtp: { host: mail.example, from: id@example.com }\n');
writeFileSync(join(dir, 'smtp-pass'), '!Passw0rd #2\n', { mode: 0o600 });

const PASS = 'PORTCULLIS_IDENTITY__OTP__SMTP__PASS';

test('bug: ${file:ABSOLUTE} in an override is the file content, not the literal reference', () => {
  const { config } = loadConfig(file, { [PASS]: `\${file:${join(dir, 'smtp-pass')}}` });
  assert.equal(config.identity.otp.smtp?.pass, '!Passw0rd #2');
});

test('bug: ${file:RELATIVE} in an override resolves against the config directory, as in the file', () => {
  assert.equal(loadConfig(file, { [PASS]: '${file:./smtp-pass}' }).config.identity.otp.smtp?.pass, '!Passw0rd #2');
});

test('bug: ${env:NAME} in an override is the variable, inside a longer value too, and the result is not read as YAML', () => {
  assert.equal(loadConfig(file, { [PASS]: '${env:SMTP_PASS}', SMTP_PASS: '&a [x]' }).config.identity.otp.smtp?.pass, '&a [x]');
  const webhook = join(dir, 'webhook.yaml');
  writeFileSync(webhook, 'identity:\n  otp: { channel: sms, sender: webhook, webhook: { url: "https://sms.example/send" } }\n');
  const { config } = loadConfig(webhook, { PORTCULLIS_IDENTITY__OTP__WEBHOOK__HEADERS__AUTHORIZATION: 'Bearer ${env:SMS_TOKEN}', SMS_TOKEN: 'tok-123' });
  assert.equal(config.identity.otp.webhook?.headers['authorization'], 'Bearer tok-123');
});

test('bug: an override parsed as YAML (a list) is expanded in each string', () => {
  assert.deepEqual(loadConfig(file, { PORTCULLIS_PLANES: '["${env:PLANE}", admin]', PLANE: 'gateway' }).config.planes, ['gateway', 'admin']);
});

test('a missing file → config.not-found naming the key and the variable, never the value around the reference', () => {
  assert.throws(
    () => loadConfig(file, { [PASS]: 'hunter2-${file:./nope}' }),
    (e: unknown) =>
      isPortcullisError(e) &&
      e.code === 'config.not-found' &&
      e.message === `identity.otp.smtp.pass: secret file ./nope does not exist (${PASS})` &&
      (e.details as { variable?: string } | undefined)?.variable === PASS,
  );
});

test('a missing variable → config.invalid naming the key and the variable, never the value around the reference', () => {
  assert.throws(
    () => loadConfig(file, { [PASS]: 'hunter2-${env:SMTP_PASS}' }),
    (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message === `identity.otp.smtp.pass: environment variable SMTP_PASS is not set (${PASS})` && !e.message.includes('hunter2'),
  );
});
