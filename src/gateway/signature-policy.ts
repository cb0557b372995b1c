/**
 * The `require.signature` step: RFC 9421 HTTP Message Signatures on requests, with
 * RFC 9530 Content-Digest over the body.
 *
 * - Coverage: the route's components (default `@method`, `@target-uri`), plus
 *   `content-digest` whenever the request has a body, so no body goes unsigned. A
 *   Content-Digest sent without a body is checked against the empty body.
 * - The key decides the algorithm (RFC 9421 §3.2 step 6): keys come from the app
 *   signing keys by `keyid`; an `alg` parameter that disagrees is refused.
 * - `@target-uri` is rebuilt as the client addressed the gateway: the scheme of the
 *   listener (https when the socket is TLS), the Host header (refused with
 *   `signature.target-invalid` unless it is a valid `host[:port]`), and the request-target
 *   exactly as received (before normalisation). Behind a TLS-terminating proxy the
 *   route may set `trustForwardedProto`, and the scheme the proxy stated gives the scheme
 *   instead: the last X-Forwarded-Proto (the one the nearest proxy appended), else the
 *   `proto=` of the last RFC 7239 Forwarded element (forwarded.ts `proxyForwarding`, the
 *   scheme the gateway states upstream too), but only when the direct peer is in
 *   `gateway.trustedProxies`: a client can send either field, so from any other peer the
 *   scheme stays the connection's own (and the default ignores them).
 * - `created` within `maxAge` (+ `clockSkew`), `expires` not passed, and the nonce
 *   consumed once through the ephemeral store (`sig-nonce:<keyid length>:<keyid>:<nonce>`, kept for
 *   as long as the signature could still be accepted, its last whole second included), so a replay fails on every
 *   node sharing the store. The nonce is consumed last: only a request that passed
 *   every other check uses it up. With several signatures, the nonce of every one
 *   naming a known key is consumed too, so no second signature lets a replay pass.
 * - With a token on the route, the key's app must be the token's `client_id`.
 * - A denial for a signature or digest reason carries `Accept-Signature` (RFC 9421
 *   §5.1): label `sig1`, the components this request must cover, `created`, a fresh
 *   `nonce` when nonces are required, `alg` when the route allows one algorithm, `tag`.
 * - Fields are read from the raw header lines (each line as received, no header object
 *   built); the parsed Signature-Input serves the base and the checks alike.
 *
 * Verification runs on node:crypto (HMAC with `timingSafeEqual` on the event loop,
 * public keys on the thread pool), one verification per request for one signature;
 * a request with more than `maxSignatures` members is refused before any.
 */
import { constants, createHash, createHmac, hash, KeyObject, randomBytes, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { RouteConfig, SignatureRequirement } from '../core/config/schema.js';
import type { EphemeralStore } from '../core/ephemeral.js';
import { PortcullisError } from '../core/errors.js';
import { isHostPort, structuredFieldType } from '../signatures/components.js';
import { parseContentDigest } from '../signatures/content-digest.js';
import { parseComponentId, serializeAcceptSignature, type SignatureRequest } from '../signatures/signature-input.js';
import { verifyBytes } from '../signatures/algorithms.js';
import type { FieldLineSource, HttpRequestLike } from '../signatures/types.js';
import { readSignatures, SignatureVerifier, type MessageSignatures, type VerificationKey, type VerifiedSignature } from '../signatures/verify.js';
import { hasBody, readBody } from './body.js';
import type { PolicyStep, RequestContext } from './context.js';

/** What the step needs of the app signing keys (`AppSigningKeys.lookup`). */
export interface SigningKeyLookup {
  lookup(keyid: string): NodeVerificationKey & { clientId: string } | undefined;
}

/**
 * A verification key with, when its owner has one, the same key as a node:crypto
 * KeyObject: `KeyObject.from()` of a non-extractable CryptoKey is deprecated (DEP0204,
 * Node 24), so the KeyObject comes from where the key was imported. Without it, an
 * extractable CryptoKey is converted once; a non-extractable one is verified on WebCrypto.
 */
export interface NodeVerificationKey extends VerificationKey {
  keyObject?: KeyObject;
}

export interface SignatureStepDeps {
  appSigningKeys: SigningKeyLookup;
  ephemeral: Pick<EphemeralStore, 'consumeOnceMadeAt'>;
  clock: Clock;
}

/** A verified request signature, for the response signer (`;req` binding) and later steps. */
export interface RequestSignature extends VerifiedSignature {
  clientId: string;
  /** The request as the signature saw it. */
  request: HttpRequestLike;
}

/** The request signature a `require.signature` step verified, if any. */
export function requestSignatureOf(ctx: RequestContext): RequestSignature | undefined {
  return ctx.signature;
}

const MAX_NONCE = 256;

const EMPTY_BODY = Buffer.alloc(0);

/**
 * The replay-store key of a nonce: the keyid's length first, since keyids may contain
 * ":" (keyid "a" with nonce "b:N" must not be keyid "a:b" with nonce "N").
 */
function nonceKey(keyid: string, nonce: string): string {
  return `sig-nonce:${keyid.length}:${keyid}:${nonce}`;
}

const keyObjects = new WeakMap<CryptoKey, KeyObject>();

/** The key as a KeyObject: the one its owner gave, or an extractable CryptoKey's (converted once); undefined otherwise. */
function keyObjectOf(found: NodeVerificationKey): KeyObject | undefined {
  if (found.keyObject !== undefined) return found.keyObject;
  const key = found.key;
  let k = keyObjects.get(key);
  if (k === undefined) {
    if (!key.extractable) return undefined;
    k = KeyObject.from(key);
    keyObjects.set(key, k);
  }
  return k;
}

/**
 * HMAC secrets as bytes, for `createHmac` (which starts ~0.5 µs sooner from bytes than
 * from a KeyObject). They live in this process's memory either way; only the map holds them.
 */
const hmacSecrets = new WeakMap<KeyObject, Buffer>();

function hmacSecretOf(key: KeyObject): Buffer {
  let k = hmacSecrets.get(key);
  if (k === undefined) {
    k = key.export();
    hmacSecrets.set(key, k);
  }
  return k;
}

function asyncVerify(hash: string | null, data: Buffer, key: KeyObject | { key: KeyObject; dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number }, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    cryptoVerify(hash, data, key, signature, (err, ok) => resolve(err === null && ok));
  });
}

/**
 * RFC 9421 §3.3 verification on node:crypto, same results as the WebCrypto path of
 * the library: HMAC compared in constant time, ECDSA in its raw r||s form
 * (`ieee-p1363`), RSA-PSS with SHA-512 and a 64-byte salt.
 *
 * @example new SignatureVerifier({ keyLookup, verifySignature: nodeVerifySignature })
 */
export function nodeVerifySignature(found: NodeVerificationKey, signature: Uint8Array, base: string): boolean | Promise<boolean> {
  const key = keyObjectOf(found);
  // a non-extractable CryptoKey without its KeyObject: WebCrypto (same checks, on the thread pool)
  if (key === undefined) return verifyBytes(found.alg, found.key, signature, Buffer.from(base));
  if (found.alg === 'hmac-sha256') return signature.byteLength === 32 && timingSafeEqual(createHmac('sha256', hmacSecretOf(key)).update(base).digest(), signature);
  switch (found.alg) {
    case 'ed25519':
      return signature.byteLength === 64 && asyncVerify(null, Buffer.from(base), key, signature);
    case 'ecdsa-p256-sha256':
      return signature.byteLength === 64 && asyncVerify('sha256', Buffer.from(base), { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'ecdsa-p384-sha384':
      return signature.byteLength === 96 && asyncVerify('sha384', Buffer.from(base), { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'rsa-pss-sha512':
      return asyncVerify('sha512', Buffer.from(base), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, signature);
    case 'rsa-v1_5-sha256':
      return asyncVerify('sha256', Buffer.from(base), key, signature);
    default:
      return false;
  }
}

/** The absolute target URI the client addressed (see the module comment for the scheme). */
export function targetUri(ctx: RequestContext, trustForwardedProto: boolean): string {
  // (checked on arrival: http or https, in lower case)
  const stated = trustForwardedProto && ctx.trustedPeer ? ctx.proxyForwarding?.scheme : undefined;
  const scheme = stated ?? ((ctx.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const host = ctx.headers.host;
  // never a URI from an unchecked Host: "/", "?", "#" or "@" in it would shift what the signature covers
  if (host === undefined || !isHostPort(host)) throw new PortcullisError('signature.target-invalid', 'the Host header is not a valid host[:port]');
  return `${scheme}://${host}${ctx.req.url ?? '/'}`;
}

/** The usual Content-Digest, one sha-256 member (RFC 9530 §2): checked without a structured-field parse. */
const SHA256_ONLY = /^sha-256=:([A-Za-z0-9+/]{43}=):$/;

/** Checks the buffered body against its Content-Digest (every sha-256/sha-512 member must match). */
function checkDigest(lines: readonly string[] | undefined, body: Buffer): void {
  if (lines === undefined) throw new PortcullisError('digest.missing', 'the request has a body but no Content-Digest');
  const value = lines.length === 1 ? lines[0]! : lines.join(', ');
  const one = SHA256_ONLY.exec(value);
  if (one !== null) {
    // the body and its digest are both the sender's: nothing secret to compare in constant time
    const got = hash('sha256', body, 'base64');
    // (a sender's base64 with non-zero spare bits names the same bytes)
    if (got !== one[1] && !Buffer.from(got, 'base64').equals(Buffer.from(one[1]!, 'base64'))) throw new PortcullisError('digest.mismatch', 'the body does not match its sha-256 Content-Digest');
    return;
  }
  const want = parseContentDigest(value);
  if (want.size === 0) throw new PortcullisError('digest.missing', 'Content-Digest has no sha-256 or sha-512 member');
  for (const [alg, expected] of want) {
    const got = createHash(alg === 'sha-256' ? 'sha256' : 'sha512').update(body).digest();
    if (!timingSafeEqual(got, expected)) throw new PortcullisError('digest.mismatch', `the body does not match its ${alg} Content-Digest`);
  }
}

/** Request fields straight from node's `rawHeaders` (no header object is built), one string per field line. */
export class RawFieldLines implements FieldLineSource {
  constructor(private readonly raw: readonly string[]) {}

  fieldLines(name: string): string[] | undefined {
    const raw = this.raw;
    let out: string[] | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i]!;
      if (k.length === name.length && (k === name || k.toLowerCase() === name)) (out ??= []).push(raw[i + 1]!);
    }
    return out;
  }
}

const SIGNATURE_REASON = /^(signature|digest)\./;

/** When a signature was made, for the nonce store (epoch ms); without `created` it cannot be placed in time (-Infinity). */
const madeAt = (created: number | undefined): number => (created === undefined ? -Infinity : created * 1000);

/**
 * A nonce that is not new: spent already, or made before the store began remembering
 * nonces (it restarted empty), so it may have been spent in the store's previous life.
 */
function spent(r: 'used' | 'unknown'): PortcullisError {
  return r === 'used'
    ? new PortcullisError('signature.replayed', 'the signature nonce was already used')
    : new PortcullisError('signature.nonce-unverifiable', 'the signature was created before the nonce store started (a restart), so a replay cannot be ruled out; sign the request again');
}

/**
 * Builds the `require.signature` step of a route.
 *
 * @example
 * const step = signatureStep(route, route.require.signature!, { appSigningKeys, ephemeral, clock });
 */
export function signatureStep(route: RouteConfig, req: SignatureRequirement, deps: SignatureStepDeps): PolicyStep {
  const { appSigningKeys, ephemeral, clock } = deps;
  const maxAgeS = Math.floor(req.maxAge / 1000);
  const skewS = Math.floor(req.clockSkew / 1000);
  // `created` is compared in whole seconds, so a signature stays acceptable to the end of its
  // last second: the nonce is kept that second longer than maxAge and the skew both ways
  const nonceTtl = req.maxAge + 2 * req.clockSkew + 1000;
  const components = req.components ?? ['@method', '@target-uri'];
  for (const c of components) {
    // a route that requires sf/key on a field of unknown type could never be satisfied: refused at start, not on every request
    const id = parseComponentId(c);
    if ((id.params.has('sf') || id.params.has('key')) && structuredFieldType(id.name) === undefined) {
      throw new PortcullisError('config.invalid', `routes[${route.name}].require.signature.components: ${c} covers ${id.name} with sf or key, but its structured type is not known (see docs/signatures.md)`);
    }
  }
  const withDigest = components.includes('content-digest') ? components : [...components, 'content-digest'];
  const keyLookup = (keyid: string | undefined): VerificationKey | undefined => (keyid === undefined ? undefined : appSigningKeys.lookup(keyid));
  const make = (required: readonly string[]): SignatureVerifier =>
    new SignatureVerifier({
      keyLookup,
      requiredComponents: required,
      ...(req.algorithms !== undefined ? { algorithms: req.algorithms } : {}),
      maxAge: maxAgeS,
      clockSkew: skewS,
      requireNonce: req.nonce,
      requireKeyid: true,
      maxSignatures: req.maxSignatures,
      ...(req.tag !== undefined ? { tag: req.tag } : {}),
      clock,
      verifySignature: nodeVerifySignature,
    });
  const withoutBody = make(components);
  const withBody = make(withDigest);
  const trustProto = req.trustForwardedProto;
  const maxBody = route.maxBodySize;

  /** RFC 9421 §5.1: what a denied client is asked to sign (a fresh nonce each time, when nonces are required). */
  const acceptSignature = (body: boolean): string => {
    const ask: SignatureRequest = { label: 'sig1', components: (body ? withDigest : components).map(parseComponentId), created: true, expires: false };
    if (req.nonce) ask.nonce = randomBytes(16).toString('base64url');
    if (req.algorithms?.length === 1) ask.alg = req.algorithms[0]!;
    if (req.tag !== undefined) ask.tag = req.tag;
    return serializeAcceptSignature([ask]);
  };

  /** After the signature verified: key still active, same app as the token, then the body digest and the nonce. */
  function accept(ctx: RequestContext, message: HttpRequestLike, v: VerifiedSignature, body: boolean, parsed: MessageSignatures): Promise<void> {
    const found = appSigningKeys.lookup(v.keyid!);
    // the key may have been revoked while the verification ran
    if (found === undefined) throw new PortcullisError('signature.unknown-key', 'the signing key was revoked');
    if (req.sameAppAsToken && ctx.token !== undefined && ctx.token.clientId !== found.clientId) {
      throw new PortcullisError('signature.wrong-app', 'the request is signed with a key of another app than the access token');
    }
    const sig: RequestSignature = { label: v.label, alg: v.alg, keyid: v.keyid, params: v.params, components: v.components, clientId: found.clientId, request: message };
    if (!body) {
      // RFC 9530: a Content-Digest describes the content, an empty one included; a body dropped in transit must not pass
      const digest = (message.headers as RawFieldLines).fieldLines('content-digest');
      if (digest !== undefined) checkDigest(digest, EMPTY_BODY);
      return consume(ctx, sig, parsed);
    }
    return readBody(ctx, maxBody).then((b) => {
      checkDigest((message.headers as RawFieldLines).fieldLines('content-digest'), b);
      return consume(ctx, sig, parsed);
    });
  }

  /**
   * The nonces are used up last, so only a request that passed every other check spends
   * them: the accepted signature's, and with several signatures every other one that
   * names a known key. Otherwise a request signed twice (key rotation) could be replayed
   * once more per extra signature, by breaking the one whose nonce was spent.
   */
  function consume(ctx: RequestContext, sig: RequestSignature, parsed: MessageSignatures): Promise<void> {
    const nonce = sig.params.nonce;
    if (parsed.inputs.size > 1) return consumeAll(ctx, sig, parsed);
    if (nonce === undefined) {
      ctx.signature = sig;
      return Promise.resolve();
    }
    if (nonce.length > MAX_NONCE) throw new PortcullisError('signature.malformed', `the nonce is longer than ${MAX_NONCE} characters`);
    // RFC 9421 §7.2.2: the nonce lets the verifier detect a replayed signature
    return ephemeral.consumeOnceMadeAt(nonceKey(sig.keyid!, nonce), nonceTtl, madeAt(sig.params.created)).then((r) => {
      if (r !== 'first') throw spent(r);
      ctx.signature = sig;
    });
  }

  function consumeAll(ctx: RequestContext, sig: RequestSignature, parsed: MessageSignatures): Promise<void> {
    const keys = new Map<string, number>();
    for (const input of parsed.inputs.values()) {
      const { nonce, keyid } = input.params;
      if (nonce === undefined || keyid === undefined) continue;
      if (input.label !== sig.label && appSigningKeys.lookup(keyid) === undefined) continue;
      if (nonce.length > MAX_NONCE) throw new PortcullisError('signature.malformed', `the nonce is longer than ${MAX_NONCE} characters`);
      const k = nonceKey(keyid, nonce);
      keys.set(k, Math.min(keys.get(k) ?? Infinity, madeAt(input.params.created)));
    }
    return Promise.all([...keys].map(([k, at]) => ephemeral.consumeOnceMadeAt(k, nonceTtl, at))).then((rs) => {
      if (rs.includes('used')) throw spent('used');
      if (rs.includes('unknown')) throw spent('unknown');
      ctx.signature = sig;
    });
  }

  function check(ctx: RequestContext): Promise<void> {
    const fields = new RawFieldLines(ctx.req.rawHeaders);
    const message: HttpRequestLike = { method: ctx.method, url: targetUri(ctx, trustProto), headers: fields };
    const body = hasBody(ctx);
    const parsed = readSignatures(message);
    if (body && fields.fieldLines('content-digest') === undefined) throw new PortcullisError('digest.missing', 'the request has a body but no Content-Digest');
    const v = (body ? withBody : withoutBody).check(message, undefined, parsed);
    return v instanceof Promise ? v.then((r) => accept(ctx, message, r, body, parsed)) : accept(ctx, message, v, body, parsed);
  }

  return (ctx) => {
    let r: Promise<void>;
    try {
      r = check(ctx);
    } catch (e) {
      return Promise.reject(challenge(ctx, e));
    }
    return r.catch((e: unknown) => {
      throw challenge(ctx, e);
    });
  };

  /** Adds Accept-Signature to a denial for a signature reason; returns the error. */
  function challenge(ctx: RequestContext, e: unknown): unknown {
    if (e instanceof PortcullisError && SIGNATURE_REASON.test(e.code) && !ctx.res.headersSent) ctx.res.setHeader('accept-signature', acceptSignature(hasBody(ctx)));
    return e;
  }
}
