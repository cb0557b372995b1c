/**
 * The Host of a request to the identity plane, checked as the gateway checks it
 * (gateway/request-target.ts `isValidHost`). oidc-provider's Koa builds the absolute URLs
 * of its pages and redirects from the Host, or from a trusted proxy's X-Forwarded-Host and
 * -Proto (http/forwarded-headers.ts removes them from any other peer): a value no URL can
 * be built from ended in a 500, and one a URL parser reads as another host
 * (`login%2eexample`, `127.1`, `evil@login.example`) in pages naming that host.
 *
 * RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
 * request message that lacks a Host header field and to any request message that contains
 * more than one Host header field line or a Host header field with an invalid field value."
 * (Node refuses a missing one.)
 */
import type { IncomingMessage } from 'node:http';
import { PortcullisError } from '../core/errors.js';
import { isValidHost } from '../gateway/request-target.js';

const SCHEME = /^https?$/i;

/** The values of a comma-separated list field, however many lines carried it. */
const valuesOf = (field: string | string[]): string[] => (Array.isArray(field) ? field.join(',') : field).split(',').map((v) => v.trim());

function invalid(field: string): PortcullisError {
  return new PortcullisError('request.malformed', `invalid ${field} header`);
}

/**
 * Throws `request.malformed` for a request with more than one Host line, a Host that is not
 * `uri-host [":" port]` naming its host one way only, or (kept only from a trusted proxy) an
 * X-Forwarded-Host listing such a value or an X-Forwarded-Proto listing anything but http
 * and https. Run after the forwarding headers of untrusted peers are removed.
 *
 * @example
 * app.addHook('onRequest', (req, _reply, done) => {
 *   try { checkHostHeaders(req.raw); done(); } catch (e) { done(e as Error); }
 * });
 */
export function checkHostHeaders(req: IncomingMessage): void {
  let hosts = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
  if (hosts > 1 || (hosts === 1 && !isValidHost(req.headers.host ?? ''))) throw invalid('Host');
  const forwardedHost = req.headers['x-forwarded-host'];
  if (forwardedHost !== undefined) for (const v of valuesOf(forwardedHost)) if (!isValidHost(v)) throw invalid('X-Forwarded-Host');
  const forwardedProto = req.headers['x-forwarded-proto'];
  if (forwardedProto !== undefined) for (const v of valuesOf(forwardedProto)) if (!SCHEME.test(v)) throw invalid('X-Forwarded-Proto');
}
