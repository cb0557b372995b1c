/**
 * Key material of one transit key version: created, sealed with the envelope for the
 * store, and unsealed once into KeyObjects that every operation reuses.
 */
import { createPrivateKey, createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { generateDetachedKeyPairSync } from '../key-pairs.js';
import type { Envelope } from '../envelope.js';
import type { GcmKeyUsage, GcmMeter } from '../gcm-usage.js';
import type { TransitKeyType, TransitKeyVersion } from './store.js';

export interface LoadedVersion {
  version: number;
  createdAt: number;
  /** AES-256-GCM key (aes256-gcm keys). */
  aes?: KeyObject;
  /** Its invocation count (aes256-gcm keys), shared by every load of the version in this process. */
  gcm?: GcmKeyUsage;
  /** Signing key pair (ed25519, ecdsa-p256 keys). */
  privateKey?: KeyObject;
  publicKey?: KeyObject;
  /** Per-version HMAC subkey, independent of the encryption or signing key. */
  hmac: KeyObject;
}

interface Material {
  /** AES key, base64. */
  k?: string;
  /** PKCS#8 DER private key, base64. */
  p?: string;
  /** HMAC subkey, base64. */
  h: string;
}

export const sealContext = (name: string, version: number) => `transit:${name}:v${version}`;

/** Creates version `version` of a key of `type`, sealed for the store. */
export async function newVersion(envelope: Envelope, name: string, type: TransitKeyType, version: number, now: number): Promise<TransitKeyVersion> {
  const m: Material = { h: randomBytes(32).toString('base64') };
  let publicKey: string | undefined;
  if (type === 'aes256-gcm') {
    m.k = randomBytes(32).toString('base64');
  } else {
    const pair = generateDetachedKeyPairSync(type === 'ed25519' ? { type: 'ed25519' } : { type: 'ec', namedCurve: 'P-256' });
    m.p = pair.pkcs8.toString('base64');
    publicKey = pair.spki.toString('base64');
  }
  const v: TransitKeyVersion = { version, createdAt: now, sealed: await envelope.encrypt(JSON.stringify(m), sealContext(name, version)) };
  if (publicKey !== undefined) v.publicKey = publicKey;
  return v;
}

/** Unseals a stored version into KeyObjects (an AES key with its invocation counter from `usage`). */
export async function loadVersion(envelope: Envelope, name: string, v: TransitKeyVersion, usage?: GcmMeter): Promise<LoadedVersion> {
  const m = JSON.parse(await envelope.decryptString(v.sealed, sealContext(name, v.version))) as Material;
  const loaded: LoadedVersion = { version: v.version, createdAt: v.createdAt, hmac: createSecretKey(Buffer.from(m.h, 'base64')) };
  if (m.k !== undefined) {
    loaded.aes = createSecretKey(Buffer.from(m.k, 'base64'));
    if (usage !== undefined) loaded.gcm = usage.counter(sealContext(name, v.version));
  }
  if (m.p !== undefined) {
    loaded.privateKey = createPrivateKey({ key: Buffer.from(m.p, 'base64'), format: 'der', type: 'pkcs8' });
    loaded.publicKey = createPublicKey(loaded.privateKey);
  }
  return loaded;
}
