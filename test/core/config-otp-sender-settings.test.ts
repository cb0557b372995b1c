/**
 * `identity.otp.smtp` beside `sender: webhook` (or `none`, `file`, `console`), and
 * `identity.otp.webhook` beside `sender: smtp` (or the others), were accepted and ignored:
 * an operator who filled in the SMTP server but left the default `sender: none` got no code
 * factor while `config check` said ok, and one who switched to `webhook` kept SMTP
 * credentials in the file that nothing used. A sender's settings beside another sender are
 * now `config.invalid` naming the key and its line, as `tls.certFile` outside `mode: files` is.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, parseConfigText, validateConfig } from '../../src/core/config/load.js';
import { DEFAULT_CONFIG } from '../../src/core/config/default-config.js';
import { isPortcullisError } from '../../src/core/errors.js';

const smtp = { host: 'mail.example', from: 'id@example.com' };
const webhook = { url: 'https://sms.example/send' };

function configError(otp: Record<string, unknown>): string {
  try {
    validateConfig({ identity: { otp } });
  } catch (e) {
    assert.ok(isPortcullisError(e) && e.code === 'config.invalid', String(e));
    return e.message;
  }
  assert.fail(`accepted: ${JSON.stringify(otp)}`);
}

test('bug: identity.otp.smtp beside sender webhook → config.invalid naming identity.otp.smtp (it would be ignored)', () => {
  assert.equal(
    configError({ channel: 'email', sender: 'webhook', webhook, smtp }),
    'invalid configuration:\n  identity.otp.smtp: applies to sender smtp only (the sender is webhook): set sender: smtp to send codes through it, or remove it',
  );
});

test('bug: identity.otp.webhook beside sender smtp → config.invalid naming identity.otp.webhook', () => {
  assert.equal(
    configError({ sender: 'smtp', smtp, webhook }),
    'invalid configuration:\n  identity.otp.webhook: applies to sender webhook only (the sender is smtp): set sender: webhook to send codes through it, or remove it',
  );
});

test('bug: either beside the default sender none, or file or console → config.invalid (no code would reach anyone through it)', () => {
  assert.match(configError({ smtp }), /^invalid configuration:\n {2}identity\.otp\.smtp: applies to sender smtp only \(the sender is none\)/);
  assert.match(configError({ sender: 'file', webhook }), /^invalid configuration:\n {2}identity\.otp\.webhook: applies to sender webhook only \(the sender is file\)/);
  assert.match(configError({ sender: 'console', smtp, webhook }), /identity\.otp\.smtp: applies to sender smtp only \(the sender is console\)[^]*\n {2}identity\.otp\.webhook: applies to sender webhook only \(the sender is console\)/);
});

test('the error names the line of the ignored settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-otp-'));
  try {
    writeFileSync(join(dir, 'portcullis.yaml'), 'identity:\n  otp:\n    sender: webhook\n    webhook: { url: "https://sms.example/send" }\n    smtp: { host: mail.example, from: id@example.com }\n');
    assert.throws(
      () => loadConfig(join(dir, 'portcullis.yaml'), {}),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.endsWith('identity.otp.smtp: applies to sender smtp only (the sender is webhook): set sender: smtp to send codes through it, or remove it (line 5)'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('each sender with its own settings still loads, and so does the config init writes', () => {
  assert.equal(validateConfig({ identity: { otp: { sender: 'smtp', smtp } } }).identity.otp.smtp?.host, 'mail.example');
  assert.equal(validateConfig({ identity: { otp: { channel: 'sms', sender: 'webhook', webhook } } }).identity.otp.webhook?.url, webhook.url);
  assert.equal(validateConfig(parseConfigText(DEFAULT_CONFIG)).identity.otp.sender, 'file');
});
