/**
 * PKCS#12 (RFC 7292) export of a generated key with its certificate chain, in the
 * form OpenSSL 3 writes by default: the key in a PBES2 (PBKDF2-HMAC-SHA256,
 * AES-256-CBC) shrouded key bag, the certificates in plain cert bags, and an
 * HMAC-SHA256 integrity MAC keyed by the PKCS#12 KDF (Appendix B).
 */
import { createHash, createHmac, createPrivateKey, randomBytes } from 'node:crypto';
import { concat, explicit, int, nul, octets, oid, seq, setOf, tlv } from './der.js';
import { fromPemAll, fromPem } from './pem.js';

const P12 = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
};

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
  const I = concat([fill(salt), fill(password)]);
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
  return concat(out).subarray(0, n);
}

const attr = (id: string, value: Uint8Array): Uint8Array => seq(oid(id), setOf(value));

function bmpString(s: string): Uint8Array {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    b[i * 2] = s.charCodeAt(i) >> 8;
    b[i * 2 + 1] = s.charCodeAt(i) & 0xff;
  }
  return tlv(0x1e, b);
}

const dataContentInfo = (body: Uint8Array): Uint8Array => seq(oid(P12.data), explicit(0, octets(body)));

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
  const leafAttrs = [attr(P12.localKeyId, octets(keyId)), ...(i.friendlyName ? [attr(P12.friendlyName, bmpString(i.friendlyName))] : [])];
  const certBag = (der: Uint8Array, attrs?: Uint8Array[]): Uint8Array =>
    seq(oid(P12.certBag), explicit(0, seq(oid(P12.x509Certificate), explicit(0, octets(der)))), ...(attrs ? [setOf(...attrs)] : []));
  const certs = seq(certBag(leaf, leafAttrs), ...chain.map((c) => certBag(c)));
  const encryptedKey = new Uint8Array(
    createPrivateKey(i.privateKeyPem).export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: i.password }),
  );
  const keyBag = seq(seq(oid(P12.shroudedKeyBag), explicit(0, encryptedKey), setOf(...leafAttrs)));
  const authSafe = seq(dataContentInfo(certs), dataContentInfo(keyBag));
  const salt = randomBytes(16);
  const macKey = pkcs12Kdf(bmpPassword(i.password), salt, 3, ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(authSafe).digest();
  const macData = seq(seq(seq(oid(P12.sha256), nul()), octets(mac)), octets(salt), int(ITERATIONS));
  return seq(int(3), dataContentInfo(authSafe), macData);
}
