/**
 * A small client for the admin REST API (the same API the console uses): JSON over
 * `fetch` with the admin bearer token. Problem+json answers become CliErrors with the
 * server's code; an unreachable node gets a message that says what to do. A redirect is
 * not followed (`request.invalid`): the admin API never sends one.
 */
import { CliError } from './output.js';

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
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async call<T = any>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    refuseDotSegments(path);
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
