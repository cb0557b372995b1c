/**
 * Portcullis's own encryption keys (JWE recipients), kept in the key ring store with
 * `use: enc` beside the signing keys.
 *
 * Per key type (P-256, X25519, RSA-3072) one key is current: the one with the latest
 * `activatesAt` that is not in the future, published in the JWKS with `use: enc`, so
 * clients encrypt to it. As with the signing keys (keyring.ts), which key is current is
 * derived from time, so every node agrees at a handover without coordination. The next
 * key is stored `prepublishMs` before it becomes current; every node loads it (on
 * `keys.changed` or its next reconcile) and decrypts with it from then on, while it is
 * not yet published: no client encrypts to it before the handover, and by then every
 * node can open what they send. The key it replaces leaves the JWKS at the handover but
 * keeps decrypting for `decryptOverlapMs` (clients cache the JWKS), then it is deleted.
 * Private keys are stored encrypted (envelope.ts) and imported once as KeyObjects. A key
 * decrypts only under the `alg` it is published with (RFC 7517 §4.4): a P-256 key
 * published for ECDH-ES+A256KW does not open an ECDH-ES JWE.
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
  /**
   * How long the next key is stored (and decrypts on every node that has loaded it) before
   * it becomes current and is published: longer than the nodes take to load it (the
   * reconcile interval), so none refuses a JWE encrypted to it after the handover.
   */
  prepublishMs: number;
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
  /** The last rotate or maintain: they run one at a time on a node. */
  private changing: Promise<unknown> = Promise.resolve();
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

  /** A stored key decrypts until it expires, the next key too before its handover: it is ours, and not published yet. */
  private decrypts(s: StoredKey, now: number): boolean {
    return s.expiresAt === null || s.expiresAt > now;
  }

  /** The stored keys of `type` not current yet (and not withdrawn), earliest handover first. */
  private pendingOf(type: EncryptionKeyType, now: number): Loaded[] {
    return [...this.keys.values()]
      .filter((k) => k.type === type && k.stored.activatesAt > now && k.stored.status !== 'retired')
      .sort((a, b) => a.stored.activatesAt - b.stored.activatesAt || (a.stored.kid < b.stored.kid ? 1 : -1));
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

  /** The key a JWE names by `kid`, while it may decrypt (next, current, or retired within the overlap). */
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

  /** Every encryption key with its state (no key material): `next` decrypts but is not published until `activatesAt`. */
  list(): Array<{ kid: string; type: EncryptionKeyType; alg: string; state: 'next' | 'current' | 'retired' | 'expired'; activatesAt: number; retiresAt: number | null; expiresAt: number | null }> {
    const now = this.clock.now();
    const current = new Set(this.types.map((t) => this.currentOf(t, now)?.stored.kid));
    const state = (s: StoredKey) =>
      current.has(s.kid) ? ('current' as const) : !this.decrypts(s, now) ? ('expired' as const) : s.activatesAt > now && s.status !== 'retired' ? ('next' as const) : ('retired' as const);
    return [...this.keys.values()]
      .map(({ stored: s, type }) => ({
        kid: s.kid,
        type,
        alg: s.alg,
        state: state(s),
        activatesAt: s.activatesAt,
        retiresAt: s.retiresAt,
        expiresAt: s.expiresAt,
      }))
      .sort((a, b) => a.activatesAt - b.activatesAt);
  }

  private async create(type: EncryptionKeyType, now: number, activatesAt = now): Promise<string> {
    const k = await generateEncryptionKey(type);
    const { kid: _k, alg: _a, use: _u, ...privateJwk } = k.privateJwk;
    const { kid: _k2, alg: _a2, use: _u2, ...publicJwk } = k.publicJwk;
    await this.store.insertKey({
      kid: k.kid,
      use: 'enc',
      alg: k.alg,
      publicJwk: JSON.stringify(publicJwk),
      privateJwk: await this.envelope.encrypt(JSON.stringify(privateJwk), keyContext(k.kid)),
      status: activatesAt <= now ? 'active' : 'next',
      createdAt: now,
      activatesAt,
      retiresAt: null,
      expiresAt: null,
    });
    return k.kid;
  }

  /** Retires `kid` as of `at` (its successor's handover): it leaves the JWKS then and decrypts for the overlap after. */
  private async retire(kid: string, at: number): Promise<void> {
    await this.store.updateKey(kid, { status: 'retired', retiresAt: at, expiresAt: at + this.opts.decryptOverlapMs });
  }

  /**
   * Rotates `type` now: the next key, when one is stored, becomes current (every node has
   * it, so none refuses what clients encrypt to it), else a new key does (a node that has
   * not loaded it yet refuses a JWE to it, `jwe.unknown-key`, until its next reload). The
   * old key keeps decrypting for the overlap; a new next key is stored for the following
   * rotation, a rotation interval ahead.
   */
  rotate(type: EncryptionKeyType = this.types[0]!): Promise<{ activated: string; retired: string | undefined; next: string }> {
    return this.oneAtATime(() => this.rotateNow(type));
  }

  /** Runs `change` after every rotate or maintain begun before it has ended (each reads the keys and writes from what it read). */
  private oneAtATime<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changing.then(change);
    this.changing = run.catch(() => undefined);
    return run;
  }

  private async rotateNow(type: EncryptionKeyType): Promise<{ activated: string; retired: string | undefined; next: string }> {
    await this.load();
    const now = this.clock.now();
    const old = this.currentOf(type, now);
    const [pending, ...others] = this.pendingOf(type, now);
    let activated: string;
    if (pending) {
      await this.store.updateKey(pending.stored.kid, { status: 'active', activatesAt: now });
      activated = pending.stored.kid;
    } else {
      activated = await this.create(type, now);
    }
    if (old) await this.retire(old.stored.kid, now);
    for (const k of others) await this.store.deleteKey(k.stored.kid);
    const next = await this.create(type, now, now + this.opts.rotationIntervalMs);
    await this.load();
    return { activated, retired: old?.stored.kid, next };
  }

  /**
   * Keeps the schedule: a current key for each type, its successor stored `prepublishMs`
   * before the handover (`rotationIntervalMs` after the current key's), one next key per
   * type when several nodes stored one at once, the key a newer one superseded retired as
   * of that handover, and retired keys deleted once their overlap has passed. Returns true
   * when anything changed (callers then publish `keys.changed`).
   */
  maintain(): Promise<boolean> {
    return this.oneAtATime(() => this.maintainNow());
  }

  private async maintainNow(): Promise<boolean> {
    await this.load();
    const now = this.clock.now();
    let changed = false;
    for (const type of this.types) {
      const current = this.currentOf(type, now);
      const [pending, ...others] = this.pendingOf(type, now);
      // nodes that stored a next key at once: the later handovers go (no client encrypts to a key before its handover)
      for (const k of others) {
        await this.store.deleteKey(k.stored.kid);
        changed = true;
      }
      if (!current) {
        // none to hand over from (a new deployment): current at once
        await this.create(type, now);
        changed = true;
      } else if (!pending) {
        const handover = current.stored.activatesAt + this.opts.rotationIntervalMs;
        if (now >= handover - this.opts.prepublishMs) {
          await this.create(type, now, Math.max(handover, now + this.opts.prepublishMs));
          changed = true;
        }
      }
    }
    if (changed) await this.load();
    const byHandover = [...this.keys.values()].sort((a, b) => a.stored.activatesAt - b.stored.activatesAt || (a.stored.kid < b.stored.kid ? -1 : 1));
    for (const k of byHandover) {
      const s = k.stored;
      if (s.expiresAt !== null && s.expiresAt <= now) {
        await this.store.deleteKey(s.kid);
        changed = true;
      } else if (s.status !== 'retired' && s.activatesAt <= now && this.currentOf(k.type, now)?.stored.kid !== s.kid) {
        // superseded: by the key that took over after it (or one two nodes made current at once)
        const successor = byHandover.find((o) => o !== k && o.type === k.type && o.stored.activatesAt >= s.activatesAt && o.stored.activatesAt <= now && o.stored.status !== 'retired');
        await this.retire(s.kid, Math.min(successor?.stored.activatesAt ?? now, now));
        changed = true;
      } else if (s.status === 'next' && s.activatesAt <= now) {
        await this.store.updateKey(s.kid, { status: 'active' });
        changed = true;
      }
    }
    if (changed) await this.load();
    return changed;
  }
}
