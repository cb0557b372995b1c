/**
 * E-mail sender over SMTP (RFC 5321) through nodemailer. STARTTLS is used when the
 * server offers it; `requireTLS` makes it mandatory (set it for any server not on
 * loopback).
 */
import nodemailer from 'nodemailer';
import { PortcullisError } from '../../../core/errors.js';
import type { OtpMessage, OtpSender } from './sender.js';

export interface SmtpSenderOptions {
  host: string;
  port: number;
  /** Implicit TLS (port 465); otherwise STARTTLS when offered. */
  secure?: boolean;
  requireTLS?: boolean;
  auth?: { user: string; pass: string };
  /** The From address. */
  from: string;
  /** Connection, greeting and socket timeout (default 10 s). */
  timeoutMs?: number;
  /** Accept an untrusted certificate (tests only). */
  insecureSkipVerify?: boolean;
}

export class SmtpSender implements OtpSender {
  readonly id = 'smtp';
  private readonly transport: ReturnType<typeof nodemailer.createTransport>;

  constructor(private readonly options: SmtpSenderOptions) {
    const timeout = options.timeoutMs ?? 10_000;
    this.transport = nodemailer.createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure ?? false,
      requireTLS: options.requireTLS ?? false,
      ...(options.auth ? { auth: options.auth } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      ...(options.insecureSkipVerify ? { tls: { rejectUnauthorized: false } } : {}),
    });
  }

  async send(m: OtpMessage): Promise<void> {
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
