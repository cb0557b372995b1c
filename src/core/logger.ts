/**
 * Structured JSON logs (pino). Secrets and tokens never reach a log line: known
 * secret-bearing fields are redacted, and callers log ids, never credentials.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-portcullis-admin-token"]',
  'client_secret',
  '*.client_secret',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'password',
  '*.password',
  'privateJwk',
  '*.privateJwk',
  'd',
];

export function createLogger(level: string = 'info', destination?: NodeJS.WritableStream): Logger {
  const opts = {
    level,
    base: { service: 'portcullis' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const out = (destination as pino.DestinationStream | undefined) ?? standardOutput();
  return out ? pino(opts, out) : pino(opts);
}

const drop = (): void => undefined;

/**
 * pino's default destination (standard output through sonic-boom), except that a write
 * failing with EIO, as on a terminal that hung up, ends the log the way pino ends it on
 * EPIPE: later lines are dropped. pino rethrows EIO as an uncaught error, and its flush at
 * exit then retries the lost line for ever, so a node whose terminal closed while it
 * logged could neither finish stopping nor exit. Undefined when a harness has replaced
 * `process.stdout.write` (pino then writes through it).
 */
function standardOutput(): pino.DestinationStream | undefined {
  if (process.stdout.write !== Object.getPrototypeOf(process.stdout).write) return undefined;
  const out = pino.destination({ dest: 1, sync: false });
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EIO' && e.code !== 'EPIPE') throw e;
    Object.assign(out, { write: drop, end: drop, flushSync: drop, destroy: drop });
  });
  return out;
}

export const silentLogger: Logger = pino({ level: 'silent' });
