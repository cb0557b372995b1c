/**
 * The gateway with message policies, in its own process: createGateway + the
 * `require.signature` / `require.encryption` steps (src/gateway/message-policies.ts)
 * on node:http, one route to the bench upstream with `require.token`.
 *
 * MODE: `token` (token only, POST 1 KiB), `hmac` | `ed25519` | `p256` (token +
 * RFC 9421 signature over @method, @target-uri, content-digest with a nonce),
 * `jwe-ecdh` (token + 1 KiB body as ECDH-ES+A256KW/A256GCM JWE to a P-256 key),
 * `jwe-dir` (token + dir/A256GCM JWE with the app's symmetric key).
 *
 * Keys are generated here and served from memory like the node's in-memory lookups.
 * Once listening, the server signs (or encrypts) one request for its own URL and
 * writes `{ headers, body, raw }` to $OUT, `raw` being the crypto-only rate measured in
 * this process before listening: node:crypto verifications/s (one at a time, on the
 * event loop) for signatures; jose `compactDecrypt`/s one at a time and with 64 in
 * flight for JWE — the denominators of the limit formula.
 *
 * The load generator repeats one request, so its nonce would be a replay after the
 * first: here the nonce is consumed on a real memory ephemeral store under a key made
 * unique per request (the same map insert and expiry work, always the first use).
 */
import { createHmac, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactEncrypt, compactDecrypt, type CompactJWEHeaderParameters } from 'jose';
import { Registry } from 'prom-client';
import type { AuditEventInput } from '../../src/audit/store.js';
import { systemClock } from '../../src/core/clock.js';
import { configSchema } from '../../src/core/config/schema.js';
import { silentLogger } from '../../src/core/logger.js';
import { GcmMeter, MemoryKeyUsageStore } from '../../src/crypto/gcm-usage.js';
import { generateEncryptionKey, generateSymmetricKey } from '../../src/crypto/jwe/generate.js';
import { attachGateway, createGateway, gatewayServerOptions } from '../../src/gateway/gateway.js';
import { messagePolicySteps } from '../../src/gateway/message-policies.js';
import { importParams } from '../../src/signatures/algorithms.js';
import { contentDigest } from '../../src/signatures/content-digest.js';
import { signMessage } from '../../src/signatures/sign.js';
import type { SignatureAlgorithm } from '../../src/signatures/types.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { RevocationSet } from '../../src/tokens/revocation-set.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`${k} is required`);
  return v;
};
const mode = env('MODE');
const out = env('OUT');
const APP = 'app-0';
const AUD = 'bench-api';
const KEYID = 'bench-k';
const tokenKey = { kid: env('KID'), alg: 'ES256', key: createPublicKey(readFileSync(env('PUBLIC_KEY_PEM_FILE'), 'utf8')) };

const sigAlg: SignatureAlgorithm | undefined = mode === 'hmac' ? 'hmac-sha256' : mode === 'ed25519' ? 'ed25519' : mode === 'p256' ? 'ecdsa-p256-sha256' : undefined;
const encMode = mode === 'jwe-ecdh' || mode === 'jwe-dir' ? mode : undefined;

const cfg = configSchema.parse({
  issuer: env('ISSUER'),
  routes: [
    {
      name: 'bench',
      match: { pathPrefix: '/' },
      upstream: env('UPSTREAM_URL'),
      require: {
        token: { audience: AUD, scopes: ['bench:read'] },
        ...(sigAlg !== undefined ? { signature: { maxAge: '1h' } } : {}),
        ...(encMode !== undefined ? { encryption: { request: true } } : {}),
      },
    },
  ],
});

// signing keys, imported as the node imports them (non-extractable WebCrypto keys)
let signKey: CryptoKey | undefined;
let verifyKey: CryptoKey | undefined;
let verifyKeyObject: KeyObject | undefined;
let rawVerify: ((data: Buffer, sig: Uint8Array) => boolean) | undefined;
if (sigAlg === 'hmac-sha256') {
  const secret = randomBytes(32);
  verifyKeyObject = createSecretKey(secret);
  signKey = await crypto.subtle.importKey('raw', secret, importParams(sigAlg), false, ['sign']);
  verifyKey = await crypto.subtle.importKey('raw', secret, importParams(sigAlg), false, ['verify']);
  rawVerify = (data, sig) => timingSafeEqual(createHmac('sha256', secret).update(data).digest(), sig);
} else if (sigAlg !== undefined) {
  const pair = sigAlg === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  signKey = await crypto.subtle.importKey('jwk', pair.privateKey.export({ format: 'jwk' }) as JsonWebKey, importParams(sigAlg), false, ['sign']);
  verifyKey = await crypto.subtle.importKey('jwk', pair.publicKey.export({ format: 'jwk' }) as JsonWebKey, importParams(sigAlg), false, ['verify']);
  const pub: KeyObject = pair.publicKey;
  verifyKeyObject = pub;
  rawVerify = sigAlg === 'ed25519' ? (data, sig) => cryptoVerify(null, data, pub, sig) : (data, sig) => cryptoVerify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
}

const encKey = await generateEncryptionKey('P-256', 'bench-enc');
const dirKey = generateSymmetricKey('dir', 'bench-dir');

const unusedKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const memory = new MemoryEphemeralStore();
let seq = 0;
const gw = createGateway({
  routes: cfg.routes,
  gateway: cfg.gateway,
  issuer: cfg.issuer,
  keys: { getVerificationKey: (kid) => (kid === tokenKey.kid ? tokenKey : undefined) },
  revocations: new RevocationSet(),
  audit: { record: (_e: AuditEventInput) => undefined },
  clock: systemClock,
  leewayMs: cfg.tokens.leeway,
  maxTokenLifetimeMs: cfg.tokens.maxTokenLifetime,
  logger: silentLogger,
  metrics: new Registry(),
  steps: messagePolicySteps({
    appSigningKeys: { lookup: (keyid) => (keyid === KEYID && verifyKey !== undefined ? { clientId: APP, alg: sigAlg!, key: verifyKey, keyObject: verifyKeyObject! } : undefined) },
    ephemeral: { consumeOnceMadeAt: (key, ttl, madeAt) => memory.consumeOnceMadeAt(`${key}#${seq++}`, ttl, Math.max(madeAt, Date.now())) },
    clock: systemClock,
    encryptionKeys: { decryptionKey: (kid) => (kid === encKey.kid ? { key: encKey.privateKey, use: 'enc' } : undefined) },
    appEncryptionKeys: {
      symmetric: (clientId, kid) => (clientId === APP && (kid === undefined || kid === dirKey.kid) ? { kid: dirKey.kid, alg: 'dir', key: dirKey.key } : undefined),
      public: () => undefined,
    },
    gcmUsage: new GcmMeter(new MemoryKeyUsageStore()),
    // responses are not signed on this route
    keys: { signingKey: () => ({ kid: 'unused', alg: 'ES256', privateKey: unusedKey }) },
  }),
});

const plaintext = JSON.stringify({ data: randomBytes(490).toString('hex') }).slice(0, 1024);

async function jwe(): Promise<string> {
  const h = { enc: 'A256GCM', cty: 'application/json', aud: AUD, pc_app: APP };
  const data = new TextEncoder().encode(plaintext);
  if (encMode === 'jwe-dir') return new CompactEncrypt(data).setProtectedHeader({ ...h, alg: 'dir', kid: dirKey.kid } as CompactJWEHeaderParameters).encrypt(dirKey.key);
  return new CompactEncrypt(data).setProtectedHeader({ ...h, alg: 'ECDH-ES+A256KW', kid: encKey.kid } as CompactJWEHeaderParameters).encrypt(encKey.publicKey);
}

/** Crypto-only rates in this process, before it serves: the denominators. */
async function rawRates(signedBase?: { data: Buffer; sig: Uint8Array }, body?: string): Promise<Record<string, number>> {
  const ms = 1000;
  if (rawVerify !== undefined && signedBase !== undefined) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < ms) {
      if (!rawVerify(signedBase.data, signedBase.sig)) throw new Error('raw verify failed');
      n++;
    }
    return { verifyPerSecond: Math.round((n * 1000) / (performance.now() - start)) };
  }
  if (body !== undefined) {
    const key = encMode === 'jwe-dir' ? dirKey.key : encKey.privateKey;
    let n = 0;
    let start = performance.now();
    while (performance.now() - start < ms) {
      await compactDecrypt(body, key);
      n++;
    }
    const sequential = Math.round((n * 1000) / (performance.now() - start));
    n = 0;
    start = performance.now();
    while (performance.now() - start < ms) {
      await Promise.all(Array.from({ length: 64 }, () => compactDecrypt(body, key)));
      n += 64;
    }
    return { decryptPerSecond: sequential, decryptPerSecond64: Math.round((n * 1000) / (performance.now() - start)) };
  }
  return {};
}

const server = http.createServer(gatewayServerOptions(cfg.gateway), gw.handle);
attachGateway(server, gw);
server.listen(0, '127.0.0.1', async () => {
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/orders`;
  let body = plaintext;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  let signedBase: { data: Buffer; sig: Uint8Array } | undefined;
  if (encMode !== undefined) {
    body = await jwe();
    headers['content-type'] = 'application/jose';
  }
  if (sigAlg !== undefined) {
    headers['content-digest'] = await contentDigest(new TextEncoder().encode(body));
    const s = await signMessage({ method: 'POST', url, headers }, { key: signKey!, alg: sigAlg, keyid: KEYID, nonce: randomBytes(16).toString('base64url'), components: ['@method', '@target-uri', 'content-digest'] });
    headers['signature-input'] = s.signatureInput;
    headers['signature'] = s.signature;
    const sig = Buffer.from(s.signature.slice(s.signature.indexOf(':') + 1, -1), 'base64');
    signedBase = { data: Buffer.from(s.base), sig };
  }
  // RAW_RATES=0: only the request is wanted (the same-request bare proxy scenarios)
  const raw = process.env['RAW_RATES'] === '0' ? {} : await rawRates(signedBase, encMode !== undefined ? body : undefined);
  writeFileSync(out, JSON.stringify({ path: '/orders', headers, body, raw }));
  process.stdout.write(`LISTENING ${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
