/**
 * PKCS#12 (RFC 7292) export of a generated key with its certificate chain, written
 * with the @peculiar/asn1-pfx (and asn1-cms, asn1-pkcs9) structures, in the
 * form OpenSSL 3 writes by default: the key in a PBES2 (PBKDF2-HMAC-SHA256,
 * AES-256-CBC) shrouded key bag, the certificates in plain cert bags, and an
 * HMAC-SHA256 integrity MAC keyed by the PKCS#12 KDF (Appendix B).
 */
import { createHash, createHmac, createPrivateKey, randomBytes } from 'node:crypto';
import { ContentInfo, id_data } from '@peculiar/asn1-cms';
import { AuthenticatedSafe, CertBag, MacData, PFX, PKCS12Attribute, SafeBag, SafeContents, id_certBag, id_pkcs8ShroudedKeyBag, id_x509Certificate } from '@peculiar/asn1-pfx';
import { FriendlyName, LocalKeyId, id_pkcs9_at_friendlyName, id_pkcs9_at_localKeyId } from '@peculiar/asn1-pkcs9';
import { DigestInfo } from '@peculiar/asn1-rsa';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { bufferOf, serialize } from './certificate.js';
import { fromPemAll, fromPem } from './pem.js';

const ID_SHA256 = '2.16.840.1.101.3.4.2.1';

// OpenSSL 3 defaults (PKCS12_DEFAULT_ITER).
const ITERATIONS = 2048;

function bmpPassword(password: string): Uint8Array {
  const out = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    out[i * 2] = password.charCodeAt(i) >> 8;
    out[i * 2 + 1] = password.charCodeAt(i) & 0xff;
  }
  return out;
}

/** RFC 7292 Appendix B.2 key derivation, SHA-256 (u = 32, v = 64). */
export function pkcs12Kdf(password: Uint8Array, salt: Uint8Array, id: number, iterations: number, n: number): Uint8Array {
  const u = 32;
  const v = 64;
  const fill = (src: Uint8Array): Uint8Array => {
    if (src.length === 0) return new Uint8Array(0);
    const out = new Uint8Array(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const D = new Uint8Array(v).fill(id);
  const I = Buffer.concat([fill(salt), fill(password)]);
  const out: Uint8Array[] = [];
  for (let got = 0; got < n; got += u) {
    let A = createHash('sha256').update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash('sha256').update(A).digest();
    out.push(A);
    const B = new Uint8Array(v);
    for (let i = 0; i < v; i++) B[i] = A[i % u]!;
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const x = I[j + k]! + B[k]! + carry;
        I[j + k] = x & 0xff;
        carry = x >> 8;
      }
    }
  }
  return new Uint8Array(Buffer.concat(out).subarray(0, n));
}

// asn1-pfx 2.11's PKCS12Attribute constructor drops its parameters (`Object.assign(params)`): set the fields after construction.
const attr = (id: string, value: unknown): PKCS12Attribute => Object.assign(new PKCS12Attribute(), { attrId: id, attrValues: [AsnConvert.serialize(value)] });

/** A SET OF in DER order (X.690 §11.6: elements sorted by their encodings). */
const derSetOrder = (attrs: PKCS12Attribute[]): PKCS12Attribute[] =>
  attrs
    .map((a) => ({ a, der: serialize(a) }))
    .sort((x, y) => Buffer.compare(x.der, y.der))
    .map((x) => x.a);

/** ContentInfo of type data: [0] EXPLICIT OCTET STRING holding `body`. */
const dataContentInfo = (body: Uint8Array): ContentInfo =>
  new ContentInfo({ contentType: id_data, content: AsnConvert.serialize(new OctetString(bufferOf(body))) });

export interface Pkcs12Input {
  certPem: string;
  /** Further certificates (intermediate, root). */
  chainPem?: string;
  privateKeyPem: string;
  password: string;
  friendlyName?: string;
}

/**
 * Builds a PKCS#12 file (DER).
 * @example const p12 = await toPkcs12({ certPem, chainPem, privateKeyPem, password: 'secret' });
 */
export async function toPkcs12(i: Pkcs12Input): Promise<Uint8Array> {
  const leaf = fromPem(i.certPem, 'CERTIFICATE');
  const chain = i.chainPem ? fromPemAll(i.chainPem, 'CERTIFICATE') : [];
  const keyId = new Uint8Array(createHash('sha1').update(leaf).digest());
  const leafAttrs = derSetOrder([
    attr(id_pkcs9_at_localKeyId, new LocalKeyId(bufferOf(keyId))),
    ...(i.friendlyName ? [attr(id_pkcs9_at_friendlyName, new FriendlyName(i.friendlyName))] : []),
  ]);
  const certBag = (der: Uint8Array, attrs?: PKCS12Attribute[]): SafeBag =>
    new SafeBag({
      bagId: id_certBag,
      bagValue: AsnConvert.serialize(new CertBag({ certId: id_x509Certificate, certValue: AsnConvert.serialize(new OctetString(bufferOf(der))) })),
      ...(attrs ? { bagAttributes: attrs } : {}),
    });
  const certs = serialize(new SafeContents([certBag(leaf, leafAttrs), ...chain.map((c) => certBag(c))]));
  const encryptedKey = new Uint8Array(
    createPrivateKey(i.privateKeyPem).export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: i.password }),
  );
  const keyBag = serialize(new SafeContents([new SafeBag({ bagId: id_pkcs8ShroudedKeyBag, bagValue: bufferOf(encryptedKey), bagAttributes: leafAttrs })]));
  const authSafe = serialize(new AuthenticatedSafe([dataContentInfo(certs), dataContentInfo(keyBag)]));
  const salt = randomBytes(16);
  const macKey = pkcs12Kdf(bmpPassword(i.password), salt, 3, ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(authSafe).digest();
  const macData = new MacData({
    mac: new DigestInfo({ digestAlgorithm: new AlgorithmIdentifier({ algorithm: ID_SHA256, parameters: null }), digest: new OctetString(bufferOf(new Uint8Array(mac))) }),
    macSalt: new OctetString(bufferOf(new Uint8Array(salt))),
    iterations: ITERATIONS,
  });
  return serialize(new PFX({ version: 3, authSafe: dataContentInfo(authSafe), macData }));
}
