/**
 * The secrets a URL may carry, removed from text that is logged: the password of its
 * userinfo (RFC 3986 §3.2.1, `postgres://user:password@host`, `redis://:password@host`) and
 * the values of query parameters whose names say they hold a secret (`?api_key=…`,
 * `?access_token=…`, `?code=…`). What is left still names the scheme, user, host and path.
 *
 * A password is often quoted as written in a configuration, not percent-encoded: fetch
 * ("Request cannot be constructed from a URL that includes credentials: …", "Failed to parse
 * URL from …") and the URL parser's `input` (ioredis) repeat it with its spaces, `/`, `?`,
 * `#`, `@` and quotes. So the password runs from `scheme://user:` to the `@` before the host,
 * on one line: the first `@host` followed by a path, query, fragment or port, else the last
 * `@host` the text, a space or a quote ends. A `host:port` (digits) is no password.
 */

const REDACTED = '[redacted]';

/** scheme://user: — where a password would begin (a user may hold an @ when a URL is quoted percent-decoded). */
const USERINFO_START = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s:/?#"'<>]*:/gi;

/** A port (or nothing) then the end of the authority: `host:6379/0`, `host: refused`, not a password. */
const PORT = /^\d*(?:[/?#\s"'<>]|$)/;

/** `@host` or `@host:port` (a registered name or an IP literal). */
const AT_HOST = /@(\[[0-9A-Fa-f:.]*\]|[\w.~%-]*)(:\d*)?/g;

/** What may follow a host that ends a URL, besides a path, query or fragment. */
const AFTER_URL = /[\s"'<>),;\]]/;

/** How far a password is looked for: a userinfo is short, a log line may not be. */
const MAX_PASSWORD = 4096;

/** The length of the password at the start of `rest` (what follows `scheme://user:`), or undefined when none ends there. */
function passwordLength(rest: string): number | undefined {
  let last: number | undefined;
  for (const m of rest.matchAll(AT_HOST)) {
    const at = m.index;
    // never across the start of another URL
    if (rest.lastIndexOf('://', at) !== -1) break;
    const next = rest[at + m[0].length];
    const ends = next === undefined || AFTER_URL.test(next);
    if ((next !== undefined && '/?#'.includes(next)) || (m[2] !== undefined && ends)) return at;
    if (ends && m[1] !== '') last = at;
  }
  return last;
}

/** `text` with the password of every `scheme://user:password@host` in it replaced. */
function withoutPasswords(text: string): string {
  let out = '';
  let from = 0;
  USERINFO_START.lastIndex = 0;
  for (let m = USERINFO_START.exec(text); m !== null; m = USERINFO_START.exec(text)) {
    const start = m.index + m[0].length;
    let rest = text.slice(start, start + MAX_PASSWORD);
    rest = rest.slice(0, rest.search(/[\r\n]|$/));
    // a URL in quotes ends at the closing quote
    const quote = text[m.index - 1];
    if (quote === '"' || quote === "'" || quote === '`') rest = rest.slice(0, rest.includes(quote) ? rest.indexOf(quote) : rest.length);
    if (PORT.test(rest)) continue;
    const length = passwordLength(rest);
    if (length === undefined) continue;
    out += text.slice(from, start) + REDACTED;
    from = start + length;
    USERINFO_START.lastIndex = from;
  }
  return out + text.slice(from);
}

/** A query parameter (after `?` or `&`) and its value. */
const PARAM = /([?&])([^=&#\s"'<>]+)=([^&#\s"'<>]*)/g;

const SECRET_PARAM = /^(?:.*(?:password|passwd|secret|token|signature|credential)|pass|pwd|key|api[-_]?key|code|sig|auth|authorization)$/i;

/**
 * `text` with the password of every URL in it, and the value of every secret-named query
 * parameter, replaced with `[redacted]`.
 *
 * @example
 * withoutUrlSecrets('cannot use postgres://portcullis:s3cret@db:5432/portcullis');
 * // 'cannot use postgres://portcullis:[redacted]@db:5432/portcullis'
 * withoutUrlSecrets('Failed to parse URL from redis://:pa ss/w@cache:6379'); // 'Failed to parse URL from redis://:[redacted]@cache:6379'
 * withoutUrlSecrets('https://idp.example/jwks?tenant=a&api_key=k1'); // 'https://idp.example/jwks?tenant=a&api_key=[redacted]'
 */
export function withoutUrlSecrets(text: string): string {
  let out = text;
  if (out.includes('@')) out = withoutPasswords(out);
  if (out.includes('=')) {
    out = out.replace(PARAM, (all, sep: string, name: string, value: string) => {
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // a broken escape: the name as written
      }
      return value !== '' && SECRET_PARAM.test(decoded) ? `${sep}${name}=${REDACTED}` : all;
    });
  }
  return out;
}
