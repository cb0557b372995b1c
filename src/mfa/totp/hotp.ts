/**
 * HOTP (RFC 4226 §5) and TOTP (RFC 6238 §4) code generation over `otpauth`, and the
 * `otpauth://` key URI (Google Authenticator's Key Uri Format) for enrolment.
 */
import { HOTP, Secret, TOTP } from 'otpauth';

export type OtpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpParams {
  algorithm: OtpAlgorithm;
  digits: number;
  /** Time step X in seconds (RFC 6238 §4.1; default 30). */
  period: number;
  /** T0, the Unix time to start counting steps from (seconds; default 0). */
  t0?: number;
}

/** RFC 4226 §4 R6 recommends a key length of 160 bits; RFC 6238 uses the hash's output size per algorithm. */
export const SEED_BYTES: Record<OtpAlgorithm, number> = { SHA1: 20, SHA256: 32, SHA512: 64 };

const toSecret = (key: Uint8Array): Secret => new Secret({ buffer: Uint8Array.from(key).buffer });

/**
 * HOTP value for `counter`.
 *
 * @example
 * hotp(new TextEncoder().encode('12345678901234567890'), 0, 'SHA1', 6); // '755224'
 */
export function hotp(key: Uint8Array, counter: number, algorithm: OtpAlgorithm = 'SHA1', digits = 6): string {
  return HOTP.generate({ secret: toSecret(key), counter, algorithm, digits });
}

/** The RFC 6238 time-step counter T = floor((unixTime - T0) / X). */
export function timeStep(timeMs: number, period: number, t0 = 0): number {
  return Math.floor((Math.floor(timeMs / 1000) - t0) / period);
}

/**
 * TOTP value at `timeMs`.
 *
 * @example
 * totp(seed, 59_000, { algorithm: 'SHA1', digits: 8, period: 30 }); // '94287082' for the RFC seed
 */
export function totp(key: Uint8Array, timeMs: number, p: TotpParams): string {
  return hotp(key, timeStep(timeMs, p.period, p.t0), p.algorithm, p.digits);
}

/** The `otpauth://totp/Issuer:label?secret=…&issuer=…&algorithm=…&digits=…&period=…` URI. */
export function otpauthUri(key: Uint8Array, issuer: string, label: string, p: TotpParams): string {
  return new TOTP({ issuer, label, secret: toSecret(key), algorithm: p.algorithm, digits: p.digits, period: p.period }).toString();
}

/** Base32 (RFC 4648) text of a seed, for users who type it in instead of scanning. */
export function base32(key: Uint8Array): string {
  return toSecret(key).base32;
}
