/**
 * application/x-www-form-urlencoded bodies for the OAuth endpoints. RFC 6749 §3.1:
 * parameters MUST NOT be included more than once.
 */
import { PortcullisError } from '../core/errors.js';

export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of new URLSearchParams(body)) {
    if (k in out) throw new PortcullisError('oauth.invalid-request', `parameter ${k} is included more than once`);
    if (v !== '') out[k] = v;
  }
  return out;
}
