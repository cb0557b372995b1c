/**
 * JSON request bodies (RFC 8259) as every plane reads them: UTF-8 only (§8.1: "JSON text
 * exchanged between systems that are not part of a closed ecosystem MUST be encoded using
 * UTF-8"), so a `charset` parameter naming anything else is refused rather than read as
 * UTF-8; and object names unique (§4: "The names within an object SHOULD be unique"), so
 * `{"name":"a","name":"b"}` is refused rather than taken as its last value, which another
 * reader of the same bytes (a proxy, an audit copy) may take as its first.
 */
import type { FastifyRequest } from 'fastify';
import { PortcullisError } from '../core/errors.js';
import { refusedName } from '../core/json-names.js';

/** `charset` values of a Content-Type (RFC 9110 §8.3.1: names are case-insensitive, values may be quoted), lower-cased. */
function charsets(contentType: string | undefined): string[] {
  if (contentType === undefined) return [];
  const out: string[] = [];
  for (const m of contentType.matchAll(/;\s*charset\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/giu)) {
    const v = m[1]!;
    out.push((v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/gu, '$1') : v).toLowerCase());
  }
  return out;
}

/**
 * Refuses a Content-Type whose charset is not UTF-8 (415 `request.unsupported-media-type`, naming it).
 *
 * @example
 * checkUtf8Charset('application/json; charset=utf-16') // throws: charset utf-16 is not supported
 */
export function checkUtf8Charset(contentType: string | undefined): void {
  for (const charset of charsets(contentType)) {
    if (charset !== 'utf-8') throw new PortcullisError('request.unsupported-media-type', `charset ${charset.slice(0, 40)} is not supported: send JSON in UTF-8`);
  }
}

/**
 * A fastify content-type parser for `application/json` (`parseAs: 'string'`): a charset
 * other than UTF-8 is 415, text that is not JSON 400 `request.malformed`, a name twice in one
 * object (or `__proto__`) 400 `request.invalid` naming its path.
 * `empty` is what an empty body parses to; without it, an empty body is malformed.
 *
 * @example
 * app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser());
 */
export function jsonBodyParser(opts: { empty?: unknown } = {}) {
  const parse = (contentType: string | undefined, body: string | Buffer): unknown => {
    checkUtf8Charset(contentType);
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') {
      if ('empty' in opts) return opts.empty;
      throw new PortcullisError('request.malformed', 'empty JSON body');
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new PortcullisError('request.malformed', 'body is not valid JSON');
    }
    const refused = refusedName(text);
    if (refused !== undefined) throw new PortcullisError('request.invalid', `${refused.path}: ${refused.message}`, { details: { errors: [refused] } });
    return value;
  };
  return (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    let value: unknown;
    try {
      value = parse(req.headers['content-type'], body);
    } catch (err) {
      return done(err as Error, undefined);
    }
    done(null, value);
  };
}
