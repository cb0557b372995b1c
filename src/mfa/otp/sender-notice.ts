/**
 * What an operator is told about `identity.otp.sender`, once at start (pino, by the node
 * that serves sign-ins) and by `portcullis config check`, in the same words:
 * - `none` (the default): the code factor is off, and why;
 * - `console` and `file`: codes go somewhere no user reads them (stderr, and so the
 *   logs; a file), which is for development and tests only: a warning.
 * A real sender (`smtp`, `webhook`) needs no notice.
 */
import type { Config } from '../../core/config/schema.js';

export interface OtpSenderNotice {
  level: 'info' | 'warn';
  message: string;
}

/**
 * @param outbox the `file` sender's outbox, resolved against the config directory
 * @example
 * const n = otpSenderNotice(config.identity.otp, resolveIn(dir, config.identity.otp.file));
 * if (n) logger[n.level](n.message);
 */
export function otpSenderNotice(otp: Pick<Config['identity']['otp'], 'sender' | 'channel'>, outbox: string): OtpSenderNotice | undefined {
  switch (otp.sender) {
    case 'none': {
      const what = otp.channel === 'sms' ? 'by text message' : 'by e-mail';
      const senders = otp.channel === 'sms' ? 'webhook' : 'smtp or webhook';
      return { level: 'info', message: `one-time codes ${what} are off: no sender is configured (identity.otp.sender is none); set identity.otp.sender to ${senders} to offer them` };
    }
    case 'console':
      return { level: 'warn', message: "identity.otp.sender is console: every one-time code is printed to this node's stderr, into its logs: for development only, never where real users sign in" };
    case 'file':
      return { level: 'warn', message: `identity.otp.sender is file: one-time codes are written to ${outbox}, not delivered to anyone: for trying Portcullis out and tests only` };
    default:
      return undefined;
  }
}
