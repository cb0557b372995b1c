/**
 * The `require.encryption` step: JWE request bodies (RFC 7516) decrypted at the
 * gateway, and responses encrypted to the app.
 *
 * Requests: a body must be a JWE (`application/jose` compact, or
 * `application/jose+json`), to a published `use: enc` key of this deployment
 * (ECDH-ES+A256KW, ECDH-ES, RSA-OAEP-256) or to the app's symmetric key (`dir`,
 * A256KW), always A256GCM. Its protected header binds it to this route and app:
 * `aud` = the route's token audience (the route name without a token), `pc_app` =
 * the token's client_id (or the request signature's app), so a ciphertext made for
 * another route or app is refused (`jwe.context-mismatch`); one that also binds a request id
 * (`pc_rid`) is refused unless the request's X-Request-Id is that id. Everything the JWE policy
 * refuses (RSA1_5, PBES2, zip, crit, wrong-use keys, invalid points, wrong key,
 * tampering) is refused here with its own code, before anything reaches the upstream.
 * The plaintext is forwarded with the protected `cty` as its Content-Type.
 *
 * Responses (`response: app-public-key | app-symmetric-key`): the upstream body is
 * encrypted to the app's newest registered public encryption key or symmetric key,
 * bound to the same `aud`/`pc_app` and to the request (`pc_rid` = its X-Request-Id, or
 * one the gateway makes and returns in X-Request-Id), so a recorded response replayed
 * for another request fails the client's check, and marked as a response (`pc_dir:
 * "response"`, which a request body may not carry: one made with the app's symmetric key is
 * not taken back as a request), and sent as `application/jose`. What is encrypted is
 * the representation itself (RFC 9110 §8.4): the upstream is asked for `identity`
 * (the client's Accept-Encoding and Range are not passed on), a gzip/deflate/br body it
 * sends anyway is decoded first, any other coding is refused (502
 * `upstream.content-coding`, content-coding.ts), and the answer carries no Content-Encoding.
 * Neither it nor an answer without content (HEAD, 204, 304) carries a field of the
 * plaintext (ETag, digests, length), and a GET's If-None-Match is not passed on: each would
 * confirm a guessed plaintext to any hop.
 *
 * A response encrypted with the app's `dir` key is one AES-GCM invocation with a random
 * IV under that long-lived key, so it is counted against the key's limit (NIST SP 800-38D
 * §8.3, gcm-usage.ts) before the upstream is called: an exhausted key refuses the request
 * whole (`jwe.key-exhausted`) instead of failing after the upstream answered.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import type { JWEHeaderParameters } from 'jose';
import type { EncryptionRequirement, RouteConfig } from '../core/config/schema.js';
import { PortcullisError } from '../core/errors.js';
import { decryptBody, type JweDecryptionKey } from '../crypto/jwe/decrypt.js';
import { encryptBody } from '../crypto/jwe/encrypt.js';
import { CONTEXT_HEADERS, type JweAlg, type JweContext } from '../crypto/jwe/policy.js';
import type { GcmKeyUsage, GcmMeter } from '../crypto/gcm-usage.js';
import { appEncryptionKeyContext } from '../tokens/app-encryption-keys.js';
import { hasBody, readBody, replaceBody, requestHeader } from './body.js';
import { askForIdentity, withoutContentCoding } from './content-coding.js';
import type { PolicyStep, RequestContext } from './context.js';
import type { ResponseHook, UpstreamResponse } from './proxy.js';
import { requestSignatureOf } from './signature-policy.js';

/** An app's encryption key as the in-memory registry returns it (`AppEncryptionKeys`). */
export interface AppKey {
  kid: string;
  alg: JweAlg;
  key: KeyObject;
}

export interface EncryptionStepDeps {
  /** Deployment keys (`EncryptionKeys.decryptionKey`): current, or retired within the overlap. */
  encryptionKeys: { decryptionKey(kid: string | undefined): JweDecryptionKey | undefined };
  /** Per-app keys, in memory (`AppEncryptionKeys`). */
  appEncryptionKeys: { symmetric(clientId: string, kid?: string, alg?: string): AppKey | undefined; public(clientId: string): AppKey | undefined };
  /** The signing key ring, so a JWE naming a signing key is told so (`jwe.wrong-key-use`). */
  signingKeys?: { getVerificationKey(kid: string): { key: KeyObject } | undefined };
  /** AES-GCM invocation counts (the node's one meter, shared with transit and the envelope). */
  gcmUsage: Pick<GcmMeter, 'counter' | 'acquire' | 'limit'>;
}

const JOSE_TYPES = new Set(['application/jose', 'application/jose+json']);
const SYMMETRIC_ALGS = new Set(['dir', 'A256KW']);

/** The media type without parameters, lower-case. */
function mediaType(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const semi = v.indexOf(';');
  return (semi === -1 ? v : v.slice(0, semi)).trim().toLowerCase();
}

/** The app a message belongs to: the token's client_id, else the verified request signature's app. */
function appOf(ctx: RequestContext): string | undefined {
  return ctx.token?.clientId ?? requestSignatureOf(ctx)?.clientId;
}

function setHeader(flat: string[], name: string, value: string | undefined, drop: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (!drop.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  if (value !== undefined) out.push(name, value);
  return out;
}

function headerOf(flat: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i]!.toLowerCase() === lowerName) return flat[i + 1];
  return undefined;
}

/**
 * Response fields that describe the plaintext and are wrong for the ciphertext; a validator
 * or a digest (RFC 3230 `Digest` too) would also confirm a guessed plaintext to any hop.
 */
const PLAINTEXT_FIELDS = new Set(['content-type', 'content-length', 'content-digest', 'repr-digest', 'digest', 'etag', 'content-md5', 'content-encoding', 'content-range', 'accept-ranges']);

/** A request id that can be bound: 1 to 200 visible ASCII characters. */
const REQUEST_ID = /^[\x21-\x7E]{1,200}$/;

/** The request's X-Request-Id as sent (from the raw header lines), undefined when there is none. */
function sentRequestId(ctx: RequestContext): string | undefined {
  const raw = ctx.req.rawHeaders;
  let id: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 12 || raw[i]!.toLowerCase() !== 'x-request-id') continue;
    if (id !== undefined) throw new PortcullisError('request.invalid', 'X-Request-Id is sent more than once');
    id = raw[i + 1]!;
  }
  return id;
}

/** The request's X-Request-Id (one, bindable) or a new random one. */
function requestIdOf(ctx: RequestContext): string {
  const id = sentRequestId(ctx);
  if (id === undefined) return randomBytes(16).toString('base64url');
  if (!REQUEST_ID.test(id)) throw new PortcullisError('request.invalid', 'X-Request-Id must be 1 to 200 visible ASCII characters to bind the encrypted response to it');
  return id;
}

const PLAINTEXT_FIELDS_AND_ID = new Set([...PLAINTEXT_FIELDS, 'x-request-id']);

/**
 * The forwarded fields without `If-None-Match` on GET and HEAD: the client is never shown
 * the plaintext's ETag, so one it sends is a guess, and a 304 would confirm it.
 */
function withoutValidatorGuess(forward: string[], method: string | undefined): string[] {
  if (method !== 'GET' && method !== 'HEAD') return forward;
  const out: string[] = [];
  for (let i = 0; i < forward.length; i += 2) if (forward[i]!.toLowerCase() !== 'if-none-match') out.push(forward[i]!, forward[i + 1]!);
  return out;
}

/**
 * Builds the `require.encryption` steps of a route: request decryption and/or the
 * response encryption hook.
 *
 * @example
 * steps.push(...encryptionSteps(route, route.require.encryption!, { encryptionKeys, appEncryptionKeys }));
 */
export function encryptionSteps(route: RouteConfig, req: EncryptionRequirement, deps: EncryptionStepDeps): PolicyStep[] {
  const aud = route.require.token?.audience ?? route.name;
  const maxBody = route.maxBodySize;
  const algorithms = req.algorithms;
  const steps: PolicyStep[] = [];

  function keyLookup(app: string | undefined) {
    return (kid: string | undefined, header: Readonly<JWEHeaderParameters>): JweDecryptionKey | undefined => {
      if (SYMMETRIC_ALGS.has(header.alg ?? '')) {
        if (app === undefined) return undefined;
        // without a kid, the newest key registered for the JWE's alg (an app may hold dir and A256KW keys)
        const k = deps.appEncryptionKeys.symmetric(app, kid, header.alg);
        // RFC 7517 §4.4: a key registered for one algorithm is not used with another
        if (k !== undefined && k.alg !== header.alg) throw new PortcullisError('jwe.alg-not-allowed', `the app key ${k.kid} is registered for ${k.alg}, not ${header.alg}`);
        return k && { key: k.key, use: 'enc' };
      }
      const found = deps.encryptionKeys.decryptionKey(kid);
      if (found !== undefined || kid === undefined) return found;
      // Named, but not a decryption key: say why instead of "unknown".
      const own = app === undefined ? undefined : deps.appEncryptionKeys.public(app);
      if (own !== undefined && own.kid === kid) return { key: own.key, use: 'enc' };
      const signing = deps.signingKeys?.getVerificationKey(kid);
      if (signing !== undefined) return { key: signing.key, use: 'sig' };
      return undefined;
    };
  }

  if (req.request) {
    steps.push(async (ctx) => {
      if (!hasBody(ctx)) return;
      // from the raw header lines: `req.headers` would build the whole header object for this one field
      const type = mediaType(requestHeader(ctx, 'content-type'));
      if (type === undefined || !JOSE_TYPES.has(type)) throw new PortcullisError('jwe.required', 'this route accepts only JWE-encrypted bodies (application/jose or application/jose+json)');
      const body = await readBody(ctx, maxBody);
      const app = appOf(ctx);
      const context: JweContext = app === undefined ? { aud } : { aud, app };
      const out = await decryptBody(body, { getKey: keyLookup(app), context, maxBytes: maxBody, ...(algorithms !== undefined ? { algorithms } : {}) });
      // a body bound to its request (pc_rid, authenticated now) is that request's only
      const rid = out.protectedHeader[CONTEXT_HEADERS.requestId];
      if (rid !== undefined && rid !== sentRequestId(ctx)) throw new PortcullisError('jwe.context-mismatch', 'the protected header pc_rid does not name this request (its X-Request-Id)');
      const p = out.plaintext;
      replaceBody(ctx, Buffer.from(p.buffer, p.byteOffset, p.byteLength), out.contentType ?? 'application/octet-stream');
    });
  }

  const mode = req.response;
  /** The counter of each `dir` key, found by its KeyObject: no string is built per request. */
  const usageOf = new WeakMap<KeyObject, GcmKeyUsage>();
  const exhausted = (key: AppKey) =>
    new PortcullisError('jwe.key-exhausted', `the app's response encryption key ${key.kid} has reached its limit of ${deps.gcmUsage.limit} AES-GCM encryptions; the operator must give the app a new key`, { expose: true });
  if (mode !== false) {
    steps.push((ctx) => {
      const app = appOf(ctx);
      const key = app === undefined ? undefined : mode === 'app-public-key' ? deps.appEncryptionKeys.public(app) : deps.appEncryptionKeys.symmetric(app);
      // fail closed before the upstream is called
      if (app === undefined || key === undefined) {
        throw new PortcullisError('jwe.unknown-key', `the route encrypts responses to the app's ${mode === 'app-public-key' ? 'registered public' : 'symmetric'} encryption key and the app has none`);
      }
      const requestId = requestIdOf(ctx);
      const context: JweContext = { aud, app, requestId, response: true };
      // ask for the whole identity representation: what is encrypted is the plaintext itself
      ctx.headers.forward = withoutValidatorGuess(askForIdentity(ctx.headers.forward, true), ctx.req.method);
      const hook: ResponseHook = async (coded: UpstreamResponse) => {
        const r = await withoutContentCoding(coded);
        const plain = r.body;
        // no content (HEAD, 204, 304): nothing to encrypt, but its fields describe the same plaintext
        if (plain.length === 0) return { ...r, headers: setHeader(r.headers, 'x-request-id', requestId, PLAINTEXT_FIELDS_AND_ID) };
        const cty = headerOf(r.headers, 'content-type');
        const jwe = await encryptBody(plain, { key: key.key, alg: key.alg, kid: key.kid, context, ...(cty !== undefined ? { cty } : {}) });
        const body = Buffer.from(jwe, 'latin1');
        const headers = setHeader(r.headers, 'content-type', 'application/jose', PLAINTEXT_FIELDS_AND_ID).concat('content-length', String(body.length), 'x-request-id', requestId);
        return { ...r, headers, body };
      };
      const prev = ctx.respond;
      ctx.respond = prev === undefined ? hook : async (r) => hook(await prev(r));
      // NIST SP 800-38D §8.3: with `dir` every response is an invocation of the app's own key
      // with a random IV, counted here, before the upstream is called (an empty body, which
      // is not encrypted, still counts: counts only err high). A256KW and the public-key
      // algorithms draw a fresh content key per response, one invocation each: not counted.
      if (key.alg !== 'dir') return undefined;
      let usage = usageOf.get(key.key);
      if (usage === undefined) usageOf.set(key.key, (usage = deps.gcmUsage.counter(appEncryptionKeyContext(key.kid))));
      if (usage.take()) return undefined;
      return deps.gcmUsage.acquire(usage).then((ok) => {
        if (!ok) throw exhausted(key);
      });
    });
  }
  return steps;
}
