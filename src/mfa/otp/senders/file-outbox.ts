/**
 * Test sender: appends each message as one JSON line to an outbox file (mode 0600),
 * where end-to-end tests read the code a user would have received. A file that exists
 * with a wider mode is narrowed to 0600 before a code goes in, and a symlink in its
 * place is refused (O_NOFOLLOW), so other local users cannot read the codes.
 */
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import type { Clock } from '../../../core/clock.js';
import { systemClock } from '../../../core/clock.js';
import type { OtpMessage, OtpSender } from './sender.js';

export interface OutboxEntry extends OtpMessage {
  sentAt: number;
}

export class FileOutboxSender implements OtpSender {
  readonly id = 'file';

  constructor(
    readonly path: string,
    private readonly clock: Clock = systemClock,
  ) {}

  async send(m: OtpMessage): Promise<void> {
    const entry: OutboxEntry = { ...m, sentAt: this.clock.now() };
    const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = constants;
    const fh = await open(this.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600);
    try {
      if (((await fh.stat()).mode & 0o077) !== 0) await fh.chmod(0o600);
      // One write per line: O_APPEND writes of a small line do not interleave.
      await fh.write(`${JSON.stringify(entry)}\n`, null, 'utf8');
    } finally {
      await fh.close();
    }
  }
}

/**
 * Every message in an outbox, oldest first (an empty list when the file does not exist).
 *
 * @example
 * const last = (await readOutbox(path)).findLast((m) => m.to === 'alice@example.com');
 */
export async function readOutbox(path: string): Promise<OutboxEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as OutboxEntry);
}
