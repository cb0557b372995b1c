/**
 * The secrets a URL may carry, removed from text that is logged: the password of its
 * userinfo (RFC 3986 §3.2.1, `postgres://user:password@host`, `redis://:password@host`) and
 * the values of query parameters whose names say they hold a secret (`?api_key=…`,
 * `?access_token=…`, `?code=…`). What is left still names the scheme, user, host and path.
 */

const REDACTED = '[redacted]';

/** scheme://userinfo@ — the userinfo ends at the last @ before the path, the query or the fragment, as the URL parser ends it. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>]*)@/gi;

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
 * withoutUrlSecrets('https://idp.example/jwks?tenant=a&api_key=k1'); // 'https://idp.example/jwks?tenant=a&api_key=[redacted]'
 */
export function withoutUrlSecrets(text: string): string {
  let out = text;
  if (out.includes('@')) {
    out = out.replace(USERINFO, (all, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return colon === -1 ? all : `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@`;
    });
  }
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
