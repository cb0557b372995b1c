/**
 * Decoders for the certificate extensions the CA and the verifier act on (RFC 5280
 * §4.2). They live with the strict @peculiar/asn1-x509 certificate parser in
 * parse.ts and are re-exported here for the CA's modules; this file adds the text
 * forms of a distinguished name.
 */
import { Name } from '@peculiar/asn1-x509';
import { parseDer } from './parse.js';

export {
  authorityInfoAccessOf,
  authorityKeyIdOf,
  basicConstraintsOf,
  crlDistributionPointsOf,
  extKeyUsageOf,
  generalName,
  generalNames,
  keyUsageOf,
  nameConstraintsOf,
  subjectAltNamesOf,
  subjectKeyIdOf,
  type BasicConstraints,
  type NameConstraints,
  type ParsedGeneralName,
  type Subtree,
} from './parse.js';

/** The attributes of a DER Name, in order, with their values as text. */
export function nameAttributes(name: Uint8Array): Array<{ oid: string; value: string }> {
  const n = parseDer(name, Name, 'Name').value;
  return n.flatMap((rdn) => rdn.map((atv) => ({ oid: atv.type, value: atv.value.toString() })));
}

/** Common names of a Name, decoded. */
export function commonNames(name: Uint8Array): string[] {
  return nameAttributes(name)
    .filter((a) => a.oid === '2.5.4.3')
    .map((a) => a.value);
}

const SHORT: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST' };

/**
 * A one-line text form for humans.
 * @example nameToString(encodeName([['O', 'Portcullis'], ['CN', 'api']])) // 'O=Portcullis, CN=api'
 */
export function nameToString(name: Uint8Array): string {
  return nameAttributes(name)
    .map((a) => `${SHORT[a.oid] ?? a.oid}=${a.value}`)
    .join(', ');
}
