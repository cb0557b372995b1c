/**
 * How one-time codes reach the user: senders are strategies keyed by id (`console`,
 * `file`, `smtp`, `webhook`). A sender gets the whole message and either hands it to
 * its channel or throws `mfa.delivery-failed`; it never logs the code (except the
 * console sender, which exists to show it to a developer).
 */

export type OtpChannel = 'email' | 'sms';

export interface OtpMessage {
  channel: OtpChannel;
  /** E-mail address or E.164 phone number. */
  to: string;
  /** The code itself (in `text` too), for providers that template their own message. */
  code: string;
  purpose: 'enroll' | 'sign-in';
  /** Epoch ms. */
  expiresAt: number;
  /** E-mail subject line. */
  subject: string;
  /** The message body, ready to send. */
  text: string;
}

export interface OtpSender {
  readonly id: string;
  send(message: OtpMessage): Promise<void>;
  /** Releases connections (SMTP pools); optional. */
  close?(): Promise<void>;
}
