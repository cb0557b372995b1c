/**
 * A small client for the admin REST API (the same API the console uses): JSON over
 * `fetch` with the admin bearer token. Problem+json answers become CliErrors with the
 * server's code; an unreachable node gets a message that says what to do. A redirect is
 * not followed (`request.invalid`): the admin API never sends one. Plain `http:` beyond
 * loopback is refused before connecting (`request.invalid`) unless `admin.allowInsecureHttp`.
 */
import { lookup } from 'node:dns/promises';
import { isLoopbackAddress } from '../core/loopback.js';
import { CliError } from './output.js';

export interface AdminClientOptions {
  /** Where the base URL came from, for messages: `--admin-url`, `PORTCULLIS_ADMIN_URL`, `listen.admin` (default `the admin URL`). */
  from?: string;
  /** Send the token over plain `http:` beyond loopback too (config `admin.allowInsecureHttp`; default false). */
  allowInsecureHttp?: boolean;
}

/**
 * The admin token gives full control of the deployment, so it goes over plain `http:` only
 * to loopback: an IP literal (core/loopback.ts: 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104; the
 * WHATWG parser has already read `0x7f.1` as 127.0.0.1) or `localhost` when every address
 * it resolves to is one (as `listen.admin: localhost:…` is checked when the plane starts).
 * Anything else is refused before a connection is made.
 */
async function refusePlainHttpBeyondLoopback(baseUrl: string, from: string): Promise<void> {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new CliError('request.invalid', `${from}: not a URL`);
  }
  if (u.protocol !== 'http:') return;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isLoopbackAddress(host)) return;
  if (host === 'localhost') {
    let addresses: { address: string }[];
    try {
      addresses = await lookup(host, { all: true });
    } catch (e) {
      throw new CliError('unavailable', `cannot resolve localhost (${(e as { code?: string }).code ?? 'lookup failed'}) for the admin API at ${u.origin}`);
    }
    if (addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address))) return;
  }
  throw new CliError(
    'request.invalid',
    `${from}: ${u.origin} is plain http to an address beyond loopback, where the admin token would cross the network in clear; nothing was sent. Use https (a TLS-terminating proxy), a loopback address (an SSH tunnel such as ssh -L 8081:127.0.0.1:8081), or set admin.allowInsecureHttp: true if the path to the admin plane is private`,
  );
}

/**
 * An identifier of `.` or `..` (`%2e` counts as a dot, as the WHATWG URL parser reads it)
 * is a dot segment: fetch would resolve it away and call another resource
 * (`/v1/apps/../keys` is `/v1/keys`), so the call is refused before anything is sent.
 */
function refuseDotSegments(path: string): void {
  for (const segment of path.split('?')[0]!.split('/')) {
    const dots = segment.replace(/%2e/gi, '.');
    if (dots === '.' || dots === '..') throw new CliError('request.invalid', `"${segment}" is not a valid identifier (a URL dot segment would address another resource)`);
  }
}

export class AdminClient {
  /** The transport check, made once (before the first call sends anything). */
  private transportChecked: Promise<void> | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly options: AdminClientOptions = {},
  ) {}

  async call<T = any>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    refuseDotSegments(path);
    if (this.options.allowInsecureHttp !== true) await (this.transportChecked ??= refusePlainHttpBeyondLoopback(this.baseUrl, this.options.from ?? 'the admin URL'));
    const url = this.baseUrl.replace(/\/$/, '') + path;
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      // the admin API never redirects: a redirect comes from something else at the URL, and
      // following it would send the token (same origin) or the body (any origin) there
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      const why = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new CliError('unavailable', `cannot reach the admin API at ${this.baseUrl} (${why}): is \`portcullis start\` running?`);
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      const location = res.headers.get('location');
      throw new CliError(
        'request.invalid',
        `the admin API URL answered ${res.status} with a redirect${location === null ? '' : ` to ${location.slice(0, 200)}`}: not followed (the admin API never redirects), so nothing was sent there; give the admin plane's own URL (--admin-url, PORTCULLIS_ADMIN_URL or listen.admin)`,
      );
    }
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      if (json && typeof json.code === 'string') {
        const fields = Array.isArray(json.errors) ? `\n${json.errors.map((e: { path: string; message: string }) => `  ${e.path}: ${e.message}`).join('\n')}` : '';
        throw new CliError(json.code, `${fields ? json.title : json.detail}${fields}`);
      }
      throw new CliError('internal', `the admin API answered ${res.status} for ${method} ${path}`);
    }
    if (json === undefined) throw new CliError('internal', `the admin API answered ${method} ${path} without a JSON body`);
    return json as T;
  }

  /** Every row of a paged admin list (`GET /v1/apps`, `/v1/webhooks`, `/v1/certificates`…), following `next_after` page by page. */
  async listAll<T>(path: string, field: string, pageSize = 1000): Promise<T[]> {
    const out: T[] = [];
    let after: string | null = null;
    do {
      const query: string = `${path.includes('?') ? '&' : '?'}limit=${pageSize}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`;
      const page: Record<string, unknown> = await this.call('GET', path + query);
      const rows = page[field];
      if (!Array.isArray(rows)) throw new CliError('internal', `the admin API answered GET ${path} without ${field}`);
      out.push(...(rows as T[]));
      after = typeof page.next_after === 'string' && rows.length > 0 ? page.next_after : null;
    } while (after !== null);
    return out;
  }
}
