/**
 * Binds a sign-in to the browser that proved who the user is, against session fixation
 * (OWASP Session Management: renew the identifier when the privilege level changes).
 *
 * oidc-provider's interaction cookie is made when the authorization request starts and
 * is not renewed when the user signs in, and the anti-CSRF token is one per interaction:
 * whoever started the request holds both, and can plant the cookie in another browser
 * (cookie tossing from a sibling subdomain). So the step that proves the user (the
 * password, or a passkey alone) sets a fresh secret cookie, named for the interaction,
 * whose SHA-256 the sign-in state and then the login result keep. Every later step, and
 * the resume of the authorization request, needs it: another browser holding the same
 * interaction gets `auth.signin-other-browser`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { randomId } from '../../core/ids.js';

/** What the sign-in state and the login result keep: the interaction the cookie was set for, and its value's hash. */
export interface BrowserBinding {
  uid: string;
  hash: string;
}

/** How long the cookie lives: oidc-provider's interaction lifetime (its consent step may follow the sign-in). */
const MAX_AGE_S = 3600;

/** `__Host-` (no Domain, Path=/, Secure: no sibling subdomain can set or overwrite it) when the issuer is https. */
export function bindingCookieName(uid: string, secure: boolean): string {
  return `${secure ? '__Host-' : ''}portcullis-signin-${uid}`;
}

const hashOf = (value: string): string => createHash('sha256').update(value).digest('base64url');

/**
 * Sets a fresh binding cookie for interaction `uid` on `res` (next to any cookie already
 * set) and returns what to keep. Never reuses a value the browser sends: one planted
 * there would be known to whoever planted it.
 *
 * @example
 * const browser = bindBrowser(res, details.uid, issuer.startsWith('https:'));
 */
export function bindBrowser(res: ServerResponse, uid: string, secure: boolean): BrowserBinding {
  const value = randomId(32);
  const cookie = `${bindingCookieName(uid, secure)}=${value}; Path=/; Max-Age=${MAX_AGE_S}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  const prior = res.getHeader('set-cookie');
  res.setHeader('set-cookie', [...(prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)]), cookie]);
  return { uid, hash: hashOf(value) };
}

/**
 * Whether the request carries the cookie of `binding`. Every cookie of that name counts
 * (a tossed one next to the real one does not hide it); the hashes are compared in
 * constant time.
 *
 * @example
 * if (!holdsBinding(req, st.browser, secure)) throw new PortcullisError('auth.signin-other-browser', '…');
 */
export function holdsBinding(req: IncomingMessage, binding: BrowserBinding | undefined, secure: boolean): boolean {
  if (!binding || typeof binding.uid !== 'string' || typeof binding.hash !== 'string') return false;
  const name = bindingCookieName(binding.uid, secure);
  const want = Buffer.from(binding.hash);
  let found = false;
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0 || part.slice(0, i).trim() !== name) continue;
    const got = Buffer.from(hashOf(part.slice(i + 1).trim()));
    if (got.length === want.length && timingSafeEqual(got, want)) found = true;
  }
  return found;
}
