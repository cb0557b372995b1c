/**
 * Environment overrides of a key inside a free-form map: the segment was camel-cased as if it
 * named a schema key, so `PORTCULLIS_IDENTITY__OTP__WEBHOOK__HEADERS__X_API_KEY` sent the SMS
 * provider a header `xApiKey` (the provider saw no `X-API-Key` and refused every code), and
 * an override of `AUTHORIZATION` added a second `authorization` header beside the file's
 * `Authorization` (fetch joins them: `Bearer old, Bearer new`). Inside a map of HTTP header
 * names a segment now names the header: lower case, `_` for `-` (environment variable names
 * cannot hold `-`; header names are case-insensitive, RFC 9110 §5.1), and it replaces a
 * header of that name written in the file in any case.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyEnvOverrides, validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

const HEADERS = 'PORTCULLIS_IDENTITY__OTP__WEBHOOK__HEADERS__';

function headersWith(env: Record<string, string>, file: Record<string, string> = {}): Record<string, string> {
  const raw = { identity: { otp: { channel: 'sms', sender: 'webhook', webhook: { url: 'https://sms.example/send', headers: file } } } };
  return validateConfig(applyEnvOverrides(raw, env)).identity.otp.webhook!.headers;
}

test('bug: HEADERS__X_API_KEY sets the header x-api-key, not xApiKey', () => {
  assert.deepEqual(headersWith({ [`${HEADERS}X_API_KEY`]: 'k-1' }), { 'x-api-key': 'k-1' });
});

test('bug: an override replaces the file header of the same name, whatever its case (no second header)', () => {
  assert.deepEqual(headersWith({ [`${HEADERS}AUTHORIZATION`]: 'Bearer new' }, { Authorization: 'Bearer old', 'X-Tenant': 't1' }), { 'X-Tenant': 't1', authorization: 'Bearer new' });
  assert.deepEqual(headersWith({ [`${HEADERS}X_TENANT`]: 't2' }, { 'X-Tenant': 't1' }), { 'x-tenant': 't2' });
});

test('a path below a header name is refused, naming the variable', () => {
  assert.throws(
    () => headersWith({ [`${HEADERS}X_API_KEY__MORE`]: 'x' }),
    (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes(`${HEADERS}X_API_KEY__MORE (environment): no configuration key`),
  );
});
