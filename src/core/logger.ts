/**
 * Structured JSON logs (pino). Secrets and tokens never reach a log line: known
 * secret-bearing fields are redacted, callers log ids, never credentials, and the secrets
 * a URL may carry (a password in its userinfo, a secret-named query parameter) are
 * removed from every string of a line, an error's message, stack and own properties
 * included (`withoutUrlSecrets`), wherever a driver or fetch quotes the URL.
 */
import { pino, type Logger } from 'pino';
import { withoutUrlSecrets } from './url-secrets.js';

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

/** How deep into a logged object strings are looked at; log fields are a level or two deep. */
const SCRUB_DEPTH = 6;

/** `v` with `withoutUrlSecrets` applied to every string in it (plain objects and arrays copied, never changed). */
function scrubbed(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return withoutUrlSecrets(v);
  if (v === null || typeof v !== 'object' || depth >= SCRUB_DEPTH) return v;
  if (Array.isArray(v)) return v.map((x) => scrubbed(x, depth + 1));
  const proto = Object.getPrototypeOf(v) as unknown;
  // an Error is the err serializer's (below); other class instances are left as they are
  if (proto !== Object.prototype && proto !== null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = scrubbed(x, depth + 1);
  return out;
}

/** pino's error serializer (type, message and stack with their causes', own properties), then scrubbed. */
function serializeError(e: unknown): unknown {
  if (!(e instanceof Error)) return scrubbed(e);
  return scrubbed({ ...pino.stdSerializers.err(e) });
}

export function createLogger(level: string = 'info', destination?: NodeJS.WritableStream): Logger {
  const opts: pino.LoggerOptions = {
    level,
    base: { service: 'portcullis' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
    formatters: { log: (o) => scrubbed(o) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? withoutUrlSecrets(a) : a)) as Parameters<typeof method>);
      },
    },
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
