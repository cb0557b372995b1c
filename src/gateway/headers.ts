/**
 * Header handling between client, gateway and upstream.
 *
 * RFC 9110 §7.6.1: "a proxy or gateway MUST parse a received Connection header field
 * before a message is forwarded and, for each connection-option in this field, remove
 * any header or trailer field(s) from the message with the same name as the
 * connection-option, and then remove the Connection header field itself". The other
 * hop-by-hop fields (Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
 * Upgrade, Proxy-Authorization) are removed both ways too. Connection is not signed, so
 * an option naming a field the request relies on end to end (Authorization, Host,
 * Content-*, Signature, Signature-Input) is refused with `request.malformed` rather than
 * obeyed: anyone on the path could otherwise remove a verified field after the check.
 * The gateway refuses options naming a route's covered fields the same way (gateway.ts).
 *
 * Towards the upstream the gateway also drops the client's Authorization (the upstream
 * gets the verified identity instead), any `x-portcullis-*` header (only the gateway
 * speaks that namespace), client-certificate headers of TLS-terminating proxies (RFC
 * 9700 §4.13), the `_` spellings of all of these, Host (set from the upstream URL) and
 * Expect. Other names with `_` are forwarded but flagged, so the gateway can refuse one
 * that reads as a signed field to CGI-style upstreams (gateway.ts). X-Forwarded-For/-Proto/-Host and Forwarded are taken out here; the gateway
 * states them itself (gateway.ts), keeping the received values only from a trusted proxy;
 * so are the other fields only a proxy in front may state, passed on from a trusted proxy
 * only: the client-IP fields of CDNs and proxies (X-Real-IP, True-Client-IP, …), which
 * upstreams read before X-Forwarded-For, and the scheme, port and path fields
 * (X-Forwarded-Ssl/-Scheme/-Port/-Prefix/-Uri, Front-End-Https, X-Original-URI, …) from
 * which Rack and Spring's ForwardedHeaderFilter rebuild the URL the client used, and the
 * scheme and host fields some frameworks read beside them (X-Forwarded-Protocol,
 * X-Forwarded-Server, X-Host). A trusted proxy that names one of these in Connection has
 * declared it for this hop only: the received value is not passed on.
 *
 * The gateway routes and checks a request by its method, but common upstream frameworks
 * (Express `method-override`, Rack::MethodOverride, Spring filters, ASP.NET) run the method
 * named in `X-HTTP-Method-Override`, `X-HTTP-Method` or `X-Method-Override` instead: a
 * request carrying one, in any spelling, is refused with `request.method-override`.
 * Likewise some take the path from IIS URL Rewrite's `X-Original-URL` or `X-Rewrite-URL`
 * rather than the request line; a client's copy of these, in any spelling, is dropped.
 */
import { PortcullisError } from '../core/errors.js';

const enum Kind {
  Forward = 0,
  /** Forwarded, and its name has `_` (gateway.ts checks it against the signed fields). */
  ForwardUnderscore,
  Drop,
  Connection,
  Host,
  Authorization,
  ContentLength,
  TransferEncoding,
  XForwardedFor,
  XForwardedProto,
  XForwardedHost,
  Forwarded,
  /** A field only a proxy in front may state (X-Real-IP, X-Forwarded-Prefix, Front-End-Https, …): kept from a trusted proxy only. */
  ProxyStated,
  /** A method-override field: refused (`request.method-override`). */
  MethodOverride,
}

const REQUEST_KINDS = new Map<string, Kind>([
  ['connection', Kind.Connection],
  ['keep-alive', Kind.Drop],
  ['proxy-connection', Kind.Drop],
  ['te', Kind.Drop],
  ['trailer', Kind.Drop],
  ['transfer-encoding', Kind.TransferEncoding],
  ['upgrade', Kind.Drop],
  ['proxy-authorization', Kind.Drop],
  ['expect', Kind.Drop],
  ['host', Kind.Host],
  ['authorization', Kind.Authorization],
  ['content-length', Kind.ContentLength],
  ['x-forwarded-for', Kind.XForwardedFor],
  ['x-forwarded-proto', Kind.XForwardedProto],
  ['x-forwarded-host', Kind.XForwardedHost],
  ['forwarded', Kind.Forwarded],
  // go-chi's RealIP reads True-Client-IP, then X-Real-IP; Rails Client-IP; Gin and Echo X-Real-IP
  ['x-real-ip', Kind.ProxyStated],
  ['true-client-ip', Kind.ProxyStated],
  ['x-client-ip', Kind.ProxyStated],
  ['client-ip', Kind.ProxyStated],
  ['cf-connecting-ip', Kind.ProxyStated],
  ['fastly-client-ip', Kind.ProxyStated],
  ['x-cluster-client-ip', Kind.ProxyStated],
  ['x-original-forwarded-for', Kind.ProxyStated],
  // Rack takes the scheme from X-Forwarded-Ssl, -Scheme and Front-End-Https and the port from
  // X-Forwarded-Port; Spring's ForwardedHeaderFilter builds URLs from X-Forwarded-Prefix and -Port
  ['x-forwarded-prefix', Kind.ProxyStated],
  ['x-forwarded-port', Kind.ProxyStated],
  ['x-forwarded-ssl', Kind.ProxyStated],
  ['x-forwarded-scheme', Kind.ProxyStated],
  ['x-url-scheme', Kind.ProxyStated],
  ['front-end-https', Kind.ProxyStated],
  ['x-forwarded-uri', Kind.ProxyStated],
  ['x-original-uri', Kind.ProxyStated],
  // Apache's mod_proxy sets X-Forwarded-Server; some frameworks take the scheme from
  // X-Forwarded-Protocol and the host from X-Host or X-Forwarded-Server
  ['x-forwarded-protocol', Kind.ProxyStated],
  ['x-forwarded-server', Kind.ProxyStated],
  ['x-host', Kind.ProxyStated],
  ['x-http-method-override', Kind.MethodOverride],
  ['x-http-method', Kind.MethodOverride],
  ['x-method-override', Kind.MethodOverride],
  // Zend Framework 1, Yii 2 and Symfony < 4.1.3 (CVE-2018-14773) route by these instead of the request line
  ['x-original-url', Kind.Drop],
  ['x-rewrite-url', Kind.Drop],
]);

/**
 * Client-certificate headers that TLS-terminating proxies set (lower-case, `-` form):
 * RFC 9440, Envoy, nginx, Apache, Traefik, AWS ALB, Azure ARR. RFC 9700 §4.13: sent by a
 * client they are forgeries; only the gateway states a certificate identity, in
 * `x-portcullis-client-cert-*`.
 */
const CLIENT_CERT_NAMES = new Set(['client-cert', 'client-cert-chain', 'x-client-cert', 'x-client-certificate', 'x-client-verify', 'x-client-dn', 'x-forwarded-client-cert', 'ssl-client-cert', 'x-ssl-cert', 'x-arr-clientcert']);
const CLIENT_CERT_PREFIXES = ['x-client-cert-', 'x-ssl-client', 'ssl-client-', 'x-ssl-cert-', 'x-forwarded-tls-client-cert', 'x-amzn-mtls-clientcert'];

/** Whether a lower-case, `-` form name is one only the gateway may send upstream. */
function gatewayOwned(name: string): boolean {
  if (name.startsWith('x-portcullis-') || CLIENT_CERT_NAMES.has(name)) return true;
  for (const p of CLIENT_CERT_PREFIXES) if (name.startsWith(p)) return true;
  return false;
}

/** Request field names as received (any case) → kind, so a repeated spelling is not classified again. */
const SEEN_KINDS = new Map<string, Kind>();

function requestKind(name: string): Kind {
  let kind = SEEN_KINDS.get(name);
  if (kind === undefined) {
    const lower = name.toLowerCase();
    kind = REQUEST_KINDS.get(lower);
    if (kind === undefined) {
      // CGI, WSGI and Rack read `_` as `-` (HTTP_X_PORTCULLIS_SUBJECT): an underscore spelling of a
      // field the gateway sets or removes is that field to them
      const dashed = lower.includes('_') ? lower.replaceAll('_', '-') : lower;
      const known = dashed === lower ? undefined : REQUEST_KINDS.get(dashed);
      kind = known === Kind.MethodOverride ? known : gatewayOwned(dashed) || known !== undefined ? Kind.Drop : dashed !== lower ? Kind.ForwardUnderscore : Kind.Forward;
    }
    // clients that invent names cannot grow this without bound
    if (SEEN_KINDS.size >= 1024) SEEN_KINDS.clear();
    SEEN_KINDS.set(name, kind);
  }
  return kind;
}

/** Hop-by-hop response fields (RFC 9110 §7.6.1), by lower-case name. */
const RESPONSE_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization']);

/** What one pass over a request's raw headers found. */
export interface ScannedRequest {
  /** Headers to forward, flat `[name, value, name, value, …]`, without the ones above. */
  forward: string[];
  /** The first Host value; `hostCount` says how many Host lines there were. */
  host: string | undefined;
  hostCount: number;
  authCount: number;
  authValue: string | undefined;
  contentLength: string | undefined;
  contentLengthCount: number;
  transferEncoding: boolean;
  xForwardedFor: string | undefined;
  /**
   * Field names (lower-case) the Connection header named, removed from `forward` and
   * `proxyStated`; undefined when none. X-Forwarded-For/-Proto and Forwarded so named
   * are still read for this hop, but their received values are not passed on (gateway.ts).
   */
  connectionNamed: ReadonlySet<string> | undefined;
  xForwardedProto: string | undefined;
  /** RFC 7239 Forwarded, every line joined. */
  forwarded: string | undefined;
  /** Fields only a proxy in front may state (X-Real-IP, X-Forwarded-Prefix, …), flat `[name, value, …]`, forwarded only from a trusted proxy; undefined when none. */
  proxyStated: string[] | undefined;
  /** Whether a forwarded field name has `_` (which CGI, WSGI and Rack read as `-`). */
  underscore: boolean;
}

/** Fields a Connection option may not remove (besides every `content-*`). */
const END_TO_END = new Set(['authorization', 'host', 'signature', 'signature-input']);

function appendList(prev: string | undefined, v: string): string {
  return prev === undefined ? v : prev + ', ' + v;
}

/** Names listed in Connection values, lower-case, other than the usual `close`/`keep-alive`. */
function connectionOptions(values: string[]): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (const v of values) {
    if (v.length <= 10 && /^(keep-alive|close)$/i.test(v)) continue;
    for (const part of v.split(',')) {
      const name = part.trim().toLowerCase();
      if (name === '' || name === 'close' || name === 'keep-alive') continue;
      (out ??= new Set()).add(name);
    }
  }
  return out;
}

function removeNamed(flat: string[], names: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (!names.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  return out;
}

/**
 * One pass over `req.rawHeaders`.
 * @example const s = scanRequestHeaders(req.rawHeaders)
 */
export function scanRequestHeaders(raw: string[]): ScannedRequest {
  const forward: string[] = [];
  const s: ScannedRequest = {
    forward,
    host: undefined,
    hostCount: 0,
    authCount: 0,
    authValue: undefined,
    contentLength: undefined,
    contentLengthCount: 0,
    transferEncoding: false,
    xForwardedFor: undefined,
    connectionNamed: undefined,
    xForwardedProto: undefined,
    forwarded: undefined,
    proxyStated: undefined,
    underscore: false,
  };
  let connection: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const kind = requestKind(name);
    if (kind === Kind.Forward) {
      forward.push(name, value);
      continue;
    }
    switch (kind) {
      case Kind.Drop:
        break;
      case Kind.ForwardUnderscore:
        s.underscore = true;
        forward.push(name, value);
        break;
      case Kind.Connection:
        (connection ??= []).push(value);
        break;
      case Kind.Host:
        if (s.hostCount++ === 0) s.host = value;
        break;
      case Kind.Authorization:
        if (s.authCount++ === 0) s.authValue = value;
        break;
      case Kind.ContentLength:
        s.contentLengthCount++;
        s.contentLength ??= value;
        forward.push(name, value);
        break;
      case Kind.TransferEncoding:
        // RFC 9112 §6.1: a server that receives a transfer coding it does not understand SHOULD answer 501
        if (s.transferEncoding || (value !== 'chunked' && value.trim().toLowerCase() !== 'chunked')) {
          throw new PortcullisError('request.transfer-coding-unsupported', 'only Transfer-Encoding: chunked is accepted');
        }
        s.transferEncoding = true;
        break;
      case Kind.XForwardedFor:
        s.xForwardedFor = appendList(s.xForwardedFor, value);
        break;
      case Kind.XForwardedProto:
        s.xForwardedProto = appendList(s.xForwardedProto, value);
        break;
      case Kind.XForwardedHost:
        // never passed on: the gateway states the Host it routed on (gateway.ts)
        break;
      case Kind.Forwarded:
        s.forwarded = appendList(s.forwarded, value);
        break;
      case Kind.ProxyStated:
        (s.proxyStated ??= []).push(name, value);
        break;
      case Kind.MethodOverride:
        throw new PortcullisError('request.method-override', `${name} would have the upstream run another method than the one the gateway routed and checked`);
    }
  }
  if (connection !== undefined) {
    const named = connectionOptions(connection);
    if (named !== undefined) {
      for (const n of named) if (END_TO_END.has(n) || n.startsWith('content-')) throw new PortcullisError('request.malformed', 'the Connection header names a field the request relies on end to end');
      s.connectionNamed = named;
      s.forward = removeNamed(forward, named);
      if (s.proxyStated !== undefined) {
        const kept = removeNamed(s.proxyStated, named);
        s.proxyStated = kept.length === 0 ? undefined : kept;
      }
    }
  }
  return s;
}

/**
 * Recently decoded header names, and values of a few fields that carry no per-user
 * data (and Connection's), by a hash of their bytes: the upstream repeats them on every response, and a
 * byte compare in JS costs a fraction of a Buffer decode.
 */
const DECODED: Array<string | undefined> = new Array<string | undefined>(256).fill(undefined);
const MAX_DECODED = 40;
/** Response fields whose values are decoded through DECODED (lower-case). */
const SHARED_VALUES = new Set(['content-type', 'content-length', 'date', 'cache-control', 'vary', 'server']);

function decode(buf: Buffer | string): string {
  if (typeof buf === 'string') return buf;
  const n = buf.length;
  if (n === 0 || n > MAX_DECODED) return buf.toString('latin1');
  const slot = (n * 31 + buf[0]! * 7 + buf[n >> 1]! * 3 + buf[n - 1]!) & 255;
  const prev = DECODED[slot];
  if (prev !== undefined && prev.length === n) {
    let i = 0;
    while (i < n && prev.charCodeAt(i) === buf[i]) i++;
    if (i === n) return prev;
  }
  const s = buf.toString('latin1');
  DECODED[slot] = s;
  return s;
}

const enum NameKind {
  Other,
  SharedValue,
  Hop,
  Connection,
  TransferEncoding,
}

/** What each response field name (as received, any case) is, computed once per name. */
const NAME_KINDS = new Map<string, NameKind>();

function kindOf(name: string): NameKind {
  let k = NAME_KINDS.get(name);
  if (k === undefined) {
    const lower = name.toLowerCase();
    k = lower === 'connection' ? NameKind.Connection : lower === 'transfer-encoding' ? NameKind.TransferEncoding : RESPONSE_HOP.has(lower) ? NameKind.Hop : SHARED_VALUES.has(lower) ? NameKind.SharedValue : NameKind.Other;
    // an upstream that invents names cannot grow this without bound
    if (NAME_KINDS.size >= 1024) NAME_KINDS.clear();
    NAME_KINDS.set(name, k);
  }
  return k;
}

/**
 * The upstream's response headers as a flat string array for `res.writeHead`, without
 * hop-by-hop fields nor those its Connection header names.
 *
 * Transfer-Encoding goes too and Node frames the relayed body itself, so a coding other
 * than `chunked` (the only one llhttp undoes) would reach the client still applied, with
 * nothing saying so: any other coding, alone or stacked, and `chunked` twice, is 502
 * `upstream.transfer-coding-unsupported`, as a request's is 501 (RFC 9112 §6.1).
 */
export function filterResponseHeaders(raw: Buffer[] | string[]): string[] {
  const out: string[] = [];
  let named: Set<string> | undefined;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = decode(raw[i]!);
    const kind = kindOf(name);
    if (kind === NameKind.Other) out.push(name, raw[i + 1]!.toString('latin1'));
    else if (kind === NameKind.SharedValue) out.push(name, decode(raw[i + 1]!));
    else if (kind === NameKind.TransferEncoding) {
      const v = decode(raw[i + 1]!);
      if (chunked || (v !== 'chunked' && v.trim().toLowerCase() !== 'chunked')) {
        throw new PortcullisError('upstream.transfer-coding-unsupported', 'the upstream answered with a transfer coding other than chunked');
      }
      chunked = true;
    } else if (kind === NameKind.Connection) {
      const v = decode(raw[i + 1]!);
      if (v.length > 10 || !/^(keep-alive|close)$/i.test(v)) {
        const more = connectionOptions([v]);
        if (more !== undefined) for (const n of more) (named ??= new Set()).add(n);
      }
    }
  }
  return named === undefined ? out : removeNamed(out, named);
}
