/** OTP senders: console, file outbox, webhook (against a local HTTP server), SMTP (against a local SMTP server). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { chmod, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrozenClock } from '../../src/core/clock.js';
import { ConsoleSender } from '../../src/mfa/otp/senders/console.js';
import { FileOutboxSender, readOutbox } from '../../src/mfa/otp/senders/file-outbox.js';
import type { OtpMessage } from '../../src/mfa/otp/senders/sender.js';
import { SmtpSender } from '../../src/mfa/otp/senders/smtp.js';
import { WebhookSender } from '../../src/mfa/otp/senders/webhook.js';
import { startMiniSmtpServer } from '../support/mini-smtp-server.js';
import { createLogger } from '../../src/core/logger.js';
import { Writable } from 'node:stream';

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

const message = (over: Partial<OtpMessage> = {}): OtpMessage => ({
  channel: 'sms',
  to: '+15551234567',
  code: '493817',
  purpose: 'sign-in',
  expiresAt: 1_900_000_300_000,
  subject: 'Your Portcullis verification code',
  text: '493817 is your Portcullis verification code. It expires in 5 minutes. Do not share it.',
  ...over,
});

async function httpServer(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/sms`;
  return { url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('console sender writes the message for a developer', async () => {
  const lines: string[] = [];
  await new ConsoleSender((l) => lines.push(l)).send(message());
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /sms to \+15551234567 \(sign-in\): 493817 is your Portcullis/);
});

test('file outbox sender appends one JSON line per message, file mode 0600', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-outbox-'));
  try {
    const path = join(dir, 'outbox.jsonl');
    assert.deepEqual(await readOutbox(path), []);
    const s = new FileOutboxSender(path, new FrozenClock(1_900_000_000_000));
    await s.send(message());
    await s.send(message({ channel: 'email', to: 'bob@example.com', code: '111222' }));
    const entries = await readOutbox(path);
    assert.equal(entries.length, 2);
    assert.deepEqual(entries[0], { ...message(), sentAt: 1_900_000_000_000 });
    assert.equal(entries[1]!.to, 'bob@example.com');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('attack: codes readable by other local users — a file outbox that exists with a wider mode is made 0600 before a code is written; a symlink is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-outbox-'));
  try {
    const path = join(dir, 'outbox.jsonl');
    await writeFile(path, '', { mode: 0o644 });
    await chmod(path, 0o644);
    await new FileOutboxSender(path).send(message());
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await readOutbox(path)).length, 1);
    const elsewhere = join(dir, 'elsewhere.jsonl');
    await writeFile(elsewhere, '', { mode: 0o644 });
    await chmod(elsewhere, 0o644);
    await symlink(elsewhere, join(dir, 'link.jsonl'));
    await assert.rejects(new FileOutboxSender(join(dir, 'link.jsonl')).send(message()), (e: { code?: string }) => e.code === 'ELOOP');
    assert.equal((await stat(elsewhere)).size, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('webhook sender POSTs the message as JSON with the configured headers', async () => {
  const seen: { method?: string; type?: string; auth?: string; body?: unknown }[] = [];
  const srv = await httpServer((req, body, res) => {
    seen.push({ method: req.method, type: req.headers['content-type'], auth: req.headers.authorization, body: JSON.parse(body) });
    res.writeHead(202).end();
  });
  try {
    await new WebhookSender({ url: srv.url, headers: { authorization: 'Bearer provider-token' } }).send(message());
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.type, 'application/json');
    assert.equal(seen[0]!.auth, 'Bearer provider-token');
    assert.deepEqual(seen[0]!.body, {
      channel: 'sms',
      to: '+15551234567',
      text: message().text,
      code: '493817',
      purpose: 'sign-in',
      expiresAt: 1_900_000_300_000,
    });
  } finally {
    await srv.close();
  }
});

test('webhook sender with an http URL to a host that is not loopback warns at construction (never with the token or the credentials), and not for loopback or https', async () => {
  const lines: string[] = [];
  const logger = createLogger('info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
  const headers = { authorization: 'Bearer provider-t0ken' };
  new WebhookSender({ url: 'http://AC1:url-s3cret@sms.example.com/send?key=q-s3cret', headers, logger });
  new WebhookSender({ url: 'http://127.0.0.1:8080/send', headers, logger });
  new WebhookSender({ url: 'http://localhost:8080/send', headers, logger });
  new WebhookSender({ url: 'http://[::1]:8080/send', headers, logger });
  new WebhookSender({ url: 'https://sms.example.com/send', headers, logger });
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 1, lines.join(''));
  const line = JSON.parse(lines[0]!);
  assert.equal(line.level, 40);
  assert.equal(line.target, 'http://sms.example.com');
  assert.match(line.msg, /in clear/);
  for (const secret of ['provider-t0ken', 'url-s3cret', 'q-s3cret']) assert.ok(!lines[0]!.includes(secret), secret);
});

test('webhook sender: a non-2xx answer is mfa.delivery-failed naming the status, never the code', async () => {
  const srv = await httpServer((_req, _body, res) => res.writeHead(500).end('boom'));
  try {
    await assert.rejects(new WebhookSender({ url: srv.url }).send(message()), (e: { code?: string; message: string; details?: { status?: number } }) => {
      assert.equal(e.code, 'mfa.delivery-failed');
      assert.equal(e.details?.status, 500);
      assert.ok(!e.message.includes('493817'));
      return true;
    });
  } finally {
    await srv.close();
  }
});

test('attack: SSRF by redirect — a webhook provider answering 302 to another (internal) address is mfa.delivery-failed; the redirect is not followed', async () => {
  let internalHits = 0;
  const internal = await httpServer((_req, _body, res) => {
    internalHits++;
    res.writeHead(200).end();
  });
  const srv = await httpServer((_req, _body, res) => res.writeHead(302, { location: internal.url }).end());
  try {
    await assert.rejects(new WebhookSender({ url: srv.url }).send(message()), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'mfa.delivery-failed');
      assert.ok(!e.message.includes(internal.url), e.message);
      return true;
    });
    assert.equal(internalHits, 0);
  } finally {
    await srv.close();
    await internal.close();
  }
});

test('webhook sender: a provider that does not answer in time is mfa.delivery-failed (timeout)', async () => {
  const srv = await httpServer((_req, _body, res) => setTimeout(() => res.writeHead(200).end(), 1_000));
  try {
    await assert.rejects(new WebhookSender({ url: srv.url, timeoutMs: 100 }).send(message()), (e: { code?: string; details?: { timedOut?: boolean } }) => {
      assert.equal(e.code, 'mfa.delivery-failed');
      assert.equal(e.details?.timedOut, true);
      return true;
    });
  } finally {
    await srv.close();
  }
});

test('webhook sender: credentials in the URL (https://user:pass@host/…) are sent as Basic authorization, and never appear in an error or its cause', async () => {
  const seen: { auth?: string; url?: string }[] = [];
  const srv = await httpServer((req, _body, res) => {
    seen.push({ auth: req.headers.authorization, url: req.url });
    res.writeHead(202).end();
  });
  const withCreds = srv.url.replace('http://', 'http://AC123:p%40ss-s3cret@') + '?route=otp';
  try {
    await new WebhookSender({ url: withCreds }).send(message());
    assert.deepEqual(seen, [{ auth: `Basic ${Buffer.from('AC123:p@ss-s3cret').toString('base64')}`, url: '/sms?route=otp' }]);
    // an Authorization header configured as well is the one sent
    await new WebhookSender({ url: withCreds, headers: { Authorization: 'Bearer provider-token' } }).send(message());
    assert.equal(seen[1]!.auth, 'Bearer provider-token');
  } finally {
    await srv.close();
  }
  await assert.rejects(new WebhookSender({ url: withCreds }).send(message()), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'mfa.delivery-failed');
    for (let x: unknown = e; x instanceof Error; x = x.cause) {
      assert.ok(!x.message.includes('s3cret') && !String(x.stack).includes('s3cret'), x.message);
    }
    return true;
  });
});

test('attack: a sender built in code with a URL that does not parse, or whose password holds a % that encodes no UTF-8 → config.invalid, never the raw URIError or TypeError, the URL quoted nowhere', () => {
  for (const [url, expected] of [
    ['https://AC1:s3cr%zzet@sms.example/send', 'the OTP webhook URL: the user name or password holds a % that encodes no UTF-8 text: write % itself as %25, and a character outside ASCII as its UTF-8 bytes (é as %C3%A9)'],
    ['https://AC1:s3cr%E9t@sms.example/send', 'the OTP webhook URL: the user name or password holds a % that encodes no UTF-8 text: write % itself as %25, and a character outside ASCII as its UTF-8 bytes (é as %C3%A9)'],
    ['https://AC1:s3cret@sms.example:99999/send', 'the OTP webhook URL cannot be parsed'],
    ['sms.example/AC1:s3cret', 'the OTP webhook URL cannot be parsed'],
  ] as const) {
    assert.throws(
      () => new WebhookSender({ url }),
      (e: Error & { code?: string; input?: unknown }) => {
        assert.equal(e.code, 'config.invalid', String(e));
        assert.equal(e.message, expected);
        for (let x: unknown = e; x instanceof Error; x = x.cause) assert.ok(!x.message.includes('s3cr') && !String(x.stack).includes('s3cr') && !JSON.stringify(x).includes('s3cr'), x.message);
        return true;
      },
      url,
    );
  }
});

test('webhook sender: a closed port is mfa.delivery-failed', async () => {
  const srv = await httpServer((_q, _b, res) => res.end());
  const url = srv.url;
  await srv.close();
  await rejectsWith(new WebhookSender({ url }).send(message()), 'mfa.delivery-failed');
});

test('SMTP sender delivers the code by e-mail to a local SMTP server', async () => {
  const smtp = await startMiniSmtpServer();
  const sender = new SmtpSender({ host: '127.0.0.1', port: smtp.port, requireTLS: false, from: 'Portcullis <no-reply@portcullis.test>', timeoutMs: 5_000 });
  try {
    await sender.send(message({ channel: 'email', to: 'alice@example.com' }));
    assert.equal(smtp.received.length, 1);
    const mail = smtp.received[0]!;
    assert.equal(mail.from, 'no-reply@portcullis.test');
    assert.deepEqual(mail.to, ['alice@example.com']);
    assert.match(mail.data, /^Subject: Your Portcullis verification code\r?$/m);
    assert.match(mail.data, /^To: alice@example\.com\r?$/m);
    assert.match(mail.data, /493817 is your Portcullis verification code/);
  } finally {
    await sender.close();
    await smtp.close();
  }
});

test('attack: header and recipient injection through the address — the SMTP sender refuses anything but a bare address (request.invalid) before it connects', async () => {
  const smtp = await startMiniSmtpServer();
  const sender = new SmtpSender({ host: '127.0.0.1', port: smtp.port, requireTLS: false, from: 'no-reply@portcullis.test', timeoutMs: 5_000 });
  try {
    for (const to of [
      '"Urgent:call+15550100"<alice@example.com>', // a display name of the sender's choosing
      'alice@example.com(bob@evil.com)', // a comment
      'g:alice@example.com,postmaster;', // a group with a second recipient
      'alice@example.com,root', // a second, local recipient
      'alice@evil.com>.x', // an envelope address with a space in it
      'alice@example.com\r\nBcc:bob@evil.com',
    ]) {
      await assert.rejects(sender.send(message({ channel: 'email', to })), (e: { code?: string }) => e.code === 'request.invalid', to);
    }
    assert.deepEqual(smtp.commands, []);
    assert.equal(smtp.received.length, 0);
  } finally {
    await sender.close();
    await smtp.close();
  }
});

test('SMTP sender: a server that rejects the message is mfa.delivery-failed', async () => {
  const smtp = await startMiniSmtpServer();
  smtp.rejectData = true;
  const sender = new SmtpSender({ host: '127.0.0.1', port: smtp.port, requireTLS: false, from: 'no-reply@portcullis.test', timeoutMs: 5_000 });
  try {
    await assert.rejects(sender.send(message({ channel: 'email', to: 'alice@example.com' })), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'mfa.delivery-failed');
      assert.ok(!e.message.includes('493817'));
      return true;
    });
    assert.equal(smtp.received.length, 0);
  } finally {
    await sender.close();
    await smtp.close();
  }
});

test('attack: STARTTLS stripped (a server or a man in the middle that does not offer it) — the SMTP sender by default refuses with mfa.delivery-failed and sends neither AUTH nor the message', async () => {
  const smtp = await startMiniSmtpServer();
  const sender = new SmtpSender({ host: '127.0.0.1', port: smtp.port, auth: { user: 'mailer', pass: 'smtp-pass-s3cret' }, from: 'no-reply@portcullis.test', timeoutMs: 5_000 });
  try {
    await assert.rejects(sender.send(message({ channel: 'email', to: 'alice@example.com' })), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'mfa.delivery-failed');
      assert.ok(!e.message.includes('smtp-pass-s3cret'));
      return true;
    });
    assert.ok(smtp.commands.includes('EHLO'), `the sender spoke to the server: ${smtp.commands.join(' ')}`);
    for (const verb of ['AUTH', 'MAIL', 'RCPT', 'DATA']) assert.ok(!smtp.commands.includes(verb), `${verb} was sent in clear: ${smtp.commands.join(' ')}`);
    assert.equal(smtp.received.length, 0);
  } finally {
    await sender.close();
    await smtp.close();
  }
});

test('attack: a stalling SMTP server holds the sign-in — one send ends at the overall deadline with mfa.delivery-failed (timedOut) and the connection closed, however the server stalls', async () => {
  const smtp = await startMiniSmtpServer();
  // idle timeouts far longer than the deadline: only the deadline can end these sends in time
  const sender = new SmtpSender({ host: '127.0.0.1', port: smtp.port, requireTLS: false, from: 'no-reply@portcullis.test', timeoutMs: 30_000, deadlineMs: 300 });
  try {
    // accepts and never answers; then greets and answers EHLO with a reply that never ends (keeps the socket busy)
    for (const [stall, closed] of [['greeting', 1], ['ehlo', 2]] as const) {
      smtp.stall = stall;
      const started = Date.now();
      const guard = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still sending after 3 s (stall ${stall})`)), 3_000).unref());
      await assert.rejects(Promise.race([sender.send(message({ channel: 'email', to: 'alice@example.com' })), guard]), (e: { code?: string; message: string; details?: { timedOut?: boolean } }) => {
        assert.equal(e.code, 'mfa.delivery-failed', `${stall}: ${e.message}`);
        assert.equal(e.details?.timedOut, true);
        assert.match(e.message, /did not take the message within 0\.3 s/);
        for (const secret of ['493817', 'alice@example.com']) assert.ok(!e.message.includes(secret), e.message);
        return true;
      });
      const took = Date.now() - started;
      assert.ok(took >= 290 && took < 2_000, `${stall}: took ${took} ms`);
      // the sender let go of the connection (it does not linger until the server gives up)
      for (let i = 0; i < 50 && smtp.closedByClient < closed; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(smtp.closedByClient, closed, stall);
    }
    assert.ok(smtp.commands.includes('EHLO'));
    assert.equal(smtp.received.length, 0);
  } finally {
    await sender.close();
    await smtp.close();
  }
});

test('SMTP sender with requireTLS: false warns at construction for a host that is not loopback (never with the password), and not for loopback', async () => {
  const lines: string[] = [];
  const logger = createLogger('info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
  const auth = { user: 'mailer', pass: 'smtp-pass-s3cret' };
  const remote = new SmtpSender({ host: 'mail.example.com', port: 587, requireTLS: false, auth, from: 'no-reply@portcullis.test', logger });
  const loop = new SmtpSender({ host: '127.0.0.1', port: 2525, requireTLS: false, auth, from: 'no-reply@portcullis.test', logger });
  const localhost = new SmtpSender({ host: 'localhost', port: 2525, requireTLS: false, auth, from: 'no-reply@portcullis.test', logger });
  const strict = new SmtpSender({ host: 'mail.example.com', port: 587, auth, from: 'no-reply@portcullis.test', logger });
  await Promise.all([remote.close(), loop.close(), localhost.close(), strict.close()]);
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 1, lines.join(''));
  const line = JSON.parse(lines[0]!);
  assert.equal(line.level, 40);
  assert.equal(line.host, 'mail.example.com');
  assert.match(line.msg, /requireTLS/);
  assert.ok(!lines[0]!.includes('smtp-pass-s3cret'));
});
