/**
 * application/x-www-form-urlencoded bodies for the OAuth endpoints. RFC 6749 §3.1:
 * "Parameters sent without a value MUST be treated as if they were omitted from the request";
 * "Request and response parameters MUST NOT be included more than once", with or without a value.
 * RFC 8707 §2: `resource` "MAY be repeated"; this server issues a token for one resource.
 */
import { PortcullisError } from '../core/errors.js';
import { ONE_RESOURCE } from '../tokens/issue.js';

/** The parameters that name the resource a token is for: RFC 8707's, and `audience`, its alias here. */
export const TARGET_PARAMETERS: ReadonlySet<string> = new Set(['resource', 'audience']);

/**
 * The parameters of a form body, empty ones left out; a name given twice throws
 * `oauth.invalid-request`, or `oauth.invalid-target` for `resource` and `audience` when
 * `oneTarget` (the token endpoint).
 * @example parseForm('grant_type=client_credentials&scope=') // { grant_type: 'client_credentials' }
 */
export function parseForm(body: string, opts: { oneTarget?: boolean } = {}): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const seen = new Set<string>();
  for (const [k, v] of new URLSearchParams(body)) {
    if (seen.has(k)) {
      if (opts.oneTarget === true && TARGET_PARAMETERS.has(k)) throw new PortcullisError('oauth.invalid-target', `${k} is included more than once: ${ONE_RESOURCE}`);
      throw new PortcullisError('oauth.invalid-request', `parameter ${k} is included more than once`);
    }
    seen.add(k);
    if (v !== '') out[k] = v;
  }
  return out;
}
