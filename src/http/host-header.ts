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
 *
 * The admin plane checks the same syntax, then answers only the names it is called by
 * (`adminHostCheck`), so a DNS-rebound page cannot read it from a browser.
 */
import type { IncomingMessage } from 'node:http';
import type { onRequestHookHandler } from 'fastify';
import { PortcullisError } from '../core/errors.js';
import { isIPv4 } from 'node:net';
import { forwardedScheme } from '../gateway/forwarded.js';
import { isValidHost } from '../gateway/request-target.js';
import { hostKey } from '../gateway/route-table.js';

/** The values of a comma-separated list field, however many lines carried it. */
const valuesOf = (field: string | string[]): string[] => (Array.isArray(field) ? field.join(',') : field).split(',').map((v) => v.trim());

function invalid(field: string): PortcullisError {
  return new PortcullisError('request.malformed', `invalid ${field} header`);
}

/**
 * The request's one Host value, undefined when it has none (HTTP/1.0); throws
 * `request.malformed` for more than one Host line or a Host that is not `uri-host [":" port]`
 * naming its host one way only.
 */
function hostOf(req: IncomingMessage): string | undefined {
  let hosts = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
  if (hosts > 1 || (hosts === 1 && !isValidHost(req.headers.host ?? ''))) throw invalid('Host');
  return hosts === 1 ? req.headers.host : undefined;
}

/**
 * Throws `request.malformed` for a request with two Authorization lines: Node keeps the
 * first, and a proxy in front may have judged the other. RFC 9110 §11.6.2 defines one
 * credentials value; the gateway refuses two as well.
 */
function oneAuthorization(req: IncomingMessage): void {
  let n = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization' && ++n > 1) throw invalid('Authorization');
}

/**
 * Throws `request.malformed` for a request with more than one Host line or more than one
 * Authorization line, a Host that is not `uri-host [":" port]` naming its host one way only, or (kept only from a trusted proxy) an
 * X-Forwarded-Host listing such a value or an X-Forwarded-Proto listing anything but http
 * and https (`forwardedScheme`, the gateway's check; a Forwarded `proto=` is checked as
 * one, `forwardedAsXForwarded` having copied it there). Run after the forwarding headers
 * of untrusted peers are removed.
 *
 * @example app.addHook('onRequest', rawRequestCheck(checkHostHeaders));
 */
export function checkHostHeaders(req: IncomingMessage): void {
  hostOf(req);
  oneAuthorization(req);
  const forwardedHost = req.headers['x-forwarded-host'];
  if (forwardedHost !== undefined) for (const v of valuesOf(forwardedHost)) if (!isValidHost(v)) throw invalid('X-Forwarded-Host');
  // the gateway's rule for a trusted proxy's X-Forwarded-Proto (forwarded.ts), over every line joined
  const forwardedProto = req.headers['x-forwarded-proto'];
  if (forwardedProto !== undefined) forwardedScheme(Array.isArray(forwardedProto) ? forwardedProto.join(',') : forwardedProto);
}

/**
 * The admin plane's Host rule against DNS rebinding: a page whose own name was re-pointed
 * at the admin plane's address reaches it from a browser as same-origin, but its requests
 * carry that name in Host. Returns a check that passes a Host naming an IP address,
 * `localhost` or one of `names` (any case, any port, one trailing dot), throws
 * `request.malformed` for a malformed Host (as `checkHostHeaders`) and
 * `admin.host-not-allowed` for any other name and for a request without Host.
 *
 * @example
 * const checkHost = adminHostCheck(config.admin.allowedHosts);
 * app.addHook('onRequest', rawRequestCheck(checkHost));
 */
export function adminHostCheck(names: readonly string[]): (req: IncomingMessage) => void {
  const allowed = new Set(['localhost', ...names.map(hostKey)]);
  return (req) => {
    oneAuthorization(req);
    const host = hostOf(req);
    if (host === undefined) throw new PortcullisError('admin.host-not-allowed', 'the admin plane answers only requests that name it in Host');
    const key = hostKey(host);
    // hostKey writes an IPv6 literal in brackets and drops the trailing dot of an IPv4 address
    if (key.charCodeAt(0) === 91 /* [ */ || isIPv4(key) || allowed.has(key)) return;
    throw new PortcullisError('admin.host-not-allowed', `the admin plane does not answer to the name ${key}: call it by IP address or localhost, or list the name in admin.allowedHosts`);
  };
}

/**
 * A fastify `onRequest` hook running a synchronous check on the raw request: what the
 * check throws (a `PortcullisError`) becomes the problem+json answer, and the request
 * goes no further.
 * @example app.addHook('onRequest', rawRequestCheck(checkHostHeaders));
 */
export function rawRequestCheck(check: (req: IncomingMessage) => void): onRequestHookHandler {
  return (request, _reply, done) => {
    try {
      check(request.raw);
    } catch (e) {
      done(e as Error);
      return;
    }
    done();
  };
}
