/**
 * Development sender: writes each message, code included, to the terminal. Never
 * configure it where real users sign in.
 */
import type { OtpMessage, OtpSender } from './sender.js';

export class ConsoleSender implements OtpSender {
  readonly id = 'console';

  constructor(private readonly write: (line: string) => void = (line) => void process.stderr.write(`${line}\n`)) {}

  async send(m: OtpMessage): Promise<void> {
    this.write(`[portcullis dev sender] ${m.channel} to ${m.to} (${m.purpose}): ${m.text}`);
  }
}
