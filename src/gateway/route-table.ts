/**
 * The gateway route table: host (exact, case-insensitive, port and trailing dot ignored), path prefix
 * on segment boundaries and ignoring ASCII case (`/admin/` matching `/admin` too), methods (GET includes
 * HEAD). The longest matching prefix as configured wins (`/admin/` beats `/admin` and `/`, for `/admin`
 * too); at equal length a route that names a host beats one that matches any host. Two routes that
 * could match the same request at the same rank (`/Admin/` and `/admin/`) are refused at load.
 *
 * Express (by default), ASP.NET Core, IIS and Windows route `/ADMIN` to their `/admin` handler: a prefix
 * compared case-exactly would send that request to a broader route, and its upstream would run the
 * protected handler without the route's policy.
 */
import type { RouteConfig } from '../core/config/schema.js';
import { PortcullisError } from '../core/errors.js';

export interface CompiledRoute {
  readonly config: RouteConfig;
  readonly name: string;
  /** Lower-case host without port, or undefined for any host. */
  readonly host: string | undefined;
  /** The prefix as configured. */
  readonly prefix: string;
  /** The prefix with ASCII letters lower-cased, what paths are matched against (`prefixMatches`). */
  readonly matchPrefix: string;
  /** The length of the prefix without a trailing slash (0 for '/'), what stripPrefix removes (the bare name becomes '/'). */
  readonly stripLength: number;
  readonly methods: ReadonlySet<string> | undefined;
  /** Upstream origin (`http://host:port`). */
  readonly origin: string;
  /** Upstream base path without a trailing slash ('' for none). */
  readonly basePath: string;
  /** Upstream host header value (host[:port]). */
  readonly upstreamHost: string;
}

/** Compiles one route's match and upstream once, so matching allocates nothing. */
export function compileRoute(config: RouteConfig): CompiledRoute {
  const url = new URL(config.upstream);
  const prefix = config.match.pathPrefix;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return {
    config,
    name: config.name,
    host: config.match.host === undefined ? undefined : hostKey(config.match.host),
    prefix,
    matchPrefix: asciiLower(prefix),
    stripLength: trimmed.length,
    methods: config.match.methods === undefined ? undefined : methodSet(config.match.methods),
    origin: url.origin,
    basePath: url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, ''),
    upstreamHost: url.host,
  };
}

type MatchKey = Pick<CompiledRoute, 'matchPrefix' | 'host' | 'methods'>;

/**
 * The first pair of routes `[earlier, later]` that could match the same request at the same rank,
 * so that only their order would decide and the later one would never match it: prefixes equal once
 * ASCII case is folded (`/Admin/` and `/admin/`), the same host or both any host, and a method in
 * common (all when omitted, HEAD on a GET route). A host route beside an any-host route with the
 * same prefix is no such pair: the host route wins for its host.
 * @example ambiguousRoutes(configs.map(compileRoute)) // [0, 2]
 */
export function ambiguousRoutes(routes: readonly MatchKey[]): [number, number] | undefined {
  const seen = new Map<string, number[]>();
  for (const [j, b] of routes.entries()) {
    const key = `${b.host ?? ''} ${b.matchPrefix}`;
    const same = seen.get(key);
    if (same === undefined) {
      seen.set(key, [j]);
      continue;
    }
    for (const i of same) if (shareMethod(routes[i]!.methods, b.methods)) return [i, j];
    same.push(j);
  }
  return undefined;
}

function shareMethod(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  for (const m of a) if (b.has(m)) return true;
  return false;
}

/** The message of `config.invalid` for an ambiguous pair (`ambiguousRoutes`), naming both routes. */
export function ambiguousRoutesMessage(earlier: RouteConfig, later: RouteConfig): string {
  return `routes "${later.name}" (${later.match.pathPrefix}) and "${earlier.name}" (${earlier.match.pathPrefix}) match the same requests (paths are matched ignoring ASCII case, on the same host and methods): only their order would decide, and one would never match; merge them, or give them other hosts or methods`;
}

/**
 * The methods a route matches: a route for GET matches HEAD too. RFC 9110 §9.3.2: HEAD
 * is "identical to GET except that the server MUST NOT send content", and upstreams run
 * their GET handler for it, so a HEAD that fell through to a broader route would reach
 * the protected handler without the route's policy.
 */
function methodSet(methods: readonly string[]): ReadonlySet<string> {
  const set = new Set(methods);
  if (set.has('GET')) set.add('HEAD');
  return set;
}

/** `example.com:8443` → `example.com`, `[::1]:80` → `[::1]`. */
export function stripPort(host: string): string {
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/**
 * A host as routes compare it: lower-case, without the port, and without the one trailing
 * dot of the absolute form (`API.example.com.:443` is `api.example.com`, the same name to
 * DNS and to upstreams), an IPv6 literal in the form URL parsers give it (`[0:0::1]` is
 * `[::1]`): a client cannot steer a request past a host route to an any-host one with it.
 */
export function hostKey(host: string): string {
  const h = stripPort(host.toLowerCase());
  if (h.charCodeAt(0) === 91 /* [ */) return ipLiteralKey(h);
  return h.length > 1 && h.charCodeAt(h.length - 1) === 46 /* . */ ? h.slice(0, -1) : h;
}

/** `[0:0::1]` → `[::1]` (RFC 5952 compression, as the WHATWG URL parser serializes it); unchanged when it is no IPv6 literal. */
function ipLiteralKey(literal: string): string {
  try {
    return new URL(`http://${literal}`).hostname;
  } catch {
    return literal;
  }
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * Whether `path` (no query) starts with `prefix` (ASCII lower-case) on a segment boundary,
 * ignoring the case of ASCII letters in `path`. A prefix with a trailing slash also matches
 * its bare name: Express (non-strict routing) and most frameworks serve `/admin` as the index
 * of `/admin/`, which a broader route would otherwise reach without this route's policy.
 * @example prefixMatches('/admin', '/ADMIN/users') // true
 * @example prefixMatches('/admin/', '/admin') // true
 */
export function prefixMatches(prefix: string, path: string): boolean {
  const n = prefix.length;
  const m = path.length;
  if (m < n && (m !== n - 1 || prefix.charCodeAt(m) !== 47 /* / */)) return false;
  const k = m < n ? m : n;
  for (let i = 0; i < k; i++) {
    const c = path.charCodeAt(i);
    if (c !== prefix.charCodeAt(i) && (c < 65 || c > 90 || c + 32 !== prefix.charCodeAt(i))) return false;
  }
  if (m <= n) return true;
  return prefix.charCodeAt(n - 1) === 47 /* / */ || path.charCodeAt(n) === 47;
}

export class RouteTable<R extends CompiledRoute = CompiledRoute> {
  private readonly routes: readonly R[];

  /** `config.invalid` for two routes only their order would decide between (`ambiguousRoutes`). */
  constructor(routes: readonly R[]) {
    const pair = ambiguousRoutes(routes);
    if (pair !== undefined) throw new PortcullisError('config.invalid', ambiguousRoutesMessage(routes[pair[0]]!.config, routes[pair[1]]!.config));
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length || (a.host === undefined ? 1 : 0) - (b.host === undefined ? 1 : 0));
  }

  /**
   * The route for a request, or undefined (the caller answers 404 `route.not-found`).
   * `host` is the Host header as received (any case, maybe with a port).
   * @example table.match('API.example.com:8443', 'GET', '/orders/1')
   */
  match(host: string | undefined, method: string, path: string): R | undefined {
    let h: string | undefined;
    // a route matched by its bare name (`/admin/` for `/admin`) yields to a route whose prefix is that name
    let bare: R | undefined;
    for (const r of this.routes) {
      if (bare !== undefined && r.matchPrefix.length < path.length) return bare;
      if (r.host !== undefined) {
        if (host === undefined) continue;
        h ??= hostKey(host);
        if (h !== r.host) continue;
      }
      if (r.methods !== undefined && !r.methods.has(method)) continue;
      if (prefixMatches(r.matchPrefix, path)) {
        if (path.length >= r.matchPrefix.length) return r;
        bare ??= r;
      }
    }
    return bare;
  }

  get size(): number {
    return this.routes.length;
  }
}
