/**
 * E-mail sender over SMTP (RFC 5321) through nodemailer. STARTTLS (RFC 3207) is
 * required by default, as in the config schema: a server that does not offer it, or a
 * man in the middle that strips it from the EHLO answer, gets neither the credentials
 * (AUTH) nor the one-time code. `requireTLS: false` must be said explicitly; for a host
 * that is not loopback it is logged as a warning when the sender is built.
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
  /** Connection, greeting and socket timeout (default 10 s). */
  timeoutMs?: number;
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
    try {
      await this.transport.sendMail({ from: this.options.from, to: m.to, subject: m.subject, text: m.text });
    } catch (e) {
      // The cause stays server-side; the message names the server, never the code.
      throw new PortcullisError('mfa.delivery-failed', `the SMTP server ${this.options.host}:${this.options.port} did not accept the message`, {
        cause: e,
      });
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
