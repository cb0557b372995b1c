/**
 * application/x-www-form-urlencoded bodies for the OAuth endpoints. RFC 6749 §3.1:
 * "Parameters sent without a value MUST be treated as if they were omitted from the request";
 * "Request and response parameters MUST NOT be included more than once", with or without a value.
 */
import { PortcullisError } from '../core/errors.js';

/**
 * The parameters of a form body, empty ones left out; a name given twice throws
 * `oauth.invalid-request`.
 * @example parseForm('grant_type=client_credentials&scope=') // { grant_type: 'client_credentials' }
 */
export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const seen = new Set<string>();
  for (const [k, v] of new URLSearchParams(body)) {
    if (seen.has(k)) throw new PortcullisError('oauth.invalid-request', `parameter ${k} is included more than once`);
    seen.add(k);
    if (v !== '') out[k] = v;
  }
  return out;
}
