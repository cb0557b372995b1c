/**
 * The signature base (RFC 9421 §2.5): one line per covered component,
 * `"name";params: value`, then `"@signature-params": (…);params`, joined by LF
 * with no trailing LF. Built once per signature; the bytes signed are its UTF-8 encoding.
 */
import { PortcullisError } from '../core/errors.js';
import { componentValue } from './components.js';
import { serializeComponentId, type ComponentId, type SignatureInput } from './signature-input.js';
import type { HttpMessageLike, HttpRequestLike } from './types.js';

function build(message: HttpMessageLike, covered: readonly ComponentId[], ids: readonly string[], signatureParams: string, request: HttpRequestLike | undefined): string {
  const n = covered.length;
  let base = '';
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    // §2.5: "The component identifiers ... MUST NOT contain duplicates"
    for (let j = 0; j < i; j++) if (ids[j] === id) throw new PortcullisError('signature.malformed', `component ${id} is covered twice`);
    base += `${id}: ${componentValue(covered[i]!, message, request)}\n`;
  }
  return `${base}"@signature-params": ${signatureParams}`;
}

/**
 * Builds the signature base for `covered` components of `message`, ending with the
 * given `@signature-params` value.
 *
 * @example
 * signatureBase(request, [parseComponentId('@method')], '("@method");created=1618884473');
 * // '"@method": POST\n"@signature-params": ("@method");created=1618884473'
 */
export function signatureBase(message: HttpMessageLike, covered: readonly ComponentId[], signatureParams: string, request?: HttpRequestLike): string {
  return build(message, covered, covered.map(serializeComponentId), signatureParams, request);
}

/**
 * The signature base of a parsed Signature-Input member (§3.2 step 5), reusing the
 * identifiers and `@signature-params` serialized when it was parsed.
 *
 * @example
 * const input = parseSignatureInput(fields.signatureInput).get('sig1')!;
 * signatureBaseOf(request, input);
 */
export function signatureBaseOf(message: HttpMessageLike, input: SignatureInput, request?: HttpRequestLike): string {
  return build(message, input.components, input.componentIds, input.serialized, request);
}
