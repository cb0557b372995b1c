/**
 * Verifying signatures (RFC 9421 §3.2) against a policy: which labels or tags to
 * look at, which components must be covered, which algorithms are allowed, the
 * created/expires window, and the key lookup. The key decides the algorithm (§3.2
 * step 6); an `alg` parameter that disagrees with it is an error. Cheap checks come
 * first; the signature base is built once and verification is one WebCrypto call
 * (or the caller's `verifySignature`); with synchronous parts `check` never waits.
 * Nonce replay is the caller's: the verified `nonce` is returned for `consumeOnce`.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { PortcullisError } from '../core/errors.js';
import { isSignatureAlgorithm, keyFits, verifyBytes } from './algorithms.js';
import { fieldLines } from './components.js';
import { signatureBaseOf } from './signature-base.js';
import { parseComponentId, parseSignature, parseSignatureInput, serializeComponentId, type ComponentId, type SignatureInput } from './signature-input.js';
import type { HttpMessageLike, HttpRequestLike, SignatureAlgorithm, SignatureParams } from './types.js';

/** Members of Signature-Input / Signature a verifier accepts by default (one per signer, two while rotating, room for an intermediary). */
export const DEFAULT_MAX_SIGNATURES = 4;

export interface VerificationKey {
  /** Public key (or HMAC key) imported once, usage `verify`. */
  key: CryptoKey;
  /** The algorithm this key is registered for. */
  alg: SignatureAlgorithm;
}

/** Finds the key for a signature; undefined when no such key is known. */
export type KeyLookup = (keyid: string | undefined, alg: string | undefined, input: SignatureInput) => Promise<VerificationKey | undefined> | VerificationKey | undefined;

export interface VerifyPolicy {
  keyLookup: KeyLookup;
  /** Components every accepted signature must cover, e.g. `['@method', '@target-uri', 'content-digest']` (matched with their parameters). */
  requiredComponents?: readonly (string | ComponentId)[];
  /** Allowed algorithms; default all registered ones. */
  algorithms?: readonly SignatureAlgorithm[];
  /** Maximum age of `created`, in seconds. */
  maxAge?: number;
  /** Allowed clock difference in seconds (default 30). */
  clockSkew?: number;
  /** Default true. */
  requireCreated?: boolean;
  requireExpires?: boolean;
  requireNonce?: boolean;
  /** Default true. */
  requireKeyid?: boolean;
  /** Most members Signature-Input and Signature may have (default 4); more is `signature.too-many`, before any verification. */
  maxSignatures?: number;
  /** Only the signature with this label. */
  label?: string;
  /** Only signatures with this `tag` parameter. */
  tag?: string;
  clock?: Clock;
  /**
   * Replaces the WebCrypto verification of the signature base, e.g. node:crypto on a
   * server (an HMAC there costs microseconds, a WebCrypto call hundreds). Called after
   * every other check, with the key the lookup returned, the signature and the base.
   */
  verifySignature?: (key: VerificationKey, signature: Uint8Array, base: string) => boolean | Promise<boolean>;
}

export interface VerifiedSignature {
  label: string;
  alg: SignatureAlgorithm;
  keyid: string | undefined;
  params: SignatureParams;
  /** Serialized identifiers of the covered components, in order. */
  components: string[];
}

/** The parsed Signature-Input and Signature of one message. */
export interface MessageSignatures {
  inputs: Map<string, SignatureInput>;
  signatures: Map<string, Uint8Array>;
}

/** Reads and parses both signature fields; `signature.missing` when neither is present. */
export function readSignatures(message: HttpMessageLike): MessageSignatures {
  const input = fieldLines(message.headers, 'signature-input');
  const sig = fieldLines(message.headers, 'signature');
  if (input === undefined && sig === undefined) throw new PortcullisError('signature.missing', 'the message is not signed');
  if (input === undefined || sig === undefined) throw new PortcullisError('signature.malformed', 'Signature and Signature-Input must be sent together');
  return { inputs: parseSignatureInput(input.join(', ')), signatures: parseSignature(sig.join(', ')) };
}

/**
 * A verifier for one policy (one per route or webhook receiver); reuse it for every message.
 *
 * @example
 * const verifier = new SignatureVerifier({ keyLookup: (kid) => keys.get(kid), requiredComponents: ['@method', '@target-uri'], maxAge: 300 });
 * const { keyid, params } = await verifier.verify({ method: req.method, url, headers: req.headers });
 */
export class SignatureVerifier {
  private readonly required: string[];
  private readonly algorithms: ReadonlySet<SignatureAlgorithm> | undefined;
  private readonly clock: Clock;
  private readonly skew: number;
  private readonly maxSignatures: number;

  constructor(private readonly policy: VerifyPolicy) {
    this.maxSignatures = policy.maxSignatures ?? DEFAULT_MAX_SIGNATURES;
    this.required = (policy.requiredComponents ?? []).map((c) => serializeComponentId(typeof c === 'string' ? parseComponentId(c) : c));
    this.algorithms = policy.algorithms ? new Set(policy.algorithms) : undefined;
    this.clock = policy.clock ?? systemClock;
    this.skew = policy.clockSkew ?? 30;
  }

  /**
   * Verifies the message's signatures that the policy selects and returns the first
   * one that passes; when none passes, throws the first one's error.
   */
  async verify(message: HttpMessageLike, request?: HttpRequestLike, parsed?: MessageSignatures): Promise<VerifiedSignature> {
    return this.check(message, request, parsed);
  }

  /**
   * `verify` without the promise when nothing waits: with a synchronous key lookup and
   * `verifySignature` (an HMAC on node:crypto) the result, or the error, comes back
   * directly; otherwise a Promise. For servers, where each microtask hop counts.
   *
   * @example
   * const r = verifier.check(message, undefined, readSignatures(message));
   * const v = r instanceof Promise ? await r : r;
   */
  check(message: HttpMessageLike, request?: HttpRequestLike, parsed?: MessageSignatures): VerifiedSignature | Promise<VerifiedSignature> {
    const { inputs, signatures } = parsed ?? readSignatures(message);
    // each member may cost a public-key verification: a bounded number of them, whatever fits in the header
    if (inputs.size > this.maxSignatures || signatures.size > this.maxSignatures) throw new PortcullisError('signature.too-many', `more than ${this.maxSignatures} signatures on one message`);
    let candidates: SignatureInput[];
    if (this.policy.label !== undefined) {
      const one = inputs.get(this.policy.label);
      candidates = one ? [one] : [];
    } else candidates = [...inputs.values()];
    if (this.policy.tag !== undefined) candidates = candidates.filter((c) => c.params.tag === this.policy.tag);
    if (candidates.length === 0) throw new PortcullisError('signature.missing', 'no signature with the expected label or tag');
    let first: unknown;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      try {
        const r = this.verifyOne(message, c, signatures.get(c.label), request);
        if (r instanceof Promise && (first !== undefined || i + 1 < candidates.length)) return this.verifyRest(r, i, first, candidates, signatures, message, request);
        return r;
      } catch (e) {
        first ??= e;
      }
    }
    throw first;
  }

  /** The candidates after `i`, once the pending verification of `i` failed. */
  private async verifyRest(pending: Promise<VerifiedSignature>, i: number, first: unknown, candidates: SignatureInput[], signatures: Map<string, Uint8Array>, message: HttpMessageLike, request: HttpRequestLike | undefined): Promise<VerifiedSignature> {
    try {
      return await pending;
    } catch (e) {
      first ??= e;
    }
    for (let j = i + 1; j < candidates.length; j++) {
      const c = candidates[j]!;
      try {
        return await this.verifyOne(message, c, signatures.get(c.label), request);
      } catch (e) {
        first ??= e;
      }
    }
    throw first;
  }

  private verifyOne(message: HttpMessageLike, input: SignatureInput, signature: Uint8Array | undefined, request?: HttpRequestLike): VerifiedSignature | Promise<VerifiedSignature> {
    const { label, params } = input;
    const p = this.policy;
    if (signature === undefined) throw new PortcullisError('signature.malformed', `signature "${label}" is in Signature-Input but not in Signature`);
    if ((p.requireCreated ?? true) && params.created === undefined) throw new PortcullisError('signature.parameter-missing', `signature "${label}" has no created parameter`);
    if (p.maxAge !== undefined && params.created === undefined) throw new PortcullisError('signature.parameter-missing', `signature "${label}" has no created parameter, so its age cannot be checked`);
    if (p.requireExpires && params.expires === undefined) throw new PortcullisError('signature.parameter-missing', `signature "${label}" has no expires parameter`);
    if (p.requireNonce && params.nonce === undefined) throw new PortcullisError('signature.parameter-missing', `signature "${label}" has no nonce parameter`);
    if ((p.requireKeyid ?? true) && params.keyid === undefined) throw new PortcullisError('signature.parameter-missing', `signature "${label}" has no keyid parameter`);

    const covered = input.componentIds;
    for (const r of this.required) {
      if (!covered.includes(r)) throw new PortcullisError('signature.component-missing', `signature "${label}" does not cover ${r}`);
    }

    const now = Math.floor(this.clock.now() / 1000);
    if (params.created !== undefined) {
      if (params.created > now + this.skew) throw new PortcullisError('signature.not-yet-valid', `signature "${label}" was created in the future`);
      if (p.maxAge !== undefined && now - params.created > p.maxAge + this.skew) throw new PortcullisError('signature.expired', `signature "${label}" is older than ${p.maxAge}s`);
    }
    if (params.expires !== undefined && now > params.expires + this.skew) throw new PortcullisError('signature.expired', `signature "${label}" has expired`);

    if (params.alg !== undefined && !isSignatureAlgorithm(params.alg)) throw new PortcullisError('signature.alg-mismatch', `signature "${label}" names an unknown algorithm`);
    const found = p.keyLookup(params.keyid, params.alg, input);
    if (found instanceof Promise) return found.then((k) => this.verifyWithKey(message, input, signature, k, request));
    return this.verifyWithKey(message, input, signature, found, request);
  }

  private verifyWithKey(message: HttpMessageLike, input: SignatureInput, signature: Uint8Array, found: VerificationKey | undefined, request: HttpRequestLike | undefined): VerifiedSignature | Promise<VerifiedSignature> {
    const { label, params } = input;
    const p = this.policy;
    if (!found) throw new PortcullisError('signature.unknown-key', `signature "${label}" names an unknown key`);
    const alg = found.alg;
    if (params.alg !== undefined && params.alg !== alg) throw new PortcullisError('signature.alg-mismatch', `signature "${label}" declares ${params.alg} but its key is ${alg}`);
    if (this.algorithms && !this.algorithms.has(alg)) throw new PortcullisError('signature.alg-mismatch', `algorithm ${alg} is not allowed here`);
    if (!keyFits(alg, found.key, 'verify')) throw new PortcullisError('signature.alg-mismatch', `the key registered for ${alg} is not a ${alg} verification key`);

    const base = signatureBaseOf(message, input, request);
    const ok = p.verifySignature !== undefined ? p.verifySignature(found, signature, base) : verifyBytes(alg, found.key, signature, new TextEncoder().encode(base));
    return ok instanceof Promise ? ok.then((valid) => verified(valid, input, alg)) : verified(ok, input, alg);
  }
}

function verified(valid: boolean, input: SignatureInput, alg: SignatureAlgorithm): VerifiedSignature {
  if (!valid) throw new PortcullisError('signature.invalid', `signature "${input.label}" does not verify`);
  return { label: input.label, alg, keyid: input.params.keyid, params: input.params, components: input.componentIds };
}

/**
 * One-off verification; build a `SignatureVerifier` once instead on hot paths.
 *
 * @example
 * await verifyMessage(response, { keyLookup, requiredComponents: ['@status', 'content-digest'] }, request);
 */
export function verifyMessage(message: HttpMessageLike, policy: VerifyPolicy, request?: HttpRequestLike): Promise<VerifiedSignature> {
  return new SignatureVerifier(policy).verify(message, request);
}
