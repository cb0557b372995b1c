/**
 * The signing key ring (RFC 7517 JWKS, RFC 9068 access tokens).
 *
 * Which key signs is derived from time, not from mutable state, so any number of
 * nodes agree without coordination: the signing key is the published key with the
 * latest `activatesAt` that is not in the future. A key is published in the JWKS from
 * its creation (at least `prepublish` before it signs) until `expiresAt`, when every
 * token it signed has expired. Private keys are stored encrypted (envelope.ts) and
 * imported once as KeyObjects.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { generateDetachedKeyPair } from './key-pairs.js';
import type { JWK } from 'jose';
import { PortcullisError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import type { Envelope } from './envelope.js';
import type { KeyStore, StoredKey } from './store.js';
import type { VerificationKey, VerificationKeys } from './verification-keys.js';


export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256';

export interface KeyRingOptions {
  alg: SigningAlg;
  /** How long a key signs before the next one takes over. */
  rotationIntervalMs: number;
  /** How long the next key is published before it signs. */
  prepublishMs: number;
  /** Longest lifetime of anything a key signs (access token TTL + leeway): how long a retired key stays published. */
  maxTokenLifetimeMs: number;
}

export interface LoadedKey {
  stored: StoredKey;
  publicKey: KeyObject;
  privateKey: KeyObject;
  publicJwk: JWK;
}

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
}

async function newKeyPair(alg: SigningAlg): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  switch (alg) {
    case 'ES256':
      return generateDetachedKeyPair({ type: 'ec', namedCurve: 'P-256' });
    case 'EdDSA':
      return generateDetachedKeyPair({ type: 'ed25519' });
    case 'RS256':
      return generateDetachedKeyPair({ type: 'rsa', modulusLength: 3072 });
  }
}

const keyContext = (kid: string) => `signing-key:${kid}`;

export class KeyRing implements VerificationKeys {
  private keys = new Map<string, LoadedKey>();
  private verification = new Map<string, VerificationKey>();
  /** The last rotate or maintain: each reads the ring and writes from what it read, so they run one at a time. */
  private changing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: KeyStore,
    private readonly envelope: Envelope,
    private readonly clock: Clock,
    private readonly opts: KeyRingOptions,
  ) {}

  /** Re-reads every key from the store (at start, on a `keys.changed` event, on reconcile). */
  async load(): Promise<void> {
    const stored = await this.store.listKeys();
    const next = new Map<string, LoadedKey>();
    for (const s of stored) {
      if (s.use !== 'sig') continue;
      const prior = this.keys.get(s.kid);
      if (prior && prior.stored.privateJwk === s.privateJwk) {
        next.set(s.kid, { ...prior, stored: s });
        continue;
      }
      const privateJwk = JSON.parse(await this.envelope.decryptString(s.privateJwk, keyContext(s.kid))) as JWK;
      const publicJwk = JSON.parse(s.publicJwk) as JWK;
      next.set(s.kid, {
        stored: s,
        privateKey: createPrivateKey({ key: privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' }),
        publicKey: createPublicKey({ key: publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }),
        publicJwk,
      });
    }
    this.keys = next;
    this.verification = new Map([...next.values()].map((k) => [k.stored.kid, { kid: k.stored.kid, alg: k.stored.alg, key: k.publicKey }]));
  }

  private isPublished(k: StoredKey, now: number): boolean {
    return k.expiresAt === null || k.expiresAt > now;
  }

  /** The key that signs now; throws when there is none (fail closed). */
  signingKey(): SigningKey {
    const now = this.clock.now();
    let best: LoadedKey | undefined;
    for (const k of this.keys.values()) {
      const s = k.stored;
      if (s.activatesAt > now || !this.isPublished(s, now)) continue;
      if (s.retiresAt !== null && s.retiresAt <= now) continue;
      if (!best || s.activatesAt > best.stored.activatesAt) best = k;
    }
    if (!best) throw new PortcullisError('unavailable', 'no signing key is active; run `portcullis keys rotate`');
    return { kid: best.stored.kid, alg: best.stored.alg as SigningAlg, privateKey: best.privateKey };
  }

  getVerificationKey(kid: string): VerificationKey | undefined {
    const v = this.verification.get(kid);
    if (!v) return undefined;
    const s = this.keys.get(kid)!.stored;
    return this.isPublished(s, this.clock.now()) ? v : undefined;
  }

  /** The public JWKS: every published key. */
  jwks(): { keys: JWK[] } {
    const now = this.clock.now();
    const keys: JWK[] = [];
    for (const k of [...this.keys.values()].sort((a, b) => b.stored.activatesAt - a.stored.activatesAt)) {
      if (!this.isPublished(k.stored, now)) continue;
      keys.push({ ...k.publicJwk, kid: k.stored.kid, alg: k.stored.alg, use: 'sig' });
    }
    return { keys };
  }

  /** Every key with its state, for `keys list` (no private material). */
  list(): Array<Omit<StoredKey, 'privateJwk' | 'publicJwk'> & { state: 'next' | 'active' | 'retired' | 'expired' }> {
    const now = this.clock.now();
    const active = this.keys.size ? this.safeSigningKid() : undefined;
    return [...this.keys.values()]
      .map((k) => {
        const { privateJwk: _p, publicJwk: _q, ...rest } = k.stored;
        const state = k.stored.kid === active ? 'active' : !this.isPublished(k.stored, now) ? 'expired' : k.stored.activatesAt > now ? 'next' : 'retired';
        return { ...rest, status: state === 'expired' ? 'retired' : state, state } as const;
      })
      .sort((a, b) => a.activatesAt - b.activatesAt);
  }

  private safeSigningKid(): string | undefined {
    try {
      return this.signingKey().kid;
    } catch {
      return undefined;
    }
  }

  private async createKey(alg: SigningAlg, activatesAt: number): Promise<StoredKey> {
    const { publicKey, privateKey } = await newKeyPair(alg);
    const kid = randomId(12);
    const stored: StoredKey = {
      kid,
      use: 'sig',
      alg,
      publicJwk: JSON.stringify(publicKey.export({ format: 'jwk' })),
      privateJwk: await this.envelope.encrypt(JSON.stringify(privateKey.export({ format: 'jwk' })), keyContext(kid)),
      status: activatesAt <= this.clock.now() ? 'active' : 'next',
      createdAt: this.clock.now(),
      activatesAt,
      retiresAt: null,
      expiresAt: null,
    };
    await this.store.insertKey(stored);
    return stored;
  }

  /**
   * Brings the ring in line with its schedule: ensures a signing key exists, that the
   * next key is published `prepublish` before it takes over, and drops keys past
   * their expiry. Returns true when anything changed (callers then publish `keys.changed`).
   */
  maintain(): Promise<boolean> {
    return this.oneAtATime(() => this.maintainNow());
  }

  /** Runs `change` after every rotate or maintain begun before it has ended. */
  private oneAtATime<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changing.then(change);
    this.changing = run.catch(() => undefined);
    return run;
  }

  private async maintainNow(): Promise<boolean> {
    await this.load();
    const now = this.clock.now();
    let changed = false;
    let current: LoadedKey | undefined;
    try {
      const kid = this.signingKey().kid;
      current = this.keys.get(kid);
    } catch {
      current = undefined;
    }
    if (!current) {
      await this.createKey(this.opts.alg, now);
      changed = true;
    } else {
      const s = current.stored;
      const handover = s.activatesAt + this.opts.rotationIntervalMs;
      const hasNext = [...this.keys.values()].some((k) => k.stored.activatesAt > s.activatesAt && this.isPublished(k.stored, now));
      if (!hasNext && now >= handover - this.opts.prepublishMs) {
        await this.createKey(this.opts.alg, Math.max(handover, now + this.opts.prepublishMs));
        changed = true;
      }
    }
    await this.load();
    changed = (await this.settleRetirements()) || changed;
    if (changed) await this.load();
    return changed;
  }

  /** Sets retiresAt/expiresAt on keys a newer key has superseded, and deletes expired ones. */
  private async settleRetirements(): Promise<boolean> {
    const now = this.clock.now();
    let changed = false;
    const sorted = [...this.keys.values()].map((k) => k.stored).sort((a, b) => a.activatesAt - b.activatesAt);
    for (let i = 0; i < sorted.length; i++) {
      const s = sorted[i]!;
      const successor = sorted.slice(i + 1).find((k) => k.activatesAt <= now);
      if (successor && s.expiresAt === null) {
        const retiresAt = s.retiresAt ?? successor.activatesAt;
        await this.store.updateKey(s.kid, { status: 'retired', retiresAt, expiresAt: retiresAt + this.opts.maxTokenLifetimeMs });
        changed = true;
      } else if (s.expiresAt !== null && s.expiresAt <= now) {
        await this.store.deleteKey(s.kid);
        changed = true;
      } else if (s.status === 'next' && s.activatesAt <= now && !successor) {
        await this.store.updateKey(s.kid, { status: 'active' });
        changed = true;
      }
    }
    return changed;
  }

  /**
   * Rotates now: the published next key (or, when there is none, a new key) starts
   * signing; the old key retires and stays published until its tokens have expired; a
   * new next key is published for the following rotation. Rotations (and `maintain`) on
   * one ring run one after the other: two at once would each activate a key of their own
   * and publish a next key each.
   */
  rotate(): Promise<{ activated: string; next: string }> {
    return this.oneAtATime(() => this.rotateNow());
  }

  private async rotateNow(): Promise<{ activated: string; next: string }> {
    await this.load();
    const now = this.clock.now();
    const current = this.safeSigningKid();
    const pending = [...this.keys.values()]
      .map((k) => k.stored)
      .filter((s) => s.activatesAt > now && this.isPublished(s, now))
      .sort((a, b) => a.activatesAt - b.activatesAt)[0];
    let activated: string;
    if (pending) {
      await this.store.updateKey(pending.kid, { activatesAt: now, status: 'active' });
      activated = pending.kid;
    } else {
      activated = (await this.createKey(this.opts.alg, now)).kid;
    }
    if (current && current !== activated) {
      await this.store.updateKey(current, { status: 'retired', retiresAt: now, expiresAt: now + this.opts.maxTokenLifetimeMs });
    }
    const next = await this.createKey(this.opts.alg, now + this.opts.rotationIntervalMs);
    await this.load();
    return { activated, next: next.kid };
  }
}
