/**
 * Portcullis's own encryption keys (JWE recipients), kept in the key ring store with
 * `use: enc` beside the signing keys.
 *
 * Per key type (P-256, X25519, RSA-3072) one key is current: the newest one activated,
 * published in the JWKS with `use: enc`, so clients encrypt to it. Rotation makes a new
 * key current and retires the old one: it leaves the JWKS at once but keeps decrypting
 * for `decryptOverlapMs` (clients cache the JWKS), then it is deleted. Private keys are
 * stored encrypted (envelope.ts) and imported once as KeyObjects. A key decrypts only
 * under the `alg` it is published with (RFC 7517 §4.4): a P-256 key published for
 * ECDH-ES+A256KW does not open an ECDH-ES JWE.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { Clock } from '../../core/clock.js';
import { PortcullisError } from '../../core/errors.js';
import type { Envelope } from '../envelope.js';
import type { KeyStore, StoredKey } from '../store.js';
import type { JweDecryptionKey, JweKeyLookup } from './decrypt.js';
import { generateEncryptionKey, typeOfJwk, type EncryptionKeyType } from './generate.js';
import type { JweAlg } from './policy.js';

export interface EncryptionKeysOptions {
  /** Key types kept current (default: P-256). */
  types?: readonly EncryptionKeyType[];
  /** How long a key stays current before maintain() rotates it. */
  rotationIntervalMs: number;
  /** How long a retired key keeps decrypting (at least the JWKS cache lifetime of clients). */
  decryptOverlapMs: number;
}

interface Loaded {
  stored: StoredKey;
  type: EncryptionKeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
  decryption: JweDecryptionKey;
}

export interface CurrentEncryptionKey {
  kid: string;
  type: EncryptionKeyType;
  alg: JweAlg;
  publicKey: KeyObject;
  publicJwk: JWK;
}

const keyContext = (kid: string) => `encryption-key:${kid}`;

export class EncryptionKeys {
  private keys = new Map<string, Loaded>();
  private readonly types: readonly EncryptionKeyType[];

  constructor(
    private readonly store: KeyStore,
    private readonly envelope: Envelope,
    private readonly clock: Clock,
    private readonly opts: EncryptionKeysOptions,
  ) {
    this.types = opts.types ?? ['P-256'];
  }

  /** Re-reads the `use: enc` keys (at start, on a `keys.changed` event, on reconcile). */
  async load(): Promise<void> {
    const next = new Map<string, Loaded>();
    for (const s of await this.store.listKeys()) {
      if (s.use !== 'enc') continue;
      const prior = this.keys.get(s.kid);
      if (prior && prior.stored.privateJwk === s.privateJwk) {
        next.set(s.kid, { ...prior, stored: s });
        continue;
      }
      const publicJwk = JSON.parse(s.publicJwk) as JWK;
      const type = typeOfJwk(publicJwk);
      if (!type) continue;
      const privateJwk = JSON.parse(await this.envelope.decryptString(s.privateJwk, keyContext(s.kid))) as JsonWebKey;
      const privateKey = createPrivateKey({ key: privateJwk, format: 'jwk' });
      next.set(s.kid, {
        stored: s,
        type,
        privateKey,
        publicKey: createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }),
        publicJwk,
        // RFC 7517 §4.4: the key decrypts only under the alg it is published with
        decryption: { key: privateKey, use: 'enc', alg: s.alg as JweAlg },
      });
    }
    this.keys = next;
  }

  private decrypts(s: StoredKey, now: number): boolean {
    return s.activatesAt <= now && (s.expiresAt === null || s.expiresAt > now);
  }

  private currentOf(type: EncryptionKeyType, now: number): Loaded | undefined {
    let best: Loaded | undefined;
    for (const k of this.keys.values()) {
      const s = k.stored;
      if (k.type !== type || s.activatesAt > now || s.status === 'retired' || (s.retiresAt !== null && s.retiresAt <= now)) continue;
      if (!best || s.activatesAt > best.stored.activatesAt || (s.activatesAt === best.stored.activatesAt && s.kid > best.stored.kid)) best = k;
    }
    return best;
  }

  /** The key a JWE names by `kid`, while it may decrypt (current, or retired within the overlap). */
  decryptionKey(kid: string | undefined): JweDecryptionKey | undefined {
    if (kid === undefined) return undefined;
    const k = this.keys.get(kid);
    return k && this.decrypts(k.stored, this.clock.now()) ? k.decryption : undefined;
  }

  /** decryptionKey as a decryptBody `getKey` callback. */
  readonly getKey: JweKeyLookup = (kid) => this.decryptionKey(kid);

  /** The key clients should encrypt to now; throws `unavailable` when there is none (fail closed). */
  current(type: EncryptionKeyType = this.types[0]!): CurrentEncryptionKey {
    const k = this.currentOf(type, this.clock.now());
    if (!k) throw new PortcullisError('unavailable', `no ${type} encryption key is current; run key maintenance`);
    return { kid: k.stored.kid, type, alg: k.stored.alg as JweAlg, publicKey: k.publicKey, publicJwk: this.publish(k) };
  }

  private publish(k: Loaded): JWK {
    const { kty, crv, x, y, n, e } = k.publicJwk;
    const jwk: JWK = { kty };
    if (crv !== undefined) jwk.crv = crv;
    if (x !== undefined) jwk.x = x;
    if (y !== undefined) jwk.y = y;
    if (n !== undefined) jwk.n = n;
    if (e !== undefined) jwk.e = e;
    return { ...jwk, kid: k.stored.kid, alg: k.stored.alg, use: 'enc' };
  }

  /** The public encryption keys for the JWKS: the current key of each type, `use: enc`, no private members. */
  jwks(): { keys: JWK[] } {
    const now = this.clock.now();
    const keys: JWK[] = [];
    for (const type of this.types) {
      const k = this.currentOf(type, now);
      if (k) keys.push(this.publish(k));
    }
    return { keys };
  }

  /** Every encryption key with its state (no key material). */
  list(): Array<{ kid: string; type: EncryptionKeyType; alg: string; state: 'current' | 'retired' | 'expired'; activatesAt: number; retiresAt: number | null; expiresAt: number | null }> {
    const now = this.clock.now();
    const current = new Set(this.types.map((t) => this.currentOf(t, now)?.stored.kid));
    return [...this.keys.values()]
      .map(({ stored: s, type }) => ({
        kid: s.kid,
        type,
        alg: s.alg,
        state: current.has(s.kid) ? ('current' as const) : this.decrypts(s, now) ? ('retired' as const) : ('expired' as const),
        activatesAt: s.activatesAt,
        retiresAt: s.retiresAt,
        expiresAt: s.expiresAt,
      }))
      .sort((a, b) => a.activatesAt - b.activatesAt);
  }

  private async create(type: EncryptionKeyType, now: number): Promise<string> {
    const k = await generateEncryptionKey(type);
    const { kid: _k, alg: _a, use: _u, ...privateJwk } = k.privateJwk;
    const { kid: _k2, alg: _a2, use: _u2, ...publicJwk } = k.publicJwk;
    await this.store.insertKey({
      kid: k.kid,
      use: 'enc',
      alg: k.alg,
      publicJwk: JSON.stringify(publicJwk),
      privateJwk: await this.envelope.encrypt(JSON.stringify(privateJwk), keyContext(k.kid)),
      status: 'active',
      createdAt: now,
      activatesAt: now,
      retiresAt: null,
      expiresAt: null,
    });
    return k.kid;
  }

  private async retire(kid: string, now: number): Promise<void> {
    await this.store.updateKey(kid, { status: 'retired', retiresAt: now, expiresAt: now + this.opts.decryptOverlapMs });
  }

  /** Makes a new key of `type` current now; the old one keeps decrypting for the overlap. */
  async rotate(type: EncryptionKeyType = this.types[0]!): Promise<{ activated: string; retired: string | undefined }> {
    await this.load();
    const now = this.clock.now();
    const old = this.currentOf(type, now);
    const activated = await this.create(type, now);
    if (old) await this.retire(old.stored.kid, now);
    await this.load();
    return { activated, retired: old?.stored.kid };
  }

  /**
   * Keeps the schedule: a current key for each type (rotated after `rotationIntervalMs`),
   * one current key per type when several nodes created one at once, and retired keys
   * deleted once their overlap has passed. Returns true when anything changed.
   */
  async maintain(): Promise<boolean> {
    await this.load();
    const now = this.clock.now();
    let changed = false;
    for (const type of this.types) {
      const current = this.currentOf(type, now);
      if (!current || now >= current.stored.activatesAt + this.opts.rotationIntervalMs) {
        await this.create(type, now);
        if (current) await this.retire(current.stored.kid, now);
        changed = true;
      }
    }
    if (changed) await this.load();
    for (const k of this.keys.values()) {
      const s = k.stored;
      if (s.expiresAt !== null && s.expiresAt <= now) {
        await this.store.deleteKey(s.kid);
        changed = true;
      } else if (s.status !== 'retired' && s.activatesAt <= now && this.currentOf(k.type, now)?.stored.kid !== s.kid) {
        await this.retire(s.kid, now);
        changed = true;
      }
    }
    if (changed) await this.load();
    return changed;
  }
}
