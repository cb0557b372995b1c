/**
 * Signed responses (RFC 9421 §2.4, route option `signResponses`): the gateway signs
 * the upstream response with the key ring's current signing key, whose public half
 * is in the JWKS at `/jwks` (ES256 → ecdsa-p256-sha256, EdDSA → ed25519, RS256 →
 * rsa-v1_5-sha256), so an app verifies responses with the key set it already uses for
 * tokens (the SDK's `verifyResponse`).
 *
 * Covered: `@status`, `content-digest` (RFC 9530 sha-256 over the body as sent, the
 * response being buffered on such routes) and the request it answers (RFC 9421 §2.4):
 * when the route verified the request's signature (`require.signature`), that signature
 * through `"signature";req;key="<label>"`; otherwise its `@method`, `@authority`, `@path`
 * and `@query` with `;req`, so a response cannot be passed off as the answer to another
 * request (the scheme is left out: behind a TLS-terminating proxy the gateway does not
 * see the client's). `@authority` leaves out a port that is the scheme's default, so it is
 * normalised with the scheme the gateway states upstream: a trusted proxy's (its last
 * X-Forwarded-Proto or last Forwarded element's `proto=`, `forwarded.ts`), else the
 * listener's, as the client's `Host: api.example:443` over https is `api.example`. A request that carries a Signature the route did not verify gets
 * both: its first Signature member too, since an SDK checks that a response to a signed
 * request covers that request's signature. Unverified, the member proves only that the
 * request answered carried those bytes (this request, not an earlier one to the same URL);
 * the four components still say which request it was, since anyone may copy a Signature
 * onto another request. Parameters `created` and `keyid`. The gateway is the
 * signer of record: the upstream's own Content-Digest, Signature and Signature-Input
 * are replaced.
 *
 * Content coding: a client's fetch decodes gzip/deflate/br before the app sees the
 * body, and cannot hand over the coded bytes (browsers forbid setting Accept-Encoding),
 * so a Content-Digest over coded bytes (RFC 9530 §2) could never be checked. Signed
 * responses are therefore sent without content coding: the upstream is asked for
 * `Accept-Encoding: identity`, and one that codes anyway is decoded here (bounded by
 * the buffered-response limit); a coding the gateway does not know is a 502
 * `upstream.content-coding`, never a signature over bytes the client will not see.
 */
import { createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { parseDictionary, serializeByteSequence } from 'structured-headers';
import type { Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import { signatureBase } from '../signatures/signature-base.js';
import { parseComponentId, serializeSignatureParams, type ComponentId } from '../signatures/signature-input.js';
import type { HttpRequestLike, SignatureAlgorithm } from '../signatures/types.js';
import { askForIdentity, withoutContentCoding } from './content-coding.js';
import type { PolicyStep, RequestContext } from './context.js';
import type { ResponseHook, UpstreamResponse } from './proxy.js';
import { requestSignatureOf, targetUri } from './signature-policy.js';

/** The key ring's current signing key (`KeyRing.signingKey()`). */
export interface ResponseSigningKeys {
  signingKey(): { kid: string; alg: string; privateKey: KeyObject };
}

export interface ResponseSigningDeps {
  keys: ResponseSigningKeys;
  clock: Clock;
}

const JOSE_TO_RFC9421: Readonly<Record<string, SignatureAlgorithm>> = { ES256: 'ecdsa-p256-sha256', EdDSA: 'ed25519', RS256: 'rsa-v1_5-sha256' };

export const RESPONSE_LABEL = 'sig1';

const STATUS: ComponentId = parseComponentId('@status');
const DIGEST: ComponentId = parseComponentId('content-digest');
const REPLACED = new Set(['content-digest', 'signature', 'signature-input']);
/** The unsigned request a response answers: what `verifyResponse` checks against the request it sent. */
export const REQUEST_BINDING: readonly ComponentId[] = ['@method', '@authority', '@path', '@query'].map((c) => ({ name: c, params: new Map([['req', true]]) }));

function signAsync(alg: SignatureAlgorithm, key: KeyObject, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cb = (err: Error | null, sig: Buffer): void => (err === null ? resolve(sig) : reject(err));
    if (alg === 'ed25519') cryptoSign(null, data, key, cb);
    else if (alg === 'ecdsa-p256-sha256') cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, cb);
    else cryptoSign('sha256', data, key, cb);
  });
}

/**
 * The first member of a Signature the gateway did not verify, with the field lines it
 * came in; undefined without one, or when the field is not a structured dictionary
 * (the response is then bound through the four components alone, never refused for it).
 */
function unverifiedSignature(raw: readonly string[]): { label: string; lines: string[] } | undefined {
  let lines: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'signature') (lines ??= []).push(raw[i + 1]!);
  if (lines === undefined) return undefined;
  try {
    const label = parseDictionary(lines.join(', ')).keys().next().value;
    return label === undefined ? undefined : { label, lines };
  } catch {
    return undefined;
  }
}

/**
 * Signs one buffered response; `ctx` gives the request signature to bind.
 *
 * @example const signed = await signResponse(upstreamResponse, ctx, { keys, clock });
 */
export async function signResponse(coded: UpstreamResponse, ctx: RequestContext, deps: ResponseSigningDeps): Promise<UpstreamResponse> {
  const r = await withoutContentCoding(coded);
  const k = deps.keys.signingKey();
  const alg = JOSE_TO_RFC9421[k.alg];
  if (alg === undefined) throw new PortcullisError('internal', `signing key ${k.kid} (${k.alg}) has no RFC 9421 algorithm`);
  const digest = `sha-256=:${createHash('sha256').update(r.body).digest('base64')}:`;
  const covered: ComponentId[] = [STATUS, DIGEST];
  const reqSig = requestSignatureOf(ctx);
  let request: HttpRequestLike;
  if (reqSig !== undefined) {
    covered.push({ name: 'signature', params: new Map<string, string | boolean>([['req', true], ['key', reqSig.label]]) });
    request = reqSig.request;
  } else {
    covered.push(...REQUEST_BINDING);
    const signature = unverifiedSignature(ctx.req.rawHeaders);
    if (signature !== undefined) covered.push({ name: 'signature', params: new Map<string, string | boolean>([['req', true], ['key', signature.label]]) });
    // the scheme the gateway states upstream (a trusted proxy's, checked on arrival): it decides
    // whether a default port in Host is part of @authority, as it is in the client's own URL
    request = { method: ctx.method, url: targetUri(ctx, true), headers: signature === undefined ? {} : { signature: signature.lines } };
  }
  const params = serializeSignatureParams(covered, { created: Math.floor(deps.clock.now() / 1000), keyid: k.kid });
  const base = signatureBase({ status: r.status, headers: { 'content-digest': digest } }, covered, params, request);
  const sig = await signAsync(alg, k.privateKey, Buffer.from(base));
  const headers: string[] = [];
  for (let i = 0; i < r.headers.length; i += 2) if (!REPLACED.has(r.headers[i]!.toLowerCase())) headers.push(r.headers[i]!, r.headers[i + 1]!);
  headers.push(
    'content-digest',
    digest,
    'signature-input',
    `${RESPONSE_LABEL}=${params}`,
    'signature',
    `${RESPONSE_LABEL}=${serializeByteSequence(new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength) as Uint8Array<ArrayBuffer>)}`,
  );
  return { ...r, headers, body: r.body };
}

/**
 * The step that makes the proxy hand the whole response to `signResponse`; it runs
 * after the encryption step, so an encrypted response is signed as sent.
 *
 * @example if (route.signResponses) steps.push(responseSigningStep({ keys, clock }))
 */
export function responseSigningStep(deps: ResponseSigningDeps): PolicyStep {
  return (ctx) => {
    // the client must be able to check the digest over the bytes its fetch hands over: no content coding upstream
    ctx.headers.forward = askForIdentity(ctx.headers.forward);
    const prev = ctx.respond;
    const hook: ResponseHook = prev === undefined ? (r) => signResponse(r, ctx, deps) : async (r) => signResponse(await prev(await withoutContentCoding(r)), ctx, deps);
    ctx.respond = hook;
    return undefined;
  };
}
