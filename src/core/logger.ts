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
  return destination ? pino(opts, destination as pino.DestinationStream) : pino(opts);
}

export const silentLogger: Logger = pino({ level: 'silent' });
