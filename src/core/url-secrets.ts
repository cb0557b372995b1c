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
 *
 * A secret query value is quoted as written too (`Failed to parse URL from
 * https://h:99999/x?api_key=ab cd`), so it runs past spaces and quotes to the next `&` or
 * `#`, the end of a URL written in quotes or `<…>`, the start of another URL, or the end of
 * the line: prose after an unquoted URL on the same line goes with it, since nothing tells
 * it from the rest of a value with a space. A parameter that is no secret is left as it is.
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

/** A query parameter (after `?` or `&`) up to its `=`. */
const PARAM = /[?&]([^=&#?\s"'<>]+)=/g;

const SECRET_PARAM = /^(?:.*(?:password|passwd|secret|token|signature|credential)|pass|pwd|key|api[-_]?key|code|sig|auth|authorization)$/i;

/** The quote or bracket a URL may be written in, and what closes it. */
const CLOSING: Readonly<Record<string, string>> = { '"': '"', "'": "'", '`': '`', '<': '>' };

/** What ends a secret value as written: the next parameter, the fragment, the line (and the closing quote of a quoted URL). */
const VALUE_END = /[&#\r\n]/g;
const VALUE_END_IN: Readonly<Record<string, RegExp>> = Object.fromEntries(Object.values(CLOSING).map((c) => [c, new RegExp(`[&#\\r\\n${c}]`, 'g')]));

/** The start of another URL (after the spaces that end the one before). */
const NEXT_URL = /(?<!\s)\s+[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The start of the last match of a global `re` in `text` before a position, for positions
 * asked in increasing order: one pass over the text however many are asked.
 */
class LastBefore {
  private last = -1;
  /** The next match not yet passed: undefined when not looked for, null when there is none. */
  private next: number | null | undefined;

  constructor(
    private readonly re: RegExp,
    private readonly text: string,
  ) {}

  at(position: number): number {
    for (;;) {
      if (this.next === undefined) this.next = this.re.exec(this.text)?.index ?? null;
      if (this.next === null || this.next >= position) return this.last;
      this.last = this.next;
      this.next = undefined;
    }
  }
}

/** Where URLs, lines and quoted or spaced words begin, to find how the URL around a query is written. */
class UrlStarts {
  private readonly lines: LastBefore;
  private readonly schemes: LastBefore;
  private readonly edges: LastBefore;

  constructor(private readonly text: string) {
    this.lines = new LastBefore(/[\r\n]/g, text);
    this.schemes = new LastBefore(/\b[a-z][a-z0-9+.-]*:\/\//gi, text);
    this.edges = new LastBefore(/[\s"'`<]/g, text);
  }

  /** What closes the URL holding the query at `at`, when it is written in quotes or angle brackets. */
  closingOf(at: number): string | undefined {
    const line = this.lines.at(at);
    // the URL begins at its scheme, else (a path and query) after the last space or quote
    const scheme = this.schemes.at(at);
    if (scheme > line) return CLOSING[this.text[scheme - 1] ?? ''];
    const edge = this.edges.at(at);
    return edge > line ? CLOSING[this.text[edge]!] : undefined;
  }
}

/**
 * Where the value of a secret query parameter starting at `from` ends: a value as written
 * (quoted by fetch or the URL parser) may hold spaces, quotes, `?`, `/`, `=` and `@`, so it
 * runs to the next `&` or `#`, the quote or bracket closing a quoted URL, the start of
 * another URL, or the end of the line.
 */
function secretValueEnd(text: string, from: number, closing: string | undefined): number {
  const stops = closing === undefined ? VALUE_END : VALUE_END_IN[closing]!;
  stops.lastIndex = from;
  const end = stops.exec(text)?.index ?? text.length;
  const next = text.slice(from, end).search(NEXT_URL);
  return next === -1 ? end : from + next;
}

/** `text` with the value of every secret-named query parameter replaced. */
function withoutSecretParams(text: string): string {
  const starts = new UrlStarts(text);
  let out = '';
  let from = 0;
  PARAM.lastIndex = 0;
  for (let m = PARAM.exec(text); m !== null; m = PARAM.exec(text)) {
    let name = m[1]!;
    try {
      name = decodeURIComponent(name);
    } catch {
      // a broken escape: the name as written
    }
    if (!SECRET_PARAM.test(name)) continue;
    const start = m.index + m[0].length;
    const closing = starts.closingOf(m.index);
    // nothing before a space or the closing quote: an empty value, and the prose after it stays
    if (start === text.length || /[\s&#]/.test(text[start]!) || text[start] === closing) continue;
    const end = secretValueEnd(text, start, closing);
    out += text.slice(from, start) + REDACTED;
    from = end;
    PARAM.lastIndex = end;
  }
  return out + text.slice(from);
}

/**
 * `text` with the password of every URL in it, and the value of every secret-named query
 * parameter, replaced with `[redacted]`.
 *
 * @example
 * withoutUrlSecrets('cannot use postgres://portcullis:s3cret@db:5432/portcullis');
 * // 'cannot use postgres://portcullis:[redacted]@db:5432/portcullis'
 * withoutUrlSecrets('Failed to parse URL from redis://:pa ss/w@cache:6379'); // 'Failed to parse URL from redis://:[redacted]@cache:6379'
 * withoutUrlSecrets('https://idp.example/jwks?tenant=a&api_key=k1'); // 'https://idp.example/jwks?tenant=a&api_key=[redacted]'
 * withoutUrlSecrets('url "https://idp.example/jwks?api_key=k 1" refused'); // 'url "https://idp.example/jwks?api_key=[redacted]" refused'
 */
export function withoutUrlSecrets(text: string): string {
  let out = text;
  if (out.includes('@')) out = withoutPasswords(out);
  if (out.includes('=')) out = withoutSecretParams(out);
  return out;
}
