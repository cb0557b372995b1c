/**
 * Per-app encryption keys (JWE, RFC 7516/7518): an app may be given AES-256 keys for
 * `dir` or A256KW with A256GCM (generated here, returned once as a JWK, sealed at rest
 * by the Envelope) and may register its own public encryption keys (P-256, X25519,
 * RSA ≥ 2048 with an odd exponent ≥ 3) so responses can be encrypted to it. Each key is named by a `kid`
 * unique across the deployment; several may be active at once, so an app rotates by
 * adding the new key before revoking the old.
 *
 * Every node keeps the active keys in memory as KeyObjects, imported once (loaded at
 * start and at reconcile, refreshed by `app-enc-keys.changed` events), so the gateway's
 * `symmetric(clientId, kid)` and `public(clientId)` never wait on the store.
 */
import { createPublicKey, createSecretKey, diffieHellman, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { AuditSink } from '../audit/sink.js';
import type { Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { randomId } from '../core/ids.js';
import type { PageRequest } from '../core/page.js';
import { StampedMap } from '../core/stamped-map.js';
import type { Envelope } from '../crypto/envelope.js';
import { generateSymmetricKey } from '../crypto/jwe/generate.js';
import { keyFacts } from '../crypto/jwe/key-check.js';
import { ALGS_FOR_KIND, type JweAlg } from '../crypto/jwe/policy.js';
import type { AppEncryptionAlg, AppEncryptionKeyRecord, AppEncryptionKeyStore } from './app-encryption-keys-store.js';
import type { AppRecord, AppStore } from './store.js';

/** A key the gateway uses for one app: decrypts requests (symmetric) or encrypts responses (both kinds). */
export interface AppEncryptionKey {
  kid: string;
  clientId: string;
  alg: AppEncryptionAlg;
  /** AES-256 secret (symmetric) or the app's public key. */
  key: KeyObject;
  /** Always `enc`, so the key can be handed to decryptBody as a JweDecryptionKey. */
  use: 'enc';
}

export type AddAppEncryptionKeyInput =
  | { type: 'symmetric'; alg?: 'dir' | 'A256KW'; kid?: string }
  | { type: 'public'; jwk: JWK; alg?: AppEncryptionAlg; kid?: string };

/** What the API shows of a key: never the secret (except once, beside the view, at creation). */
export interface AppEncryptionKeyView {
  kid: string;
  client_id: string;
  type: 'symmetric' | 'public';
  alg: AppEncryptionAlg;
  status: 'active' | 'revoked';
  public_jwk: JWK | null;
  created_at: string;
  revoked_at: string | null;
}

export function viewAppEncryptionKey(k: AppEncryptionKeyRecord): AppEncryptionKeyView {
  return {
    kid: k.kid,
    client_id: k.clientId,
    type: k.type,
    alg: k.alg,
    status: k.status,
    public_jwk: k.publicJwk,
    created_at: new Date(k.createdAt).toISOString(),
    revoked_at: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
  };
}

/** Printable and URL-safe: kids travel in JWE headers and in admin URLs. */
export const ENC_KID = /^[A-Za-z0-9._~:-]{1,100}$/;
export const appEncryptionKeyContext = (kid: string) => `app-encryption-key:${kid}`;
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;
const PRIVATE_MEMBERS = ['d', 'k', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

interface Loaded extends AppEncryptionKey {
  record: AppEncryptionKeyRecord;
}

const invalid = (msg: string) => new PortcullisError('request.invalid', msg);

/**
 * RFC 7748 §6.1: with a small-order point X25519 yields the all-zero secret, whatever the
 * other key, so ECDH-ES to it fails (or would use a known key); a fresh agreement tells.
 */
function agreesX25519(publicKey: KeyObject): boolean {
  try {
    const shared = diffieHellman({ privateKey: generateKeyPairSync('x25519').privateKey, publicKey });
    return shared.some((b) => b !== 0);
  } catch {
    return false;
  }
}

/** Parses and checks a registered public encryption key; returns the key, its public JWK and the algorithm. */
function parsePublicEncryptionKey(jwk: JWK, asked: AppEncryptionAlg | undefined): { key: KeyObject; publicJwk: JWK; alg: AppEncryptionAlg } {
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw invalid('jwk: expected a JSON Web Key object');
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw invalid('jwk: only public keys may be registered (it carries private or symmetric material)');
  if (jwk.use !== undefined && jwk.use !== 'enc') throw invalid(`jwk: use is ${String(jwk.use)}; an encryption key has use "enc"`);
  if (jwk.key_ops !== undefined && (!Array.isArray(jwk.key_ops) || !jwk.key_ops.some((o) => o === 'encrypt' || o === 'wrapKey' || o === 'deriveKey' || o === 'deriveBits'))) {
    throw invalid('jwk: key_ops does not allow encryption');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    throw invalid('jwk: not a usable public JWK');
  }
  let facts;
  try {
    facts = keyFacts(key);
  } catch {
    throw invalid('jwk: key type not accepted for encryption (EC P-256, X25519 or RSA >= 2048)');
  }
  // at least 2048 bits and an odd exponent >= 3 (rsaKeyWeakness): with e = 1 a response "encrypted" to the key is its padded plaintext
  if (facts.kind === 'RSA' && facts.weakness !== undefined) throw invalid(`jwk: ${facts.weakness}`);
  if (facts.kind === 'X25519' && !agreesX25519(key)) throw invalid('jwk: a small-order X25519 point (RFC 7748 §6.1: every shared secret with it is all zero); nothing can be encrypted to it');
  const allowed = ALGS_FOR_KIND[facts.kind];
  const fromJwk = jwk.alg;
  if (fromJwk !== undefined && !allowed.includes(fromJwk as JweAlg)) throw invalid(`jwk: alg ${fromJwk} does not fit a ${facts.kind} encryption key (${allowed.join(', ')})`);
  const alg = (asked ?? fromJwk ?? allowed[0]!) as AppEncryptionAlg;
  if (!allowed.includes(alg)) throw invalid(`alg: ${alg} does not fit a ${facts.kind} encryption key (${allowed.join(', ')})`);
  if (fromJwk !== undefined && asked !== undefined && fromJwk !== asked) throw invalid(`alg: ${asked} disagrees with the JWK alg ${fromJwk}`);
  const exported = key.export({ format: 'jwk' }) as Record<string, unknown>;
  const publicJwk: Record<string, unknown> = {};
  for (const m of PUBLIC_MEMBERS) if (exported[m] !== undefined) publicJwk[m] = exported[m];
  return { key, publicJwk: publicJwk as JWK, alg };
}

export class AppEncryptionKeys {
  /** Active keys by kid; a re-read never undoes a newer add or revocation. */
  private readonly active = new StampedMap<Loaded>();

  constructor(
    private readonly store: AppEncryptionKeyStore & Pick<AppStore, 'getApp'>,
    private readonly envelope: Envelope,
    private readonly events: EventBus,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    /** In-memory app registry: keys of an unknown or disabled app are not returned. */
    private readonly apps?: { find(clientId: string): Pick<AppRecord, 'status'> | undefined },
  ) {}

  private appActive(clientId: string): boolean {
    if (!this.apps) return true;
    return this.apps.find(clientId)?.status === 'active';
  }

  private newest(clientId: string, type: 'symmetric' | 'public', alg?: string): Loaded | undefined {
    let best: Loaded | undefined;
    for (const k of this.active.values()) {
      if (k.clientId !== clientId || k.record.type !== type || (alg !== undefined && k.alg !== alg)) continue;
      const r = k.record;
      if (!best || r.createdAt > best.record.createdAt || (r.createdAt === best.record.createdAt && r.kid > best.kid)) best = k;
    }
    return best;
  }

  private static out(k: Loaded): AppEncryptionKey {
    return { kid: k.kid, clientId: k.clientId, alg: k.alg, key: k.key, use: 'enc' };
  }

  /**
   * The app's active symmetric key named `kid` (or, without a kid, its newest one, of
   * `alg` when given: a kid-less JWE takes the newest key registered for its own alg), from
   * memory; undefined when there is none, it belongs to another app, or the app is disabled.
   *
   * @example
   * const body = await decryptBody(jwe, { getKey: (kid, h) => appEncryptionKeys.symmetric(token.clientId, kid, h.alg), context: { aud, app: token.clientId } });
   */
  symmetric(clientId: string, kid?: string, alg?: string): AppEncryptionKey | undefined {
    if (!this.appActive(clientId)) return undefined;
    const k = kid === undefined ? this.newest(clientId, 'symmetric', alg) : this.active.get(kid);
    if (!k || k.clientId !== clientId || k.record.type !== 'symmetric') return undefined;
    return AppEncryptionKeys.out(k);
  }

  /** The app's newest active registered public key (responses are encrypted to it), from memory. */
  public(clientId: string): (AppEncryptionKey & { jwk: JWK }) | undefined {
    if (!this.appActive(clientId)) return undefined;
    const k = this.newest(clientId, 'public');
    return k && { ...AppEncryptionKeys.out(k), jwk: { ...k.record.publicJwk!, kid: k.kid, alg: k.alg, use: 'enc' } };
  }

  /** Re-reads every key (start and reconcile); unchanged records keep their KeyObject. */
  async load(): Promise<void> {
    const from = this.active.stamp();
    const next = new Map<string, Loaded>();
    for (const r of await this.store.listAppEncryptionKeys()) {
      if (r.status !== 'active') continue;
      const prior = this.active.get(r.kid);
      next.set(r.kid, prior && prior.record.clientId === r.clientId && prior.record.sealedKey === r.sealedKey ? prior : await this.imported(r));
    }
    this.active.replaceAll(next, from);
  }

  /** Re-reads one key (on an `app-enc-keys.changed` event). */
  async refresh(kid: string): Promise<void> {
    const from = this.active.stamp();
    const r = await this.store.getAppEncryptionKey(kid);
    this.active.set(kid, r && r.status === 'active' ? await this.imported(r) : undefined, from);
  }

  private async imported(r: AppEncryptionKeyRecord): Promise<Loaded> {
    let key: KeyObject;
    if (r.type === 'symmetric') {
      const raw = await this.envelope.decrypt(r.sealedKey ?? '', appEncryptionKeyContext(r.kid));
      try {
        key = createSecretKey(raw);
      } finally {
        raw.fill(0);
      }
    } else {
      key = createPublicKey({ key: r.publicJwk as JsonWebKey, format: 'jwk' });
    }
    return { kid: r.kid, clientId: r.clientId, alg: r.alg, key, use: 'enc', record: r };
  }

  private async requireApp(clientId: string): Promise<void> {
    if (!(await this.store.getApp(clientId))) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
  }

  /** The app's keys, oldest first; one page of them when `page` is given. */
  async list(clientId: string, page?: PageRequest): Promise<AppEncryptionKeyRecord[]> {
    await this.requireApp(clientId);
    return this.store.listAppEncryptionKeys(clientId, page);
  }

  /**
   * Adds a key to an app. For `symmetric`, the generated key is returned here as a JWK
   * (`{kty:'oct', k, kid, alg, use:'enc'}`) and never again; only its sealed form is stored.
   */
  async add(clientId: string, input: AddAppEncryptionKeyInput, actor: string): Promise<{ key: AppEncryptionKeyRecord; secret: JWK | null }> {
    await this.requireApp(clientId);
    const kid = input.kid ?? `${clientId.slice(0, 16)}.enc.${randomId(9)}`;
    if (!ENC_KID.test(kid)) throw invalid('kid: 1-100 letters, digits or . _ ~ : -');
    const now = this.clock.now();
    let record: AppEncryptionKeyRecord;
    let secret: JWK | null = null;
    if (input.type === 'symmetric') {
      const alg = input.alg ?? 'dir';
      if (alg !== 'dir' && alg !== 'A256KW') throw invalid('alg: a symmetric key is for dir or A256KW');
      const generated = generateSymmetricKey(alg, kid);
      const raw = generated.key.export();
      try {
        record = { kid, clientId, type: 'symmetric', alg, sealedKey: await this.envelope.encrypt(raw, appEncryptionKeyContext(kid)), publicJwk: null, status: 'active', createdAt: now, revokedAt: null };
      } finally {
        raw.fill(0);
      }
      secret = generated.jwk;
    } else {
      const { publicJwk, alg } = parsePublicEncryptionKey(input.jwk, input.alg);
      if (alg === 'dir' || alg === 'A256KW') throw invalid('alg: dir and A256KW are for generated symmetric keys');
      record = { kid, clientId, type: 'public', alg, sealedKey: null, publicJwk, status: 'active', createdAt: now, revokedAt: null };
    }
    const loaded = await this.imported(record);
    await this.store.insertAppEncryptionKey(record);
    this.active.set(kid, loaded, this.active.stamp());
    this.audit.record({ time: now, type: 'app.encryption-key-added', actor, clientId, data: { kid, type: record.type, alg: record.alg } });
    await this.events.emit({ type: 'app-enc-keys.changed', clientId, kid });
    return { key: record, secret };
  }

  /** Revokes one key at once on every node; the app's other keys keep working. */
  async revoke(clientId: string, kid: string, actor: string): Promise<AppEncryptionKeyRecord> {
    const existing = await this.store.getAppEncryptionKey(kid);
    if (!existing || existing.clientId !== clientId) throw new PortcullisError('not-found', `app ${clientId} has no encryption key ${kid}`);
    const now = this.clock.now();
    const result = await this.store.revokeAppEncryptionKey(kid, now);
    this.active.set(kid, undefined, this.active.stamp());
    // only the call whose conditional update changed the key audits: one that read it active
    // beside a concurrent revocation gets the answer a revoked key gets, without a second event
    if (result?.revoked === true) this.audit.record({ time: now, type: 'app.encryption-key-revoked', actor, clientId, data: { kid } });
    await this.events.emit({ type: 'app-enc-keys.changed', clientId, kid });
    return result?.key ?? existing;
  }
}
