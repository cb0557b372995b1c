/**
 * Key pairs from node:crypto that share nothing with the job that generated them.
 *
 * On Node 20 a key pair straight from `generateKeyPair(Sync)` can hang the thread for
 * good when it is exported: the export holds the key's mutex while it allocates
 * JavaScript values, an allocation may run a garbage collection, and that collection
 * may finalize the finished generation job, whose destructor takes the same mutex.
 * The thread then waits on itself at 0% CPU (seen in `bench/pki.ts`; gdb:
 * `KeyObjectHandle::ExportJWK` → `Heap::CollectGarbage` → `~KeyGenJob` →
 * `pthread_mutex_lock`). Here the job encodes the pair as DER itself (while it is still
 * running, so it cannot be collected), and the KeyObjects handed out are imported from
 * those bytes: exporting them later, as JWK or anything else, touches no job's lock.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';

export type KeyPairSpec = { type: 'ec'; namedCurve: 'P-256' | 'P-384' } | { type: 'ed25519' } | { type: 'x25519' } | { type: 'rsa'; modulusLength: number };

export interface DetachedKeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  /** DER PKCS#8 PrivateKeyInfo: a secret. */
  pkcs8: Buffer;
}

const ENCODING = { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } } as const;

function options(spec: KeyPairSpec): Record<string, unknown> {
  if (spec.type === 'ec') return { namedCurve: spec.namedCurve, ...ENCODING };
  if (spec.type === 'rsa') return { modulusLength: spec.modulusLength, ...ENCODING };
  return { ...ENCODING };
}

function detach(spki: Buffer, pkcs8: Buffer): DetachedKeyPair {
  return {
    publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }),
    privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    spki,
    pkcs8,
  };
}

/**
 * Generates a key pair on libuv's thread pool.
 * @example const { publicKey, privateKey } = await generateDetachedKeyPair({ type: 'ec', namedCurve: 'P-256' });
 */
export function generateDetachedKeyPair(spec: KeyPairSpec): Promise<DetachedKeyPair> {
  return new Promise((resolve, reject) => {
    // the overloads of generateKeyPair are per type; the options are built for the type above
    (generateKeyPair as unknown as (t: string, o: Record<string, unknown>, cb: (e: Error | null, pub: Buffer, priv: Buffer) => void) => void)(spec.type, options(spec), (err, spki, pkcs8) => {
      if (err !== null) reject(err);
      else resolve(detach(spki, pkcs8));
    });
  });
}

/**
 * Generates a key pair on the calling thread.
 * @example const { spki, pkcs8 } = generateDetachedKeyPairSync({ type: 'ed25519' });
 */
export function generateDetachedKeyPairSync(spec: KeyPairSpec): DetachedKeyPair {
  const { publicKey, privateKey } = (generateKeyPairSync as unknown as (t: string, o: Record<string, unknown>) => { publicKey: Buffer; privateKey: Buffer })(spec.type, options(spec));
  return detach(publicKey, privateKey);
}
