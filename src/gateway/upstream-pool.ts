/**
 * The gateway's upstreams: one keep-alive undici `Pool` per origin, created on first use.
 *
 * A route reload (`Gateway.setRoutes`) lets the requests that matched before it finish
 * on the old table, so they finish on its upstreams too: each request holds its route's
 * upstream from the route match until it ends (gateway.ts), and an upstream the reload
 * dropped is retired: its pool is closed once no request holds it, and never made again.
 */
import { Pool } from 'undici';
import { PortcullisError } from '../core/errors.js';

function ignore(): void {}

export interface UpstreamPoolsOptions {
  /** Keep-alive connections per upstream origin. */
  connections: number;
}

/**
 * One upstream origin: its keep-alive pool, created on first use, and the requests that
 * hold it (from route match to their end). A route reload that drops the origin retires
 * it: the requests that matched before the reload still finish on its pool, which is
 * closed when the last of them ends, and is never created again.
 */
export class UpstreamPool {
  private pool: Pool | undefined;
  private holders = 0;
  private retired = false;
  /** Closed for good: no pool is made again. */
  private ended = false;

  constructor(
    readonly origin: string,
    private readonly opts: UpstreamPoolsOptions,
  ) {}

  /** A request matched a route to this upstream: its pool stays open until the request calls `release`. */
  hold(): void {
    this.holders++;
  }

  release(): void {
    if (--this.holders === 0 && this.retired) this.shut();
  }

  /** The undici pool, for a request that holds this upstream. */
  dispatcher(): Pool {
    if (this.pool !== undefined) return this.pool;
    if (this.ended) throw new PortcullisError('upstream.unavailable', 'the upstream is no longer in use (route reload or shutdown)');
    return (this.pool = new Pool(this.origin, {
      connections: this.opts.connections,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      // no pipelining: a slow response must not hold others behind it
      pipelining: 1,
    }));
  }

  /** Whether its pool is closed (or was never made) for good. */
  get closed(): boolean {
    return this.ended;
  }

  /** No route uses this upstream any more: the pool closes once no request holds it. */
  retire(): void {
    this.retired = true;
    if (this.holders === 0) this.shut();
  }

  /** Closes the pool now, once the requests already sent on it are answered. */
  async close(): Promise<void> {
    this.retired = true;
    this.ended = true;
    const p = this.pool;
    this.pool = undefined;
    if (p !== undefined) await p.close().catch(() => p.destroy());
  }

  private shut(): void {
    this.ended = true;
    const p = this.pool;
    this.pool = undefined;
    // undici's close lets the requests already dispatched finish first
    p?.close().catch(ignore);
  }
}

/** The upstreams of the route table, by origin. */
export class UpstreamPools {
  private readonly byOrigin = new Map<string, UpstreamPool>();
  /** Retired upstreams some request may still hold. */
  private retiring: UpstreamPool[] = [];

  constructor(private readonly opts: UpstreamPoolsOptions) {}

  /** The upstream of an origin, shared by every route to it (compiled routes keep it). */
  get(origin: string): UpstreamPool {
    let u = this.byOrigin.get(origin);
    if (u === undefined) this.byOrigin.set(origin, (u = new UpstreamPool(origin, this.opts)));
    return u;
  }

  /** Retires the upstreams of origins no longer in use (after a route reload). */
  retain(origins: ReadonlySet<string>): void {
    this.retiring = this.retiring.filter((u) => !u.closed);
    for (const [origin, u] of this.byOrigin) {
      if (origins.has(origin)) continue;
      this.byOrigin.delete(origin);
      u.retire();
      if (!u.closed) this.retiring.push(u);
    }
  }

  async close(): Promise<void> {
    const all = [...this.byOrigin.values(), ...this.retiring];
    this.byOrigin.clear();
    this.retiring = [];
    await Promise.all(all.map((u) => u.close()));
  }
}
