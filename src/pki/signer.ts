/**
 * CA signers: strategies keyed by a string id. The `file` signer holds the CA
 * private key as a CryptoKey, loaded from PKCS#8 that is encrypted at rest through
 * an injected SecretBox. An HSM or cloud KMS signer implements the same CaSigner
 * interface and issuance does not change.
 */
import { KeyObject, createPrivateKey, createPublicKey, sign as nodeSign, webcrypto } from 'node:crypto';
import { PortcullisError } from '../core/errors.js';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { serialize } from './certificate.js';

/** Authenticated encryption of secrets at rest; the lead adapts the master-key envelope to it. */
export interface SecretBox {
  seal(plain: Uint8Array, aad: string): Promise<string>;
  open(sealed: string, aad: string): Promise<Uint8Array>;
}

export type CaCurve = 'P-256' | 'P-384';

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  sha384WithRSA: '1.2.840.113549.1.1.12',
  sha512WithRSA: '1.2.840.113549.1.1.13',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
} as const;

/** A key that signs certificates, CRLs and OCSP responses for one CA. */
export interface CaSigner {
  /** The signer kind that produced it (`file`, …). */
  readonly kind: string;
  readonly curve: CaCurve;
  /** DER SubjectPublicKeyInfo of the key. */
  readonly spki: Uint8Array;
  /** DER AlgorithmIdentifier of the signatures it makes (ecdsa-with-SHA256/384, no parameters). */
  readonly signatureAlgorithm: Uint8Array;
  /** Signs `data`; returns a DER ECDSA-Sig-Value. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** A signer kind: creates, imports and loads keys; `keyRef` is what the CA record stores. */
export interface SignerKind {
  readonly kind: string;
  generate(curve: CaCurve, caId: string): Promise<{ signer: CaSigner; keyRef: string; pkcs8: Uint8Array }>;
  importPkcs8(pkcs8: Uint8Array, caId: string): Promise<{ signer: CaSigner; keyRef: string }>;
  load(keyRef: string, caId: string): Promise<CaSigner>;
}

export const hashOf = (curve: CaCurve): 'sha256' | 'sha384' => (curve === 'P-256' ? 'sha256' : 'sha384');
/** RFC 5758 §3.2: ecdsa-with-SHA256/384 AlgorithmIdentifiers omit the parameters field. */
export const signatureAlgorithmOf = (curve: CaCurve): Uint8Array =>
  serialize(new AlgorithmIdentifier({ algorithm: curve === 'P-256' ? OID.ecdsaSha256 : OID.ecdsaSha384 }));

const aadFor = (caId: string): string => `pki.ca-key:${caId}`;

class FileSigner implements CaSigner {
  readonly kind = 'file';
  readonly signatureAlgorithm: Uint8Array;
  private readonly keyObject: KeyObject;
  private readonly hash: 'sha256' | 'sha384';
  constructor(
    readonly key: CryptoKey,
    /** The same private key for node:crypto (`KeyObject.from()` of a non-extractable CryptoKey is deprecated). */
    keyObject: KeyObject,
    readonly curve: CaCurve,
    readonly spki: Uint8Array,
  ) {
    this.keyObject = keyObject;
    this.hash = hashOf(curve);
    this.signatureAlgorithm = signatureAlgorithmOf(curve);
  }
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(nodeSign(this.hash, data, { key: this.keyObject, dsaEncoding: 'der' }));
  }
}

async function fromPkcs8(pkcs8: Uint8Array): Promise<FileSigner> {
  let curve: CaCurve;
  let spki: Uint8Array;
  let priv: KeyObject;
  try {
    priv = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
    const named = priv.asymmetricKeyDetails?.namedCurve;
    if (priv.asymmetricKeyType !== 'ec' || (named !== 'prime256v1' && named !== 'secp384r1')) {
      throw new PortcullisError('pki.ca-invalid', 'CA keys must be EC P-256 or P-384');
    }
    curve = named === 'prime256v1' ? 'P-256' : 'P-384';
    spki = new Uint8Array(createPublicKey(priv).export({ format: 'der', type: 'spki' }));
  } catch (e) {
    if (e instanceof PortcullisError) throw e;
    throw new PortcullisError('pki.ca-invalid', 'the CA private key is not a valid PKCS#8 key');
  }
  const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: curve }, false, ['sign']);
  return new FileSigner(key, priv, curve, spki);
}

/**
 * The `file` signer kind: PKCS#8 sealed by `box` (AAD binds it to the CA id).
 * @example const kind = fileSignerKind(box); const { signer, keyRef } = await kind.generate('P-256', 'int-1');
 */
export function fileSignerKind(box: SecretBox): SignerKind {
  return {
    kind: 'file',
    async generate(curve, caId) {
      const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: curve }, true, ['sign', 'verify'])) as CryptoKeyPair;
      const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
      const signer = await fromPkcs8(pkcs8);
      return { signer, keyRef: await box.seal(pkcs8, aadFor(caId)), pkcs8 };
    },
    async importPkcs8(pkcs8, caId) {
      const signer = await fromPkcs8(pkcs8);
      return { signer, keyRef: await box.seal(pkcs8, aadFor(caId)) };
    },
    async load(keyRef, caId) {
      let pkcs8: Uint8Array;
      try {
        pkcs8 = await box.open(keyRef, aadFor(caId));
      } catch (e) {
        throw new PortcullisError('crypto.decrypt-failed', `the key of CA ${caId} does not decrypt`, { cause: e });
      }
      try {
        return await fromPkcs8(pkcs8);
      } finally {
        pkcs8.fill(0);
      }
    },
  };
}

/** Signer kinds by id. */
export class SignerRegistry {
  private readonly kinds = new Map<string, SignerKind>();
  constructor(kinds: SignerKind[] = []) {
    for (const k of kinds) this.register(k);
  }
  register(kind: SignerKind): void {
    this.kinds.set(kind.kind, kind);
  }
  get(kind: string): SignerKind {
    const k = this.kinds.get(kind);
    if (!k) throw new PortcullisError('pki.ca-not-found', `no CA signer of kind ${JSON.stringify(kind)} is configured`);
    return k;
  }
}
