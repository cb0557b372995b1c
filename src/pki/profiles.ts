/**
 * Issuance profiles: what a server and a client certificate contain and how long
 * they live, plus the URLs every certificate carries (CRL DP, OCSP and CA issuers).
 */
import { isIP } from 'node:net';
import { PortcullisError } from '../core/errors.js';
import { EKU } from './certificate.js';

export type ProfileName = 'server' | 'client';

export interface Profile {
  name: ProfileName;
  /** Extended key usages (RFC 5280 §4.2.1.12). */
  eku: string[];
  /** Lifetime when the request names none. */
  defaultLifetimeMs: number;
  /** Longest lifetime a request may ask for. */
  maxLifetimeMs: number;
}

const HOUR = 3_600_000;

export const DEFAULT_PROFILES: Readonly<Record<ProfileName, Profile>> = Object.freeze({
  server: { name: 'server', eku: [EKU.serverAuth], defaultLifetimeMs: 24 * HOUR, maxLifetimeMs: 90 * 24 * HOUR },
  client: { name: 'client', eku: [EKU.clientAuth], defaultLifetimeMs: 24 * HOUR, maxLifetimeMs: 30 * 24 * HOUR },
});

/** Where the CA's artefacts are served, derived from the identity plane base URL. */
export interface PkiUrls {
  crl: string;
  ocsp: string;
  caIssuers: string;
}

/**
 * @example pkiUrls('https://id.example.org', 'int-1').crl === 'https://id.example.org/pki/crl/int-1.crl'
 */
export function pkiUrls(base: string, caId: string): PkiUrls {
  const b = base.replace(/\/+$/, '');
  return { crl: `${b}/pki/crl/${caId}.crl`, ocsp: `${b}/pki/ocsp`, caIssuers: `${b}/pki/ca/${caId}.crt` };
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * A DNS name fit for a certificate: lower-case LDH labels, an optional leading `*.`
 * wildcard, and a top label that is not all digits (RFC 1123 §2.1: a host name never has
 * the dotted-decimal form; CA/B BR 7.1.2.7.12: an IP address is never a dNSName).
 */
export function assertDnsName(name: string): void {
  const labels = name.split('.');
  const rest = labels[0] === '*' ? labels.slice(1) : labels;
  if (name.length > 253 || rest.length < 1 || !rest.every((l) => LABEL.test(l)) || (labels[0] === '*' && rest.length < 2)) {
    throw new PortcullisError('pki.name-not-permitted', `not a valid DNS name for a certificate: ${JSON.stringify(name)}`);
  }
  if (/^[0-9]+$/.test(rest[rest.length - 1]!)) {
    throw new PortcullisError('pki.name-not-permitted', `not a DNS name (its top label is numeric; an IP address goes in the IP addresses): ${JSON.stringify(name)}`);
  }
}

/** An IP address fit for an iPAddress SAN: IPv4 dotted-decimal or IPv6 text, without a zone index (RFC 4007 §11), which no certificate can carry. */
export function assertIpAddress(ip: string): void {
  if (isIP(ip) === 0 || ip.includes('%')) throw new PortcullisError('pki.name-not-permitted', `not an IP address: ${JSON.stringify(ip)}`);
}

const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

/**
 * The URI SAN that binds a client certificate to an app.
 * @example spiffeId('example.org', 'billing') === 'spiffe://example.org/app/billing'
 */
export function spiffeId(trustDomain: string, clientId: string): string {
  if (!TRUST_DOMAIN.test(trustDomain)) throw new PortcullisError('pki.name-not-permitted', 'the trust domain is not a valid SPIFFE trust domain');
  if (!CLIENT_ID.test(clientId) || clientId === '.' || clientId === '..') {
    throw new PortcullisError('pki.name-not-permitted', 'the client id cannot be placed in a URI SAN');
  }
  return `spiffe://${trustDomain}/app/${clientId}`;
}

/** The client id of a SPIFFE URI SAN issued by this CA, or null. */
export function clientIdFromSpiffe(uri: string, trustDomain: string): string | null {
  const prefix = `spiffe://${trustDomain}/app/`;
  if (!uri.startsWith(prefix)) return null;
  const id = uri.slice(prefix.length);
  return CLIENT_ID.test(id) ? id : null;
}
