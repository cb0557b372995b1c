/**
 * Apps (OAuth clients): registration, secret rotation, disable/enable, revocation of
 * every token of one app. Every node keeps an in-memory registry (loaded at start,
 * refreshed by `app.*` events and reconcile) so token issuance and the gateway never
 * wait on the store for a lookup.
 */
import { importJWK, type JWK } from 'jose';
import { PortcullisError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import type { EventBus } from '../core/events.js';
import type { AuditSink } from '../audit/sink.js';
import type { AppRecord, AppStore, ClientAuthMethod } from './store.js';
import { generateClientSecret, secretVerifier } from './secrets.js';

export interface CreateAppInput {
  name: string;
  audiences: string[];
  scopes: string[];
  tokenEndpointAuthMethod?: ClientAuthMethod;
  /** Public keys for private_key_jwt. */
  jwks?: JWK[];
}

/** What the API shows of an app: never the verifier. */
export interface AppView {
  client_id: string;
  name: string;
  audiences: string[];
  scopes: string[];
  token_endpoint_auth_method: ClientAuthMethod;
  status: 'active' | 'disabled';
  tokens_revoked_before: string | null;
  jwks_keys: number;
  created_at: string;
  updated_at: string;
}

export function viewApp(a: AppRecord): AppView {
  return {
    client_id: a.clientId,
    name: a.name,
    audiences: a.audiences,
    scopes: a.scopes,
    token_endpoint_auth_method: a.tokenEndpointAuthMethod,
    status: a.status,
    tokens_revoked_before: a.tokensRevokedBefore ? new Date(a.tokensRevokedBefore).toISOString() : null,
    jwks_keys: a.jwks?.length ?? 0,
    created_at: new Date(a.createdAt).toISOString(),
    updated_at: new Date(a.updatedAt).toISOString(),
  };
}

const NAME = /^[\w .@:-]{1,100}$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

async function checkJwks(jwks: JWK[]): Promise<void> {
  if (jwks.length === 0) throw new PortcullisError('request.invalid', 'jwks: private_key_jwt needs at least one public key');
  for (const [i, k] of jwks.entries()) {
    if ('d' in k || 'k' in k) throw new PortcullisError('request.invalid', `jwks[${i}]: only public keys may be registered`);
    try {
      await importJWK(k, k.alg ?? (k.kty === 'EC' ? 'ES256' : k.kty === 'OKP' ? 'EdDSA' : 'RS256'));
    } catch {
      throw new PortcullisError('request.invalid', `jwks[${i}]: not a usable public JWK`);
    }
  }
}

export class AppService {
  private readonly apps = new Map<string, AppRecord>();

  constructor(
    private readonly store: AppStore,
    private readonly events: EventBus,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
  ) {}

  /** Loads every app into memory (start and reconcile). */
  async load(): Promise<AppRecord[]> {
    const all = await this.store.listApps();
    this.apps.clear();
    for (const a of all) this.apps.set(a.clientId, a);
    return all;
  }

  /** Refreshes one app from the store (on an `app.changed` event). */
  async refresh(clientId: string): Promise<void> {
    const a = await this.store.getApp(clientId);
    if (a) this.apps.set(clientId, a);
    else this.apps.delete(clientId);
  }

  /** In-memory lookup (no store access). */
  find(clientId: string): AppRecord | undefined {
    return this.apps.get(clientId);
  }

  list(): AppRecord[] {
    return [...this.apps.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  get(clientId: string): AppRecord {
    const a = this.apps.get(clientId);
    if (!a) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
    return a;
  }

  /** Registers an app; the client secret is returned once and never stored. */
  async create(input: CreateAppInput, actor: string): Promise<{ app: AppRecord; clientSecret: string | null }> {
    if (!NAME.test(input.name)) throw new PortcullisError('request.invalid', 'name: 1-100 letters, digits, spaces or . @ : - _');
    if (input.audiences.length === 0) throw new PortcullisError('request.invalid', 'audiences: at least one audience is required');
    for (const s of input.scopes) if (!SCOPE.test(s)) throw new PortcullisError('request.invalid', `scopes: "${s}" is not a valid scope token`);
    const method = input.tokenEndpointAuthMethod ?? (input.jwks ? 'private_key_jwt' : 'client_secret_basic');
    if (method === 'private_key_jwt') await checkJwks(input.jwks ?? []);
    const now = this.clock.now();
    const clientSecret = method === 'private_key_jwt' ? null : generateClientSecret();
    const app: AppRecord = {
      clientId: randomId(12),
      name: input.name,
      audiences: [...new Set(input.audiences)],
      scopes: [...new Set(input.scopes)],
      tokenEndpointAuthMethod: method,
      secretVerifier: clientSecret ? secretVerifier(clientSecret) : null,
      jwks: method === 'private_key_jwt' ? (input.jwks ?? null) : null,
      status: 'active',
      tokensRevokedBefore: 0,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.createApp(app);
    this.apps.set(app.clientId, app);
    this.audit.record({ time: now, type: 'app.created', actor, clientId: app.clientId, data: { name: app.name, audiences: app.audiences, scopes: app.scopes, method } });
    await this.events.emit({ type: 'app.changed', clientId: app.clientId });
    return { app, clientSecret };
  }

  private async patch(clientId: string, patch: Parameters<AppStore['updateApp']>[1]): Promise<AppRecord> {
    const updated = await this.store.updateApp(clientId, patch, this.clock.now());
    if (!updated) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
    this.apps.set(clientId, updated);
    return updated;
  }

  /** Issues a new secret (returned once); the old one stops working at once. */
  async rotateSecret(clientId: string, actor: string): Promise<{ app: AppRecord; clientSecret: string }> {
    const app = await this.store.getApp(clientId);
    if (!app) throw new PortcullisError('not-found', `no app with client_id ${clientId}`);
    if (app.tokenEndpointAuthMethod === 'private_key_jwt') throw new PortcullisError('conflict', 'this app authenticates with private_key_jwt; it has no secret');
    const clientSecret = generateClientSecret();
    const updated = await this.patch(clientId, { secretVerifier: secretVerifier(clientSecret) });
    this.audit.record({ time: this.clock.now(), type: 'app.secret-rotated', actor, clientId });
    await this.events.emit({ type: 'app.changed', clientId });
    return { app: updated, clientSecret };
  }

  /** Revokes every token the app holds now; tokens issued afterwards work. */
  async revokeTokens(clientId: string, actor: string): Promise<AppRecord> {
    const before = this.clock.now();
    const updated = await this.patch(clientId, { tokensRevokedBefore: before });
    this.audit.record({ time: before, type: 'app.tokens-revoked', actor, clientId });
    await this.events.emit({ type: 'app.tokens-revoked', clientId, before });
    await this.events.emit({ type: 'app.changed', clientId });
    return updated;
  }

  /** Disables the app: every token stops working and no new token is issued. */
  async disable(clientId: string, actor: string): Promise<AppRecord> {
    const now = this.clock.now();
    const updated = await this.patch(clientId, { status: 'disabled', tokensRevokedBefore: now });
    this.audit.record({ time: now, type: 'app.disabled', actor, clientId });
    await this.events.emit({ type: 'app.status', clientId, disabled: true });
    await this.events.emit({ type: 'app.tokens-revoked', clientId, before: now });
    await this.events.emit({ type: 'app.changed', clientId });
    return updated;
  }

  async enable(clientId: string, actor: string): Promise<AppRecord> {
    const updated = await this.patch(clientId, { status: 'active' });
    this.audit.record({ time: this.clock.now(), type: 'app.enabled', actor, clientId });
    await this.events.emit({ type: 'app.status', clientId, disabled: false });
    await this.events.emit({ type: 'app.changed', clientId });
    return updated;
  }

  /** Replaces the public keys of a private_key_jwt app. */
  async setJwks(clientId: string, jwks: JWK[], actor: string): Promise<AppRecord> {
    await checkJwks(jwks);
    const updated = await this.patch(clientId, { jwks, tokenEndpointAuthMethod: 'private_key_jwt', secretVerifier: null });
    this.audit.record({ time: this.clock.now(), type: 'app.jwks-set', actor, clientId, data: { keys: jwks.length } });
    await this.events.emit({ type: 'app.changed', clientId });
    return updated;
  }
}
