/**
 * A `WebhookSender` built in code (not from the configuration, which checks its headers at
 * load, core/config/http-headers.ts) took any header map: a value with CR LF inside (a
 * credential read with a line break in it, or `Bearer k\r\nX-Injected: 1`) made `send` throw
 * the TypeError of `new Headers()`, outside any typed error and quoting the value (the
 * provider credential). The sender now checks its headers as the configuration does, and
 * refuses them with `config.invalid` naming the header, never the value, before anything is
 * sent.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { isPortcullisError } from '../../src/core/errors.js';
import type { OtpMessage } from '../../src/mfa/otp/senders/sender.js';
import { WebhookSender } from '../../src/mfa/otp/senders/webhook.js';

const SECRET = 'pr0vider-S3CRET';

const message: OtpMessage = {
  channel: 'sms',
  to: '+15551234567',
  code: '493817',
  purpose: 'sign-in',
  expiresAt: 1_900_000_300_000,
  subject: 'Your Portcullis verification code',
  text: '493817 is your Portcullis verification code.',
};

/** Builds a sender with `headers` and sends one code to a local receiver; the error, and how many requests arrived. */
async function sendWith(headers: Record<string, string>): Promise<{ error: unknown; received: number }> {
  let received = 0;
  const server = createServer((_req, res) => {
    received++;
    res.writeHead(202).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/sms`;
  try {
    await new WebhookSender({ url, headers }).send(message);
    return { error: undefined, received };
  } catch (error) {
    return { error, received };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

function assertRefused(r: { error: unknown; received: number }, expected: string): void {
  const e = r.error;
  assert.ok(isPortcullisError(e), `not a typed error: ${String(e)}`);
  assert.equal(e.code, 'config.invalid');
  assert.equal(e.message, expected);
  for (let x: unknown = e; x instanceof Error; x = x.cause) assert.ok(!x.message.includes(SECRET) && !String(x.stack).includes(SECRET), `the value is quoted: ${x.message}`);
  assert.ok(!JSON.stringify(e.details ?? {}).includes(SECRET));
  assert.equal(r.received, 0, 'nothing sent');
}

test('attack: a header value with CR LF, built in code → config.invalid naming the header, the value quoted nowhere, nothing sent', async () => {
  assertRefused(
    await sendWith({ Authorization: `Bearer ${SECRET}\r\nX-Injected: 1` }),
    'the OTP webhook header Authorization: the value holds a control character (carriage return, U+000D); a header value may hold visible ASCII characters, spaces and tabs only (RFC 9110 §5.5)',
  );
  assertRefused(await sendWith({ 'X-Api-Key': `${SECRET}\0` }), 'the OTP webhook header X-Api-Key: the value holds a control character (NUL, U+0000); a header value may hold visible ASCII characters, spaces and tabs only (RFC 9110 §5.5)');
});

test('attack: a header name that is no token, built in code → config.invalid showing the name up to its bad character only', async () => {
  assertRefused(
    await sendWith({ [`Authorization: Bearer ${SECRET}`]: 'x' }),
    `the OTP webhook headers: the header name starting "Authorization" holds ":" (U+003A); a header name is a token of letters, digits and !#$%&'*+-.^_\`|~ (RFC 9110 §5.1)`,
  );
});

test('attack: Host or Content-Length built in code → config.invalid naming the header, as at load', async () => {
  assertRefused(
    await sendWith({ Host: `${SECRET}.internal` }),
    'the OTP webhook header Host: set by the HTTP client (the target host, the message framing or the connection): configured, it would redirect or break the request',
  );
});

test('valid headers built in code are still sent (whitespace around a value dropped)', async () => {
  assert.deepEqual(await sendWith({ Authorization: `Bearer ${SECRET}\n`, 'X-Tenant': 't1' }), { error: undefined, received: 1 });
});
