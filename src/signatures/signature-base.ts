/**
 * The signature base (RFC 9421 §2.5): one line per covered component,
 * `"name";params: value`, then `"@signature-params": (…);params`, joined by LF
 * with no trailing LF. Built once per signature; the bytes signed are its UTF-8 encoding.
 */
import { PortcullisError } from '../core/errors.js';
import { componentValue } from './components.js';
import { serializeComponentId, type ComponentId } from './signature-input.js';
import type { HttpMessageLike, HttpRequestLike } from './types.js';

/**
 * Builds the signature base for `covered` components of `message`, ending with the
 * given `@signature-params` value.
 *
 * @example
 * signatureBase(request, [parseComponentId('@method')], '("@method");created=1618884473');
 * // '"@method": POST\n"@signature-params": ("@method");created=1618884473'
 */
export function signatureBase(message: HttpMessageLike, covered: readonly ComponentId[], signatureParams: string, request?: HttpRequestLike): string {
  const seen = new Set<string>();
  let base = '';
  for (const c of covered) {
    const id = serializeComponentId(c);
    // §2.5: "The component identifiers ... MUST NOT contain duplicates"
    if (seen.has(id)) throw new PortcullisError('signature.malformed', `component ${id} is covered twice`);
    seen.add(id);
    base += `${id}: ${componentValue(c, message, request)}\n`;
  }
  return `${base}"@signature-params": ${signatureParams}`;
}
