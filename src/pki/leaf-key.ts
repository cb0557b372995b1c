/**
 * The P-256 key generated for a leaf when the request brings no CSR. OpenSSL
 * generates it through node:crypto's ECDH (raw scalar and point, no KeyObject); its
 * SubjectPublicKeyInfo (RFC 5480 §2) and PKCS#8 PrivateKeyInfo (RFC 5208,
 * ECPrivateKey of RFC 5915) are written with the asn1-x509 / asn1-pkcs8 / asn1-ecc
 * structures: OpenSSL 3's DER and PEM encoders cost ~200 µs per key, more than
 * building the whole certificate. (Exporting a freshly generated KeyObject as JWK, the
 * earlier way, can deadlock Node 20: see crypto/key-pairs.ts.)
 */
import { createECDH, createHash } from 'node:crypto';
import { ECParameters, ECPrivateKey, id_ecPublicKey, id_secp256r1 } from '@peculiar/asn1-ecc';
import { PrivateKey, PrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { bufferOf, preEncoded, serialize } from './certificate.js';
import { toPem } from './pem.js';

/** id-ecPublicKey with the namedCurve secp256r1 parameters (RFC 5480 §2.1.1), encoded once. */
const P256_ALGORITHM = serialize(
  new AlgorithmIdentifier({ algorithm: id_ecPublicKey, parameters: AsnConvert.serialize(new ECParameters({ namedCurve: id_secp256r1 })) }),
);

export interface LeafKey {
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
  keyId: Uint8Array;
  /** PKCS#8 PEM. Never log it. */
  privateKeyPem: string;
}

/**
 * Generates a P-256 key pair and encodes it.
 * @example const { spki, keyId, privateKeyPem } = generateLeafKey();
 */
export function generateLeafKey(): LeafKey {
  const ecdh = createECDH('prime256v1');
  // SEC 1 §2.3.3: the uncompressed point 04 || x || y, each coordinate 32 octets.
  const point = new Uint8Array(ecdh.generateKeys());
  if (point.length !== 65 || point[0] !== 4) throw new TypeError('P-256 public key is not an uncompressed point');
  // RFC 5915 §3: privateKey is ceiling(log2(n)/8) = 32 octets (OpenSSL drops leading zeros).
  const scalar = ecdh.getPrivateKey();
  const d = new Uint8Array(32);
  d.set(scalar, 32 - scalar.length);
  scalar.fill(0);
  const algorithm = preEncoded<AlgorithmIdentifier>(P256_ALGORITHM);
  const spki = serialize(new SubjectPublicKeyInfo({ algorithm, subjectPublicKey: bufferOf(point) }));
  const ecKey = new ECPrivateKey({ version: 1, privateKey: new OctetString(bufferOf(d)), publicKey: bufferOf(point) });
  const pkcs8 = serialize(new PrivateKeyInfo({ version: 0, privateKeyAlgorithm: algorithm, privateKey: new PrivateKey(AsnConvert.serialize(ecKey)) }));
  const privateKeyPem = toPem(pkcs8, 'PRIVATE KEY');
  pkcs8.fill(0);
  d.fill(0);
  return { spki, keyId: new Uint8Array(createHash('sha1').update(point).digest()), privateKeyPem };
}
