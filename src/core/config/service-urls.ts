/**
 * The PostgreSQL (`store`) and Redis (`ephemeral`) URLs, parsed when the configuration loads
 * as their drivers parse them at start (pg-connection-string, ioredis's parseURL: the WHATWG
 * URL parser, RFC 3986 authority), so a URL start would refuse is refused by `config check`
 * too. A problem is described, never quoted: the URL holds the store's password.
 */

const PG_FORM = 'not a usable PostgreSQL URL (postgres://user:password@host:port/database)';
const REDIS_FORM = 'not a usable Redis URL (redis://user:password@host:port/db)';

const BAD_PORT = 'the port is not a number from 1 to 65535';
const ENCODE = 'a /, ? or # in the user name or password must be percent-encoded (%2F, %3F, %23)';

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
  const problem = parsedProblem(url, u);
  if (problem !== undefined) return `${PG_FORM}: ${problem}`;
  let host: string;
  try {
    host = decodeURIComponent(u.hostname);
  } catch {
    host = u.hostname;
  }
  if (/[\s\x00-\x1f\x7f]/.test(host)) return `${PG_FORM}: the host name holds a space or a control character`;
  return undefined;
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
  const problem = parsedProblem(url, u);
  if (problem !== undefined) return `${REDIS_FORM}: ${problem}`;
  try {
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
  } catch {
    return `${REDIS_FORM}: the user name or password holds a % that starts no percent-encoding (write % as %25)`;
  }
  if (!/^(?:\/\d*)?$/.test(u.pathname)) return `${REDIS_FORM}: the database (the path) must be a number, e.g. redis://cache:6379/0`;
  return undefined;
}
