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
import { issuePath } from '../core/config/load.js';

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

interface Frame {
  /** Names seen in an object; null in an array. */
  names: Set<string> | null;
  /** The name or index this value sits at in its parent (absent at the root). */
  at?: string | number;
  /** The name of the member being read (objects), or the index of the element (arrays). */
  current: string | number;
}

/**
 * The first object name that is refused, with its path, or undefined: a name that occurs
 * twice in one object (at any depth), `__proto__`, or `prototype` in a `constructor` object
 * (names a later merge into another object would turn into its prototype). `text` must be
 * valid JSON (parse it first). One pass, no recursion (a body may nest 100 000 deep):
 * strings are skipped with indexOf, and a name is decoded only when it has an escape, so
 * `"n\u0061me"` and `"name"` are the same name.
 *
 * @example
 * refusedName('{"a":[{"b":1,"b":2}]}') // { path: 'a[0].b', message: 'duplicate key' }
 */
export function refusedName(text: string): { path: string; message: string } | undefined {
  const stack: Frame[] = [];
  const pathTo = (name: string) => issuePath([...stack.flatMap((f) => (f.at === undefined ? [] : [f.at])), name]);
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (expectName) {
        const top = stack[stack.length - 1]!;
        const raw = text.slice(i + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (top.names!.has(name)) return { path: pathTo(name), message: 'duplicate key' };
        if (name === '__proto__' || (name === 'prototype' && top.at === 'constructor')) return { path: pathTo(name), message: 'key not allowed' };
        top.names!.add(name);
        top.current = name;
        expectName = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const parent = stack[stack.length - 1];
      stack.push({ names: c === 0x7b ? new Set() : null, ...(parent ? { at: parent.current } : {}), current: 0 });
      expectName = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectName = false;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1]!;
      if (top.names === null) (top.current as number)++;
      else expectName = true;
    }
  }
  return undefined;
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
