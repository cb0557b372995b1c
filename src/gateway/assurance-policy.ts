/**
 * Step-up authentication at the gateway (RFC 9470, OAuth 2.0 Step Up Authentication
 * Challenge). A route may require that the user behind a token completed a second
 * factor (`mfa`), reached one of a set of authentication context classes (`acr`), or
 * signed in recently enough (`maxAge`). A token that does not prove it is refused with
 * `token.insufficient-user-authentication`, whose details carry the `acr_values` and
 * `max_age` the client must ask for at the authorization endpoint.
 *
 * Pure: reads only the verified claims, the requirement and the time it is given.
 */
import { PortcullisError } from '../core/errors.js';

/** The `acr` Portcullis puts in tokens after a password and a second factor (or a user-verifying passkey). */
export const ACR_MFA = 'urn:portcullis:acr:mfa';
/** The `acr` after a single factor (password, or a passkey without user verification). */
export const ACR_SINGLE_FACTOR = 'urn:portcullis:acr:1fa';

/** RFC 8176 method references that count as a factor beyond a password. */
const SECOND_FACTOR_AMR = new Set(['otp', 'sms', 'hwk', 'swk', 'fpt', 'face', 'iris', 'retina', 'vbm', 'pin', 'sc']);

/** RFC 8176 method references that are each one authentication factor (the second-factor ones, a password, a user-verification test). */
const FACTOR_AMR = new Set([...SECOND_FACTOR_AMR, 'pwd', 'kba', 'user', 'tel', 'wia']);

/**
 * Methods that name the same factor as another: `sms` is the channel of a one-time code
 * (`otp`), so `["sms", "otp"]` (how Portcullis names a texted code) is one factor.
 */
const SAME_FACTOR_AS: Readonly<Record<string, string>> = { sms: 'otp' };

export interface AssuranceRequirement {
  /** The token must prove a second factor. */
  mfa?: boolean;
  /** The token `acr` must be one of these. */
  acr?: string[];
  /** The user must have authenticated at most this long ago (ms), by `auth_time`. */
  maxAge?: number;
}

/** What the WWW-Authenticate challenge carries (RFC 9470 §3). */
export interface StepUpChallenge {
  acrValues?: string[];
  /** Seconds. */
  maxAge?: number;
}

/**
 * Whether the claims prove more than one factor: the MFA `acr`, the RFC 8176 `mfa`
 * method, or a second-factor method beside another factor. One method alone is one
 * factor, however strong (an issuer's passwordless sign-in by code says `["otp"]`, or
 * `["sms", "otp"]` for a texted one).
 */
export function provesMfa(claims: Readonly<Record<string, unknown>>): boolean {
  if (claims['acr'] === ACR_MFA) return true;
  const amr = claims['amr'];
  if (!Array.isArray(amr)) return false;
  if (amr.includes('mfa')) return true;
  let second: string | undefined;
  let other: string | undefined;
  for (const method of amr) {
    if (typeof method !== 'string' || !FACTOR_AMR.has(method)) continue;
    const m = SAME_FACTOR_AS[method] ?? method;
    if (second === undefined && SECOND_FACTOR_AMR.has(m)) second = m;
    else if (m !== second) other ??= m;
  }
  return second !== undefined && other !== undefined;
}

/**
 * Throws `token.insufficient-user-authentication` when the claims do not meet the
 * requirement; its `details` are a StepUpChallenge. `leewayMs` is the gateway's clock
 * leeway: an `auth_time` later than now + leeway proves no age at all.
 *
 * @example
 * checkAssurance(verified.claims, { mfa: true, maxAge: 15 * 60_000 }, clock.now(), cfg.tokens.leeway);
 */
export function checkAssurance(claims: Readonly<Record<string, unknown>>, req: AssuranceRequirement, nowMs: number, leewayMs = 0): void {
  const acrValues = req.acr?.length ? req.acr : req.mfa ? [ACR_MFA] : undefined;
  const maxAgeS = req.maxAge === undefined ? undefined : Math.floor(req.maxAge / 1000);
  const deny = (why: string): never => {
    const details: StepUpChallenge = {};
    if (acrValues) details.acrValues = acrValues;
    if (maxAgeS !== undefined) details.maxAge = maxAgeS;
    throw new PortcullisError('token.insufficient-user-authentication', why, { details: details as Record<string, unknown> });
  };
  if (req.mfa && !provesMfa(claims)) deny('the route requires multi-factor authentication');
  if (req.acr?.length) {
    const acr = claims['acr'];
    if (typeof acr !== 'string' || !req.acr.includes(acr)) deny('the token acr is not one the route accepts');
  }
  if (maxAgeS !== undefined) {
    const authTime = claims['auth_time'];
    // RFC 9470 §4: without auth_time the age of the authentication cannot be known.
    if (typeof authTime !== 'number' || !Number.isFinite(authTime)) deny('the token carries no auth_time');
    else if ((authTime as number) * 1000 > nowMs + leewayMs) deny('the token auth_time is in the future');
    else if (nowMs / 1000 - (authTime as number) > maxAgeS) deny('the authentication is older than the route allows');
  }
}

/** RFC 6750 §3 quoted-string safe characters. */
function quotedSafe(s: string): string {
  return s.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '');
}

/**
 * The WWW-Authenticate value for a `token.insufficient-user-authentication` denial.
 *
 * @example
 * // Bearer realm="portcullis", error="insufficient_user_authentication", error_description="…", acr_values="urn:portcullis:acr:mfa", max_age=900
 * res.setHeader('www-authenticate', stepUpChallenge(err, 'portcullis'));
 */
export function stepUpChallenge(err: PortcullisError, realm: string): string {
  const d = (err.details ?? {}) as StepUpChallenge;
  let v = `Bearer realm="${realm}", error="insufficient_user_authentication", error_description="${quotedSafe(err.message)}"`;
  if (d.acrValues?.length) v += `, acr_values="${quotedSafe(d.acrValues.join(' '))}"`;
  if (typeof d.maxAge === 'number') v += `, max_age=${d.maxAge}`;
  return v;
}
