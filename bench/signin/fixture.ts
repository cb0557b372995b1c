/**
 * What the sign-in benchmark's processes share: the fixture the node writes, and RFC
 * 6238 codes for its users (SHA-1, 6 digits, 30 s: the node's TOTP defaults).
 */
import { Secret } from 'otpauth';
import { hotp } from '../../src/mfa/totp/hotp.js';

/** An absolute URI: RFC 8707 resource indicators must be. */
export const AUDIENCE = 'https://api.bench.portcullis.test';
export const REDIRECT = 'http://127.0.0.1:9/cb';
export const PASSWORD = 'plum tractor velvet orbit';
export const PERIOD_MS = 30_000;

export interface SigninFixture {
  issuer: string;
  gatewayUrl: string;
  clientId: string;
  clientSecret: string;
  /** A client_credentials access token for the gateway route (the same one on every request: cache hits). */
  token: string;
  users: { email: string; totpSecret: string }[];
  /** The node's directory (config, SQLite file, master key): a gateway-only node can start on it (signin/gateway-node.ts). */
  dir: string;
  /** The node's config file text. */
  config: string;
}

/** The time step of `nowMs`. */
export const stepOf = (nowMs: number): number => Math.floor(nowMs / PERIOD_MS);

/** The code of a base32 seed for time step `step`. */
export function codeAt(secretBase32: string, step: number): string {
  return hotp(new Uint8Array(Secret.fromBase32(secretBase32).buffer), step, 'SHA1', 6);
}
