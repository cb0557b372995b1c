/**
 * The gateway route table: host (exact, case-insensitive, port and trailing dot ignored), path prefix
 * on segment boundaries and ignoring ASCII case (`/admin/` matching `/admin` too, and both matching
 * `/admin.json`), methods (GET includes HEAD). The longest matching prefix as configured wins (`/admin/`
 * beats `/admin` and `/`), except that a bare name or a format suffix matched through a trailing slash
 * yields to a route whose prefix is the name without it (`/admin` and `/admin.json` go to an `/admin`
 * route before an `/admin/` one); at equal length a route that names a host beats one that matches any
 * host. Two routes that could match the same request at the same rank (`/Admin/` and `/admin/`) are
 * refused at load.
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
  /** The prefix with ASCII letters lower-cased, what paths are matched against (`matchOf`). */
  readonly matchPrefix: string;
  /** The length of the prefix without a trailing slash (0 for '/'), what stripPrefix removes (the bare name becomes '/', `/svc.json` the base path with `.json`). */
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

/** How a route's prefix matches a path (`matchOf`). */
const NONE = 0;
/** On a segment boundary: `/admin` or `/admin/` for `/admin/users`, `/admin` for `/admin`. */
const PREFIX = 1;
/** The bare name of a prefix with a trailing slash: `/admin/` for `/admin`. */
const BARE = 2;
/** A format suffix on the prefix's last segment: `/admin` or `/admin/` for `/admin.json`. */
const SUFFIX = 3;

/**
 * How `prefix` (ASCII lower-case) matches `path` (no query), ignoring the case of ASCII letters in
 * `path`: on a segment boundary (`PREFIX`); as the bare name of a prefix with a trailing slash
 * (`BARE`: Express, non-strict, and most frameworks serve `/admin` as the index of `/admin/`); or
 * as its last segment with a format suffix (`SUFFIX`: `/admin.json`, `/admin.tar.gz`, `/admin.` and
 * `/admin.json/`, as Rails' `(.:format)`, Spring MVC's suffix pattern `/admin.*` and Django REST
 * framework's format suffixes serve them with the `/admin` handler). Each of these would otherwise
 * reach that handler through a broader route, without this route's policy.
 * @example matchOf('/admin', '/ADMIN/users') // PREFIX
 * @example matchOf('/admin/', '/admin') // BARE
 * @example matchOf('/admin/', '/admin.json') // SUFFIX
 */
function matchOf(prefix: string, path: string): number {
  const n = prefix.length;
  const m = path.length;
  const slash = prefix.charCodeAt(n - 1) === 47; /* / */
  // the prefix without its trailing slash: what a bare name or a suffixed name starts with
  const t = slash ? n - 1 : n;
  if (m < t) return NONE;
  for (let i = 0; i < t; i++) {
    const c = path.charCodeAt(i);
    if (c !== prefix.charCodeAt(i) && (c < 65 || c > 90 || c + 32 !== prefix.charCodeAt(i))) return NONE;
  }
  if (m === t) return slash ? BARE : PREFIX;
  return path.charCodeAt(t) === 47 /* / */ ? PREFIX : suffixAt(path, t);
}

/** `SUFFIX` when `path` goes on from `t` with `.` and the rest of its last segment (a trailing `/` allowed), else `NONE`. */
function suffixAt(path: string, t: number): number {
  if (path.charCodeAt(t) !== 46 /* . */) return NONE;
  const end = path.indexOf('/', t);
  return end === -1 || end === path.length - 1 ? SUFFIX : NONE;
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
    // a match through a prefix with a trailing slash (`/admin/` for `/admin` or `/admin.json`) yields to a
    // route whose prefix is the same name without it; a bare name also to one whose prefix is the path
    let weak: R | undefined;
    let weakUntil = 0;
    for (const r of this.routes) {
      const n = r.matchPrefix.length;
      if (weak !== undefined && n < weakUntil) return weak;
      if (r.host !== undefined) {
        if (host === undefined) continue;
        h ??= hostKey(host);
        if (h !== r.host) continue;
      }
      if (r.methods !== undefined && !r.methods.has(method)) continue;
      const kind = matchOf(r.matchPrefix, path);
      if (kind === PREFIX) return r;
      if (kind === NONE) continue;
      if (kind === SUFFIX && r.matchPrefix.charCodeAt(n - 1) !== 47 /* / */) return r;
      if (weak === undefined) {
        weak = r;
        weakUntil = n - 1;
      }
    }
    return weak;
  }

  get size(): number {
    return this.routes.length;
  }
}
