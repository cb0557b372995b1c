/**
 * The PostgreSQL (`store`) and Redis (`ephemeral`) URLs, parsed when the configuration loads
 * as their drivers parse them at start (pg-connection-string, ioredis's parseURL: the WHATWG
 * URL parser, RFC 3986 authority), so a URL start would refuse is refused by `config check`
 * too, with the options of a PostgreSQL URL's query pg would throw for or misread; the OTP
 * webhook URL's credentials are decoded the same way (`userinfoProblem`). A
 * problem is described, never quoted: the URL holds the store's password.
 */
import { closeSync, openSync, statSync } from 'node:fs';

const PG_FORM = 'not a usable PostgreSQL URL (postgres://user:password@host:port/database)';
const REDIS_FORM = 'not a usable Redis URL (redis://user:password@host:port/db)';

const BAD_PORT = 'the port is not a number from 1 to 65535';
const ENCODE = 'a /, ? or # in the user name or password must be percent-encoded (%2F, %3F, %23)';
/** decodeURIComponent throws a raw `URIError: URI malformed` for a % that starts no escape, or escapes that are no UTF-8. */
const UNDECODABLE = 'a % that encodes no UTF-8 text: write % itself as %25, and a character outside ASCII as its UTF-8 bytes (é as %C3%A9)';

function decodes(text: string, decode: (s: string) => string = decodeURIComponent): boolean {
  try {
    decode(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why the user name or password of `u` cannot be decoded as pg, ioredis and the OTP webhook
 * sender decode them (decodeURIComponent), or undefined.
 *
 * @example
 * userinfoProblem(new URL('https://AC1:s3cr%E9t@sms.example/')); // 'the user name or password holds a % that encodes no UTF-8 text: …'
 */
export function userinfoProblem(u: URL): string | undefined {
  return decodes(u.username) && decodes(u.password) ? undefined : `the user name or password holds ${UNDECODABLE}`;
}

/**
 * `url` with its scheme in lower case, the rest as written. A scheme is case-insensitive
 * (RFC 3986 §3.1) and pg and ioredis parse any case, but ioredis turns TLS on only for a URL
 * that starts with a lower-case `rediss://`: `REDISS://` would connect in clear.
 *
 * @example
 * lowerScheme('REDISS://cache:6380'); // 'rediss://cache:6380'
 */
export function lowerScheme(url: string): string {
  return url.replace(/^[a-z][a-z\d+.-]*:/i, (scheme) => scheme.toLowerCase());
}

/**
 * Why `url` cannot be parsed, from its authority: a port that is no number from 1 to 65535,
 * else what most often breaks a URL written by hand, an unencoded `/`, `?` or `#` in the password.
 */
function unparsable(url: string): string {
  const rest = url.slice(url.indexOf('://') + 3);
  const authority = rest.slice(0, rest.search(/[/?#]|$/));
  const at = authority.lastIndexOf('@');
  // only after the userinfo: before an @, a "port" may be the start of a password
  if (at !== -1 || !rest.includes('@')) {
    const port = /^(?:\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(authority.slice(at + 1))?.[1];
    if (port !== undefined && port !== '' && !(/^\d{1,5}$/.test(port) && Number(port) <= 65535)) return BAD_PORT;
  }
  return `it cannot be parsed: ${ENCODE}, and a port is a number from 1 to 65535`;
}

/** Problems both drivers share, on the URL as parsed and as written. */
function parsedProblem(url: string, u: URL): string | undefined {
  if (u.port === '0') return BAD_PORT;
  // an @ the parser left in the path, query or fragment: most likely the end of a password holding a / ? or #
  const rest = url.slice(url.indexOf('://') + 3);
  if (rest.slice(rest.search(/[/?#]|$/)).includes('@')) return `an @ after the host: ${ENCODE}, as must an @ in the path or the query (%40)`;
  return undefined;
}

const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];
const SSL_FLAGS = ['true', '1', '0', 'no-verify'];

/** Why the file pg reads with readFileSync when it connects cannot be read: an error code, or undefined. */
function unreadableFile(path: string): string | undefined {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return 'EISDIR';
    // a FIFO or a device may block an open: only a regular file is opened here
    if (st.isFile()) closeSync(openSync(path, 'r'));
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'unreadable';
  }
}

/**
 * Why the query of a PostgreSQL URL would make pg throw at start (sslnegotiation, a TLS file
 * it cannot read) or misread what was meant (an sslmode or ssl value it takes for TLS with
 * full verification, a port that is no number, statement_timeout replacing
 * `postgres.statementTimeout`), or undefined. A value is never quoted: one may be the password.
 */
function postgresOptionsProblem(params: URLSearchParams): string | undefined {
  // as pg-connection-string: the last of a repeated option wins, an empty one is absent
  const o = new Map<string, string>();
  for (const [k, v] of params) o.set(k, v);
  const set = (k: string): string | undefined => (o.get(k) ? o.get(k) : undefined);
  const sslmode = set('sslmode');
  if (sslmode !== undefined && !SSLMODES.includes(sslmode)) return `the sslmode option is none of ${SSLMODES.join(', ')}`;
  const ssl = set('ssl');
  if (ssl !== undefined && !SSL_FLAGS.includes(ssl)) return `the ssl option is none of ${SSL_FLAGS.join(', ')} (pg turns TLS on for any other value, false included: write ssl=0 or sslmode=disable to turn it off)`;
  const port = set('port');
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) return 'the port option is not a number from 1 to 65535';
  if (/[\s\x00-\x1f\x7f]/.test(set('host') ?? '')) return 'the host option holds a space or a control character';
  const negotiation = set('sslnegotiation');
  if (negotiation !== undefined && negotiation !== 'postgres' && negotiation !== 'direct') return 'the sslnegotiation option is none of postgres, direct';
  if (negotiation === 'direct' && (sslmode === 'disable' || ssl === '0')) return 'sslnegotiation=direct needs TLS, which sslmode=disable or ssl=0 turns off';
  for (const option of ['sslcert', 'sslkey', 'sslrootcert']) {
    const path = set(option);
    const code = path === undefined ? undefined : unreadableFile(path);
    if (code !== undefined) return `the ${option} option names no file this process can read (${code}; a relative path is read from the working directory)`;
  }
  if (set('uselibpqcompat') === 'true' && sslmode === 'verify-ca' && set('sslrootcert') === undefined) return "sslmode=verify-ca with uselibpqcompat=true needs sslrootcert, the CA that signed the server's certificate";
  // even empty: pg then sets no statement_timeout at all
  if (o.has('statement_timeout')) return 'the statement_timeout option would replace postgres.statementTimeout: set that instead';
  return undefined;
}

/**
 * Why `url` (postgres:// or postgresql://) is no PostgreSQL URL pg can use, or undefined.
 *
 * @example
 * postgresUrlProblem('postgres://u:pw@db:99999/x'); // 'not a usable PostgreSQL URL (…): the port is not a number from 1 to 65535'
 */
export function postgresUrlProblem(url: string): string | undefined {
  // as pg-connection-string: a space or a % that encodes nothing is encoded first, an empty host stands for the default one
  const text = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(url) ? encodeURI(url).replace(/%25(\d\d)/g, '%$1') : url;
  let u: URL;
  try {
    u = URL.canParse(text) ? new URL(text) : new URL(text.replace('@/', '@___DUMMY___/'));
  } catch {
    return `${PG_FORM}: ${unparsable(url)}`;
  }
  const problem = parsedProblem(url, u) ?? userinfoProblem(u);
  if (problem !== undefined) return `${PG_FORM}: ${problem}`;
  // pg decodes the host with decodeURIComponent and the database with decodeURI, both throwing URIError
  if (!decodes(u.hostname)) return `${PG_FORM}: the host name holds ${UNDECODABLE}`;
  if (!decodes(u.pathname, decodeURI)) return `${PG_FORM}: the database name holds ${UNDECODABLE}`;
  if (/[\s\x00-\x1f\x7f]/.test(decodeURIComponent(u.hostname))) return `${PG_FORM}: the host name holds a space or a control character`;
  const option = postgresOptionsProblem(u.searchParams);
  return option === undefined ? undefined : `${PG_FORM}: ${option}`;
}

/**
 * Why `url` (redis:// or rediss://) is no Redis URL ioredis can use, or undefined.
 *
 * @example
 * redisUrlProblem('redis://cache:6379/sessions'); // 'not a usable Redis URL (…): the database (the path) must be a number, e.g. redis://cache:6379/0'
 */
export function redisUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${REDIS_FORM}: ${unparsable(url)}`;
  }
  const problem = parsedProblem(url, u) ?? userinfoProblem(u);
  if (problem !== undefined) return `${REDIS_FORM}: ${problem}`;
  if (!/^(?:\/\d*)?$/.test(u.pathname)) return `${REDIS_FORM}: the database (the path) must be a number, e.g. redis://cache:6379/0`;
  return undefined;
}
