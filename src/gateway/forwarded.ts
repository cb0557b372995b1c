/**
 * What a trusted proxy's X-Forwarded-Proto becomes upstream (gateway.ts), read as the
 * identity plane reads it (http/forwarded-headers.ts, http/host-header.ts): one value, the
 * proxy's own. A proxy that appends to what its client sent writes
 * `X-Forwarded-Proto: <client's>, <its own>`, and Express's `req.protocol` (with trust
 * proxy), Rack and others read the first value, so passing the list on let a client on
 * plain http claim https to the upstream.
 */
import { PortcullisError } from '../core/errors.js';

const SCHEME = /^https?$/i;

/**
 * The scheme a trusted proxy stated in X-Forwarded-Proto (every line joined): its last
 * value, in lower case; throws `request.malformed` unless every value is `http` or `https`
 * (any case), as the identity plane refuses them.
 *
 * @example forwardedScheme('https, http') // 'http'
 */
export function forwardedScheme(field: string): string {
  let from = 0;
  for (;;) {
    const comma = field.indexOf(',', from);
    const v = (comma === -1 ? field.slice(from) : field.slice(from, comma)).trim();
    if (!SCHEME.test(v)) throw new PortcullisError('request.malformed', 'invalid X-Forwarded-Proto header');
    if (comma === -1) return v.toLowerCase();
    from = comma + 1;
  }
}
