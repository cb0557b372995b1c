/**
 * E-mail sender over SMTP (RFC 5321) through nodemailer. STARTTLS (RFC 3207) is
 * required by default, as in the config schema: a server that does not offer it, or a
 * man in the middle that strips it from the EHLO answer, gets neither the credentials
 * (AUTH) nor the one-time code. `requireTLS: false` must be said explicitly; for a host
 * that is not loopback it is logged as a warning when the sender is built.
 *
 * Each send has an overall deadline (`deadlineMs`, default 10 s) over DNS, connection,
 * TLS, greeting, AUTH and the whole dialogue: the per-phase timeouts reset on every byte,
 * so a server that accepts and stalls, or answers a line at a time without end, would
 * otherwise hold the sign-in that waits for the code. Past it the connection is closed
 * and the send fails with `mfa.delivery-failed` (`details.timedOut`).
 */
import nodemailer from 'nodemailer';
import { PortcullisError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { isLoopbackHost } from './loopback.js';
import { isEmailAddress, type OtpMessage, type OtpSender } from './sender.js';

export interface SmtpSenderOptions {
  host: string;
  port: number;
  /** Implicit TLS (port 465); otherwise STARTTLS. */
  secure?: boolean;
  /** Refuse to send without STARTTLS (default true); `false` sends in clear to a server that does not offer it. */
  requireTLS?: boolean;
  auth?: { user: string; pass: string };
  /** The From address. */
  from: string;
  /** Connection, greeting and socket (idle) timeout (default 10 s). */
  timeoutMs?: number;
  /** Longest one message may take from the start of the send until the server took it (default 10 s). */
  deadlineMs?: number;
  /** Accept an untrusted certificate (tests only). */
  insecureSkipVerify?: boolean;
  /** Where the plaintext warning goes (default: a process warning). */
  logger?: Logger;
}

export class SmtpSender implements OtpSender {
  readonly id = 'smtp';
  private readonly transport: ReturnType<typeof nodemailer.createTransport>;

  /**
   * @example new SmtpSender({ host: 'smtp.example.com', port: 587, auth: { user, pass }, from: 'Portcullis <no-reply@example.com>' })
   */
  constructor(private readonly options: SmtpSenderOptions) {
    const timeout = options.timeoutMs ?? 10_000;
    const secure = options.secure ?? false;
    const requireTLS = options.requireTLS !== false;
    if (!secure && !requireTLS && !isLoopbackHost(options.host)) {
      const msg = 'SMTP sender with requireTLS false: one-time codes and SMTP credentials go in clear to a server that does not offer STARTTLS';
      if (options.logger) options.logger.warn({ host: options.host, port: options.port }, msg);
      else process.emitWarning(`${msg} (${options.host}:${options.port})`, { code: 'PORTCULLIS_SMTP_PLAINTEXT' });
    }
    this.transport = nodemailer.createTransport({
      host: options.host,
      port: options.port,
      secure,
      requireTLS,
      ...(options.auth ? { auth: options.auth } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      ...(options.insecureSkipVerify ? { tls: { rejectUnauthorized: false } } : {}),
    });
  }

  async send(m: OtpMessage): Promise<void> {
    // nodemailer parses `to` as an address list: only a bare address stays one recipient with no text around it
    if (!isEmailAddress(m.to)) throw new PortcullisError('request.invalid', 'the recipient is not a bare e-mail address');
    const deadlineMs = this.options.deadlineMs ?? 10_000;
    // nodemailer closes the connection when the signal aborts, at whatever stage the send is
    const deadline = AbortSignal.timeout(deadlineMs);
    try {
      await this.transport.sendMail({ from: this.options.from, to: m.to, subject: m.subject, text: m.text, signal: deadline });
    } catch (e) {
      const timedOut = deadline.aborted;
      const server = `${this.options.host}:${this.options.port}`;
      // The cause stays server-side; the message names the server, never the code or the recipient.
      throw new PortcullisError('mfa.delivery-failed', timedOut ? `the SMTP server ${server} did not take the message within ${deadlineMs / 1000} s` : `the SMTP server ${server} did not accept the message`, {
        cause: e,
        details: { timedOut },
      });
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
