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

/**
 * A bare e-mail address (RFC 5321 Mailbox, dot-atom local part, RFC 6531 letters
 * allowed), at most 254 characters: no display name, comment, group, quoted local part,
 * list or line break, which a mail library would otherwise read as structure (another
 * recipient, a To header text of the user's choosing) rather than as one address.
 *
 * @example
 * isEmailAddress('alice@example.com'); // true
 * isEmailAddress('"Call us"<alice@example.com>'); // false
 */
export function isEmailAddress(s: string): boolean {
  return s.length <= 254 && /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+$/u.test(s);
}
