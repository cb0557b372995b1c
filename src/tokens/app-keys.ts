/**
 * App signing keys: the keys an app signs HTTP requests with (RFC 9421). Per app, a
 * generated HMAC secret (256 bits, returned once, sealed at rest by the Envelope)
 * and/or registered public keys (Ed25519, ECDSA P-256/P-384, RSA ≥ 2048 bits, as JWK
 * or PEM), each named by a `keyid` unique across the deployment. Several keys may be
 * active at once, so an app rotates by adding the new key before revoking the old.
 *
 * Every node keeps the active keys in memory as WebCrypto `CryptoKey`s, imported once
 * (loaded at start and at reconcile, refreshed by `app-keys.changed` events), so the
 * gateway's `lookup(keyid)` never waits on the store.
 */
import { createPublicKey, createSecretKey, randomBytes, type JsonWebKey as NodeJsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { PortcullisError } from '../core/errors.js';
import { rsaKeyWeakness } from '../crypto/key-strength.js';
import { StampedMap } from '../core/stamped-map.js';
import { randomId } from '../core/ids.js';
import type { PageRequest } from '../core/page.js';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { AuditSink } from '../audit/sink.js';
import type { Envelope } from '../crypto/envelope.js';
import { importParams } from '../signatures/algorithms.js';
import type { SignatureAlgorithm } from '../signatures/types.js';
import type { AppSigningKeyRecord, AppSigningKeyStore } from './app-keys-store.js';
import type { AppRecord, AppStore } from './store.js';

/** What the gateway gets for a keyid: the owning app, the algorithm the key is registered for, and the imported key. */
export interface AppSigningKey {
  clientId: string;
  alg: SignatureAlgorithm;
  key: CryptoKey;
  /** The same key for node:crypto (the gateway verifies on it). */
  keyObject: KeyObject;
}

export type AddAppKeyInput =
  | { type: 'hmac'; keyid?: string }
  | { type: 'public'; jwk: JWK; alg?: SignatureAlgorithm; keyid?: string }
  | { type: 'public'; pem: string; alg?: SignatureAlgorithm; keyid?: string };

/** What the API shows of a key: never the secret (except once, beside the view, at creation). */
export interface AppKeyView {
  keyid: string;
  client_id: string;
  type: 'hmac' | 'public';
  alg: SignatureAlgorithm;
  status: 'active' | 'revoked';
  public_jwk: JWK | null;
  created_at: string;
  revoked_at: string | null;
}

export function viewAppKey(k: AppSigningKeyRecord): AppKeyView {
  return {
    keyid: k.keyid,
    client_id: k.clientId,
    type: k.type,
    alg: k.alg,
    status: k.status,
    public_jwk: k.publicJwk,
    created_at: new Date(k.createdAt).toISOString(),
    revoked_at: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
  };
}

/** RFC 8941 token-safe and printable: keyids travel in `keyid="…"` and in URLs. */
export const KEYID = /^[A-Za-z0-9._~:-]{1,100}$/;
const secretContext = (keyid: string) => `app-signing-key:${keyid}`;

const RSA_ALGS: Record<string, SignatureAlgorithm> = { PS512: 'rsa-pss-sha512', RS256: 'rsa-v1_5-sha256' };

/** Which RFC 9421 algorithm a public key is for; RSA keys say which padding with `alg` (default rsa-pss-sha512). */
function algorithmFor(key: KeyObject, jwkAlg: string | undefined, asked: SignatureAlgorithm | undefined): SignatureAlgorithm {
  const type = key.asymmetricKeyType;
  let alg: SignatureAlgorithm;
  if (type === 'ed25519') alg = 'ed25519';
  else if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') alg = 'ecdsa-p256-sha256';
    else if (curve === 'secp384r1') alg = 'ecdsa-p384-sha384';
    else throw new PortcullisError('request.invalid', `key: EC curve ${curve ?? 'unknown'} is not accepted (P-256 or P-384)`);
  } else if (type === 'rsa') {
    const weak = rsaKeyWeakness(key);
    if (weak !== undefined) throw new PortcullisError('request.invalid', `key: ${weak}`);
    const fromJwk = jwkAlg === undefined ? undefined : RSA_ALGS[jwkAlg];
    if (jwkAlg !== undefined && fromJwk === undefined) throw new PortcullisError('request.invalid', `key: JWK alg ${jwkAlg} is not usable for RSA signatures (PS512 or RS256)`);
    alg = asked ?? fromJwk ?? 'rsa-pss-sha512';
    if (alg !== 'rsa-pss-sha512' && alg !== 'rsa-v1_5-sha256') throw new PortcullisError('request.invalid', `alg: ${alg} does not fit an RSA key`);
    if (fromJwk !== undefined && fromJwk !== alg) throw new PortcullisError('request.invalid', `alg: ${alg} disagrees with the JWK alg ${jwkAlg}`);
    return alg;
  } else throw new PortcullisError('request.invalid', `key: ${type ?? 'this'} key type is not accepted (Ed25519, EC P-256/P-384 or RSA)`);
  if (asked !== undefined && asked !== alg) throw new PortcullisError('request.invalid', `alg: ${asked} does not fit this ${alg} key`);
  return alg;
}

/** Parses a registered public key; private keys are refused (the app keeps its private key). */
function parsePublicKey(input: { jwk: JWK } | { pem: string }): { key: KeyObject; jwkAlg: string | undefined } {
  if ('jwk' in input) {
    const jwk = input.jwk;
    if (!jwk || typeof jwk !== 'object') throw new PortcullisError('request.invalid', 'jwk: expected a JSON Web Key object');
    if ('d' in jwk || 'k' in jwk || 'p' in jwk) throw new PortcullisError('request.invalid', 'jwk: only public keys may be registered (it carries private or symmetric material)');
    try {
      return { key: createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }), jwkAlg: jwk.alg };
    } catch {
      throw new PortcullisError('request.invalid', 'jwk: not a usable public JWK');
    }
  }
  if (typeof input.pem !== 'string' || !/-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----/.test(input.pem) || /PRIVATE KEY-----/.test(input.pem)) {
    throw new PortcullisError('request.invalid', 'pem: expected a PEM public key (-----BEGIN PUBLIC KEY-----); private keys are never registered');
  }
  try {
    return { key: createPublicKey(input.pem), jwkAlg: undefined };
  } catch {
    throw new PortcullisError('request.invalid', 'pem: not a usable public key');
  }
}

export class AppSigningKeys {
  /** Active keys by keyid; a re-read never undoes a newer add or revocation. */
  private readonly active = new StampedMap<AppSigningKey & { record: AppSigningKeyRecord }>();

  constructor(
    private readonly store: AppSigningKeyStore & Pick<AppStore, 'getApp'>,
    private readonly envelope: Envelope,
    private readonly events: EventBus,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    /** In-memory app registry: a key of an unknown or disabled app is not returned by `lookup`. */
    private readonly apps?: { find(clientId: string): Pick<AppRecord, 'status'> | undefined },
  ) {}

  /**
   * The active key named `keyid`, from memory (no store access); undefined for an
   * unknown or revoked key, or one whose app is disabled.
   *
   * @example
   * const found = appSigningKeys.lookup(params.keyid);
   * if (!found || found.clientId !== token.client_id) deny('signature.unknown-key');
   */
  lookup(keyid: string): AppSigningKey | undefined {
    const k = this.active.get(keyid);
    if (!k) return undefined;
    if (this.apps) {
      const app = this.apps.find(k.clientId);
      if (!app || app.status !== 'active') return undefined;
    }
    return { clientId: k.clientId, alg: k.alg, key: k.key, keyObject: k.keyObject };
  }

  /** Re-reads every key (start and reconcile); keys whose record did not change keep their CryptoKey. */
  async load(): Promise<void> {
    const from = this.active.stamp();
    const all = await this.store.listAppSigningKeys();
    const next = new Map<string, AppSigningKey & { record: AppSigningKeyRecord }>();
    for (const r of all) {
      if (r.status !== 'active') continue;
      const prior = this.active.get(r.keyid);
      next.set(r.keyid, prior && prior.record.status === r.status && prior.record.clientId === r.clientId ? prior : await this.imported(r));
    }
    this.active.replaceAll(next, from);
  }

  /** Re-reads one key (on an `app-keys.changed` event). */
  async refresh(keyid: string): Promise<void> {
    const from = this.active.stamp();
    const r = await this.store.getAppSigningKey(keyid);
    this.active.set(keyid, r && r.status === 'active' ? await this.imported(r) : undefined, from);
  }

  private async imported(r: AppSigningKeyRecord): Promise<AppSigningKey & { record: AppSigningKeyRecord }> {
    let key: CryptoKey;
    let keyObject: KeyObject;
    if (r.type === 'hmac') {
      const secret = await this.envelope.decrypt(r.sealedSecret ?? '', secretContext(r.keyid));
      try {
        key = await crypto.subtle.importKey('raw', secret as Uint8Array<ArrayBuffer>, importParams('hmac-sha256'), false, ['sign', 'verify']);
        keyObject = createSecretKey(secret);
      } finally {
        secret.fill(0);
      }
    } else {
      key = await crypto.subtle.importKey('jwk', r.publicJwk as JsonWebKey, importParams(r.alg), false, ['verify']);
      keyObject = createPublicKey({ key: r.publicJwk as NodeJsonWebKey, format: 'jwk' });
    }
    return { clientId: r.clientId, alg: r.alg, key, keyObject, record: r };
  }

  /** The app's keys, oldest first; one page of them when `page` is given. */
  async list(clientId: string, page?: PageRequest): Promise<AppSigningKeyRecord[]> {
    await this.requireApp(clientId);
    return this.store.listAppSigningKeys(clientId, page);
  }

  private async requireApp(clientId: string): Promise<void> {
    if (!(await this.store.getApp(clientId))) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
  }

  /**
   * Adds a key to an app. For `hmac`, the generated secret (base64url, 32 bytes) is
   * returned here and never again; only its sealed form is stored.
   */
  async add(clientId: string, input: AddAppKeyInput, actor: string): Promise<{ key: AppSigningKeyRecord; secret: string | null }> {
    await this.requireApp(clientId);
    const keyid = input.keyid ?? `${clientId.slice(0, 16)}.${randomId(9)}`;
    if (!KEYID.test(keyid)) throw new PortcullisError('request.invalid', 'keyid: 1-100 letters, digits or . _ ~ : -');
    const now = this.clock.now();
    let record: AppSigningKeyRecord;
    let secret: string | null = null;
    if (input.type === 'hmac') {
      const raw = randomBytes(32);
      secret = raw.toString('base64url');
      record = { keyid, clientId, type: 'hmac', alg: 'hmac-sha256', sealedSecret: await this.envelope.encrypt(raw, secretContext(keyid)), publicJwk: null, status: 'active', createdAt: now, revokedAt: null };
      raw.fill(0);
    } else {
      const { key, jwkAlg } = parsePublicKey('jwk' in input ? { jwk: input.jwk } : { pem: input.pem });
      const alg = algorithmFor(key, jwkAlg, input.alg);
      const publicJwk = key.export({ format: 'jwk' }) as JWK;
      record = { keyid, clientId, type: 'public', alg, sealedSecret: null, publicJwk, status: 'active', createdAt: now, revokedAt: null };
    }
    const loaded = await this.imported(record);
    await this.store.insertAppSigningKey(record);
    this.active.set(keyid, loaded, this.active.stamp());
    this.audit.record({ time: now, type: 'app.signing-key-added', actor, clientId, data: { keyid, type: record.type, alg: record.alg } });
    await this.events.emit({ type: 'app-keys.changed', clientId, keyid });
    return { key: record, secret };
  }

  /** Revokes one key at once on every node; the app's other keys keep working. */
  async revoke(clientId: string, keyid: string, actor: string): Promise<AppSigningKeyRecord> {
    const existing = await this.store.getAppSigningKey(keyid);
    if (!existing || existing.clientId !== clientId) throw new PortcullisError('not-found', `app ${clientId} has no signing key ${keyid}`);
    const now = this.clock.now();
    const result = await this.store.revokeAppSigningKey(keyid, now);
    this.active.set(keyid, undefined, this.active.stamp());
    // only the call whose conditional update changed the key audits: one that read it active
    // beside a concurrent revocation gets the answer a revoked key gets, without a second event
    if (result?.revoked === true) this.audit.record({ time: now, type: 'app.signing-key-revoked', actor, clientId, data: { keyid } });
    await this.events.emit({ type: 'app-keys.changed', clientId, keyid });
    return result?.key ?? existing;
  }
}
