/**
 * The in-process cost of two gateway policy steps, without sockets: the
 * `require.signature` step on an HMAC-signed 1 KiB POST (nonce consumed on a real
 * memory ephemeral store, under a key made unique per request), and the
 * `require.encryption` step on a 1 KiB `dir`/A256GCM JWE. Each runs N times (default
 * 300,000) after a warm-up; prints wall and CPU µs per step.
 *
 *   node --import tsx bench/policy-steps.ts
 */
import { randomBytes } from 'node:crypto';
import { CompactEncrypt, type CompactJWEHeaderParameters } from 'jose';
import { systemClock } from '../src/core/clock.js';
import { configSchema } from '../src/core/config/schema.js';
import { GcmMeter, MemoryKeyUsageStore } from '../src/crypto/gcm-usage.js';
import { generateSymmetricKey } from '../src/crypto/jwe/generate.js';
import type { PolicyStep, RequestContext } from '../src/gateway/context.js';
import { encryptionSteps } from '../src/gateway/encryption-policy.js';
import { signatureStep } from '../src/gateway/signature-policy.js';
import { importParams } from '../src/signatures/algorithms.js';
import { contentDigest } from '../src/signatures/content-digest.js';
import { signMessage } from '../src/signatures/sign.js';
import { MemoryEphemeralStore } from '../src/store/memory/ephemeral.js';

const N = Number(process.env['N'] ?? 300_000);
const APP = 'app-0';
const HOST = '127.0.0.1:8080';
const res = { headersSent: false, setHeader() {} };

/** A request context as the gateway builds it, for a POST with `body` and `rawHeaders`. */
function contextOf(rawHeaders: string[], body: Buffer): RequestContext {
  return {
    req: { rawHeaders, url: '/orders', socket: {} },
    res,
    route: undefined,
    method: 'POST',
    path: '/orders',
    query: '',
    headers: { host: HOST, contentLength: String(body.length), transferEncoding: false, forward: rawHeaders.slice() },
    start: 0,
    token: { clientId: APP },
    // as the gateway has it once the body arrived
    body: Buffer.from(body),
    respond: undefined,
    signature: undefined,
  } as unknown as RequestContext;
}

async function measure(name: string, step: PolicyStep, ctx: () => RequestContext): Promise<void> {
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = step(ctx());
      if (r) await r;
    }
  };
  await run(20_000);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await run(N);
  const c = process.cpuUsage(cpu);
  console.log(`${name}: ${(((performance.now() - t0) * 1000) / N).toFixed(2)} µs wall, ${((c.user + c.system) / N).toFixed(2)} µs CPU per step (N=${N})`);
}

const plaintext = Buffer.from(JSON.stringify({ data: randomBytes(490).toString('hex') }).slice(0, 1024));

// require.signature, HMAC
{
  const cfg = configSchema.parse({ issuer: 'https://x.test', routes: [{ name: 'b', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', require: { signature: { maxAge: '1h' } } }] });
  const route = cfg.routes[0]!;
  const secret = randomBytes(32);
  const signKey = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['sign']);
  const verifyKey = await crypto.subtle.importKey('raw', secret, importParams('hmac-sha256'), false, ['verify']);
  const memory = new MemoryEphemeralStore();
  let seq = 0;
  const step = signatureStep(route, route.require.signature!, {
    appSigningKeys: { lookup: (k) => (k === 'k1' ? { clientId: APP, alg: 'hmac-sha256', key: verifyKey } : undefined) },
    // the same signed request each time: its nonce is stored under a fresh key, always a first use (made after the store started)
    ephemeral: { consumeOnceMadeAt: (key, ttl, madeAt) => memory.consumeOnceMadeAt(`${key}#${seq++}`, ttl, Math.max(madeAt, Date.now())) },
    clock: systemClock,
  });
  const headers: Record<string, string> = { host: HOST, 'content-type': 'application/json', 'content-length': String(plaintext.length), 'content-digest': await contentDigest(plaintext) };
  const signed = await signMessage({ method: 'POST', url: `http://${HOST}/orders`, headers }, { key: signKey, alg: 'hmac-sha256', keyid: 'k1', nonce: randomBytes(16).toString('base64url'), components: ['@method', '@target-uri', 'content-digest'] });
  const raw = Object.entries({ ...headers, 'signature-input': signed.signatureInput, signature: signed.signature }).flat();
  await measure('require.signature (hmac-sha256, 1 KiB, nonce)', step, () => contextOf(raw, plaintext));
  await memory.close();
}

// require.encryption, dir/A256GCM
{
  const cfg = configSchema.parse({ issuer: 'https://x.test', routes: [{ name: 'b', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', require: { token: { audience: 'bench-api' }, encryption: { request: true } } }] });
  const route = cfg.routes[0]!;
  const dirKey = generateSymmetricKey('dir', 'bench-dir');
  const [step] = encryptionSteps(route, route.require.encryption!, {
    encryptionKeys: { decryptionKey: () => undefined },
    appEncryptionKeys: { symmetric: (c, kid) => (c === APP && (kid === undefined || kid === dirKey.kid) ? { kid: dirKey.kid, alg: 'dir', key: dirKey.key } : undefined), public: () => undefined },
    gcmUsage: new GcmMeter(new MemoryKeyUsageStore()),
  });
  const jwe = Buffer.from(await new CompactEncrypt(plaintext).setProtectedHeader({ enc: 'A256GCM', cty: 'application/json', aud: 'bench-api', pc_app: APP, alg: 'dir', kid: dirKey.kid } as CompactJWEHeaderParameters).encrypt(dirKey.key));
  const raw = ['host', HOST, 'content-type', 'application/jose', 'content-length', String(jwe.length)];
  await measure('require.encryption (dir/A256GCM, 1 KiB)', step!, () => contextOf(raw, jwe));
}
