/**
 * Signs outgoing webhook requests (RFC 9421) with the identity plane's current
 * signing key, whose public half is in the JWKS at `/jwks`, so a receiver verifies
 * with the same key set it uses for tokens. The JOSE algorithm of the key ring maps
 * onto an RFC 9421 algorithm (ES256 → ecdsa-p256-sha256, EdDSA → ed25519, RS256 →
 * rsa-v1_5-sha256); each key is imported once as a WebCrypto key.
 *
 * Covered: `@method`, `@target-uri`, `content-digest`, `content-type`, with
 * `created`, `keyid`, a fresh `nonce` (128 random bits, base64url) per request, so a
 * receiver can refuse a replay within the window, and the `tag` of the caller's
 * purpose (`portcullis-webhook` for events, `portcullis-otp` for one-time codes,
 * tags.ts), so a receiver of one kind refuses the other. Header fields the caller adds
 * (an event's `Portcullis-Delivery` id) are set before signing and covered after those,
 * so nothing the receiver acts on is added outside the signature.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { contentDigest } from '../signatures/content-digest.js';
import { importParams } from '../signatures/algorithms.js';
import { signMessage } from '../signatures/sign.js';
import type { SignatureAlgorithm } from '../signatures/types.js';
import type { Clock } from '../core/clock.js';
import type { WebhookTag } from './tags.js';

export { DELIVERY_HEADER, OTP_TAG, WEBHOOK_TAG, type WebhookTag } from './tags.js';
export const WEBHOOK_COMPONENTS = ['@method', '@target-uri', 'content-digest', 'content-type'] as const;

const JOSE_TO_RFC9421: Readonly<Record<string, SignatureAlgorithm>> = { ES256: 'ecdsa-p256-sha256', EdDSA: 'ed25519', RS256: 'rsa-v1_5-sha256', ES384: 'ecdsa-p384-sha384', PS512: 'rsa-pss-sha512' };

/** The key ring's current signing key (KeyRing.signingKey()). */
export interface SigningKeySource {
  signingKey(): { kid: string; alg: string; privateKey: KeyObject };
}

export interface WebhookSigner {
  /**
   * Returns the headers of a signed POST of `body` to `url`, signed with `tag` (what the
   * request is for); `fields` (lower-case names) are sent too and covered, in their order.
   */
  signedHeaders(url: string, body: Uint8Array, tag: WebhookTag, fields?: Readonly<Record<string, string>>): Promise<Headers>;
}

/**
 * @example
 * const signer = new KeyRingWebhookSigner(services.keys, services.clock);
 * const headers = await signer.signedHeaders('https://hooks.example/in', bytes, WEBHOOK_TAG, { [DELIVERY_HEADER]: 'dlv_…' });
 */
export class KeyRingWebhookSigner implements WebhookSigner {
  private cache: { kid: string; key: CryptoKey; alg: SignatureAlgorithm } | undefined;

  constructor(
    private readonly keys: SigningKeySource,
    private readonly clock: Clock,
  ) {}

  private async current(): Promise<{ kid: string; key: CryptoKey; alg: SignatureAlgorithm }> {
    const k = this.keys.signingKey();
    if (this.cache?.kid === k.kid) return this.cache;
    const alg = JOSE_TO_RFC9421[k.alg];
    if (!alg) throw new Error(`signing key ${k.kid} (${k.alg}) has no RFC 9421 algorithm`);
    const jwk = k.privateKey.export({ format: 'jwk' });
    const key = await crypto.subtle.importKey('jwk', jwk as JsonWebKey, importParams(alg), false, ['sign']);
    this.cache = { kid: k.kid, key, alg };
    return this.cache;
  }

  async signedHeaders(url: string, body: Uint8Array, tag: WebhookTag, fields: Readonly<Record<string, string>> = {}): Promise<Headers> {
    const { kid, key, alg } = await this.current();
    const headers = new Headers({ 'content-type': 'application/json', 'content-digest': await contentDigest(body, ['sha-256']), 'user-agent': 'Portcullis-Webhooks/1' });
    const extra: string[] = [];
    for (const [field, value] of Object.entries(fields)) {
      const name = field.toLowerCase();
      if (headers.has(name) || name.startsWith('signature')) throw new Error(`webhook signer: ${name} is set by the signer`);
      headers.set(name, value);
      extra.push(name);
    }
    const s = await signMessage({ method: 'POST', url, headers }, { key, alg, keyid: kid, components: [...WEBHOOK_COMPONENTS, ...extra], nonce: randomBytes(16).toString('base64url'), tag, clock: this.clock });
    headers.set('signature-input', s.signatureInput);
    headers.set('signature', s.signature);
    return headers;
  }
}
