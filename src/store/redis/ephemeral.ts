/**
 * Redis ephemeral store (ioredis), shared by every node. Each key and channel is
 * under the prefix. Fail closed: no offline queue and a command timeout, so when
 * Redis cannot answer, every call rejects with `unavailable` (never a default).
 *
 * - consumeOnce: `SET key 1 PX ttl NX` — Redis runs it atomically; one caller gets OK.
 * - consumeOnceMadeAt: the same, in one Lua script with a check of the prefix's `epoch`
 *   key: when this keyspace began (set when a node connects, and by the script when it is
 *   missing: a Redis that restarted empty has lost it with the nonces it held).
 * - increment: INCRBY and, only when the key has no expiry yet (just created), PEXPIRE,
 *   in one Lua script so no other command runs in between.
 * - advance: GET, compare and SET PX in one Lua script (Redis runs a script alone, so
 *   no other node's command lands between the check and the write).
 * - takeInWindow: a sorted set of events scored by Redis's own clock (TIME, one clock
 *   for every node): drop the scores that left the window, count, add or refuse, and
 *   PEXPIRE the key, in one Lua script; releaseInWindow is ZREM.
 * - pub/sub on a second connection (a subscribed connection takes no other commands).
 *   Messages published while it is down are lost: its loss is reported, and once it is
 *   back every channel is subscribed again before that is reported
 *   (`onSubscriptionsLive`), so a listener that then re-reads the store misses nothing.
 *   A link gone silent (packets dropped, nothing reset) closes nothing, and a subscribed
 *   connection only listens: a PING every `heartbeatMs` (allowed in subscribe mode) that
 *   gets no answer within the command timeout counts as the connection lost: the loss is
 *   reported and the connection dropped, so it reconnects and resubscribes as above.
 * - A Redis error is kept as a cause only sanitized (redisCause): ioredis's errors carry
 *   the command's arguments, the AUTH password among them, and the URL parser's error
 *   (a password with an unencoded `/` or `#`) the whole URL as its `input`.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { PortcullisError } from '../../core/errors.js';
import type { EphemeralStore, WindowTake } from '../../core/ephemeral.js';
import { randomId } from '../../core/ids.js';
import { positions, step, ttlMillis, windowLimit } from '../ephemeral-args.js';

const INCREMENT_LUA = `
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`;

const ADVANCE_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  if not string.match(cur, '^%-?%d+$') then return redis.error_reply('ERR advance over a value that is not an integer') end
  if tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

const TAKE_IN_WINDOW_LUA = `
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'none' and kind ~= 'zset' then return redis.error_reply('ERR takeInWindow over a value that is not a window') end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, n + 1}`;

const CONSUME_MADE_AT_LUA = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[2], epoch)
end
if tonumber(ARGV[2]) < tonumber(epoch) then return -1 end
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then return 1 end
return 0`;

/** Under the prefix: when this keyspace began remembering consumed keys (epoch ms). */
const EPOCH_KEY = 'epoch';

type WithIncrement = Redis & {
  portcullisConsumeMadeAt(key: string, epochKey: string, ttlMs: number, madeAt: string, now: string): Promise<number>;
  portcullisIncrement(key: string, by: number, ttlMs: number): Promise<number>;
  portcullisAdvance(key: string, next: string, to: string, ttlMs: number): Promise<number>;
  portcullisTakeInWindow(key: string, windowMs: number, limit: number, id: string): Promise<[number, number]>;
};

/**
 * An ioredis error as a cause may keep it: a plain Error with its message and code only.
 * ioredis puts the command it failed on into the error (`command: { name: 'auth', args:
 * [user, password] }`, a transaction's `previousErrors`), which anyone who logs or
 * inspects the wrapping error would print. `secret` (the URL's password) is removed
 * from the message should Redis ever repeat it.
 */
export function redisCause(e: unknown, secret = ''): Error {
  const message = e instanceof Error ? e.message : String(e);
  const out = new Error(secret === '' ? message : message.replaceAll(secret, '[redacted]'));
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') Object.assign(out, { code });
  return out;
}

function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

/** How often the subscription connection is checked when the store is given no `heartbeatMs`. */
export const DEFAULT_HEARTBEAT_MS = 5000;

/** ioredis's own bound on every command, the heartbeat's PING included. */
export const COMMAND_TIMEOUT_MS = 3000;

export interface RedisStoreOptions {
  prefix: string;
  /** Milliseconds between PINGs on the subscription connection (DEFAULT_HEARTBEAT_MS). */
  heartbeatMs?: number;
}

const OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 3000,
  commandTimeout: COMMAND_TIMEOUT_MS,
  retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  // resubscribed here, so the subscriptions are known to be live before anyone is told
  autoResubscribe: false,
};

interface Channel {
  handlers: Set<(m: string) => void>;
  ready: Promise<unknown>;
}

export class RedisEphemeralStore implements EphemeralStore {
  private readonly channels = new Map<string, Channel>();
  private readonly liveListeners: Array<(live: boolean) => void> = [];
  /** False from a lost subscription connection until every channel is subscribed again. */
  private live = true;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private beating = false;

  constructor(
    private readonly cmd: WithIncrement,
    private readonly sub: Redis,
    private readonly prefix: string,
    opts: { heartbeatMs?: number } = {},
  ) {
    sub.on('message', (channel: string, message: string) => {
      if (!channel.startsWith(prefix)) return;
      for (const fn of this.channels.get(channel.slice(prefix.length))?.handlers ?? []) {
        try {
          fn(message);
        } catch {
          // A subscriber's failure is its own; it must not break delivery to the others.
        }
      }
    });
    sub.on('close', () => this.setLive(false));
    sub.on('ready', () => void this.resubscribe());
    this.heartbeat = setInterval(() => void this.beat(), opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * PING on the subscription connection; unanswered, the connection is reported lost and
   * its socket destroyed (ioredis then reconnects: 'close', 'ready', resubscribe). Not
   * `disconnect()`, which only half-closes: through a silent link the close would never come.
   */
  private async beat(): Promise<void> {
    if (this.closed || this.beating || this.sub.status !== 'ready') return;
    this.beating = true;
    try {
      await this.sub.ping();
    } catch {
      // a connection that closed meanwhile is being reconnected already ('close' reported it)
      if (this.closed || this.sub.status !== 'ready') return;
      this.setLive(false);
      this.sub.stream.destroy();
    } finally {
      this.beating = false;
    }
  }

  private setLive(live: boolean): void {
    if (this.closed || live === this.live) return;
    this.live = live;
    for (const fn of this.liveListeners) {
      try {
        fn(live);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** After a reconnect: subscribes every channel again, then reports the subscriptions live. */
  private async resubscribe(): Promise<void> {
    if (this.live || this.closed) return;
    const names = [...this.channels.keys()].map((c) => this.prefix + c);
    try {
      if (names.length > 0) await this.sub.subscribe(...names);
    } catch {
      // lost again: the next 'ready' tries again
      return;
    }
    this.setLive(true);
  }

  onSubscriptionsLive(fn: (live: boolean) => void): void {
    this.liveListeners.push(fn);
  }

  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new PortcullisError('unavailable', 'ephemeral store is closed');
    try {
      return await fn();
    } catch (e) {
      if (e instanceof PortcullisError) throw e;
      throw new PortcullisError('unavailable', `ephemeral store (Redis) ${op} failed`, { cause: redisCause(e) });
    }
  }

  consumeOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.call('consumeOnce', async () => (await this.cmd.set(this.prefix + key, '1', 'PX', ttlMillis(ttlMs), 'NX')) === 'OK');
  }

  consumeOnceMadeAt(key: string, ttlMs: number, madeAt: number): Promise<'first' | 'used' | 'unknown'> {
    return this.call('consumeOnce', async () => {
      // NaN and ±Infinity compare false in Lua as here: a madeAt that cannot be placed in time is unknown
      if (!Number.isFinite(madeAt)) return 'unknown';
      const r = await this.cmd.portcullisConsumeMadeAt(this.prefix + key, this.prefix + EPOCH_KEY, ttlMillis(ttlMs), String(Math.floor(madeAt)), String(Date.now()));
      return r === 1 ? 'first' : r === 0 ? 'used' : 'unknown';
    });
  }

  advance(key: string, next: number, ttlMs: number, to = next): Promise<boolean> {
    return this.call('advance', async () => {
      const ttl = ttlMillis(ttlMs);
      const [above, target] = positions(next, to);
      try {
        return (await this.cmd.portcullisAdvance(this.prefix + key, String(above), String(target), ttl)) === 1;
      } catch (e) {
        if (e instanceof Error && e.message.includes('advance over a value that is not an integer')) {
          throw new PortcullisError('internal', 'ephemeral store: advance over a value that is not an integer', { cause: redisCause(e) });
        }
        throw e;
      }
    });
  }

  increment(key: string, ttlMs: number, by = 1): Promise<number> {
    return this.call('increment', async () => Number(await this.cmd.portcullisIncrement(this.prefix + key, step(by), ttlMillis(ttlMs))));
  }

  takeInWindow(key: string, windowMs: number, limit: number): Promise<WindowTake> {
    return this.call('takeInWindow', async () => {
      const window = ttlMillis(windowMs);
      const max = windowLimit(limit);
      const id = randomId(9);
      let r: [number, number];
      try {
        r = await this.cmd.portcullisTakeInWindow(this.prefix + key, window, max, id);
      } catch (e) {
        if (e instanceof Error && e.message.includes('takeInWindow over a value that is not a window')) {
          throw new PortcullisError('internal', 'ephemeral store: takeInWindow over a value that is not a window', { cause: redisCause(e) });
        }
        throw e;
      }
      return r[0] === 1 ? { taken: true, id, count: Number(r[1]) } : { taken: false, retryAfterMs: Number(r[1]) };
    });
  }

  releaseInWindow(key: string, id: string): Promise<void> {
    return this.call('releaseInWindow', async () => {
      try {
        await this.cmd.zrem(this.prefix + key, id);
      } catch (e) {
        // a key of another type holds no event of ours
        if (!(e instanceof Error && e.message.startsWith('WRONGTYPE'))) throw e;
      }
    });
  }

  get(key: string): Promise<string | undefined> {
    return this.call('get', async () => (await this.cmd.get(this.prefix + key)) ?? undefined);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.call('set', async () => void (await this.cmd.set(this.prefix + key, value, 'PX', ttlMillis(ttlMs))));
  }

  delete(key: string): Promise<void> {
    return this.call('delete', async () => void (await this.cmd.del(this.prefix + key)));
  }

  publish(channel: string, message: string): Promise<void> {
    return this.call('publish', async () => void (await this.cmd.publish(this.prefix + channel, message)));
  }

  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    return this.call('subscribe', async () => {
      let ch = this.channels.get(channel);
      if (ch === undefined) {
        ch = { handlers: new Set(), ready: this.sub.subscribe(this.prefix + channel) };
        this.channels.set(channel, ch);
        ch.ready.catch(() => this.channels.get(channel) === ch && this.channels.delete(channel));
      }
      await ch.ready;
      const entry = ch;
      const fn = (m: string): void => onMessage(m);
      entry.handlers.add(fn);
      return async () => {
        entry.handlers.delete(fn);
        if (entry.handlers.size > 0 || this.channels.get(channel) !== entry) return;
        this.channels.delete(channel);
        if (!this.closed) await this.call('unsubscribe', () => this.sub.unsubscribe(this.prefix + channel));
      };
    });
  }

  ping(): Promise<void> {
    return this.call('ping', async () => void (await this.cmd.ping()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.channels.clear();
    await Promise.all([this.cmd.quit().catch(() => this.cmd.disconnect()), this.sub.quit().catch(() => this.sub.disconnect())]);
  }
}

/** Connects both connections; rejects with `unavailable` when Redis cannot be reached. */
export async function openRedisEphemeralStore(url: string, opts: RedisStoreOptions): Promise<RedisEphemeralStore> {
  let cmd: WithIncrement;
  let sub: Redis;
  try {
    cmd = new Redis(url, OPTIONS) as WithIncrement;
    sub = new Redis(url, OPTIONS);
  } catch (e) {
    // a URL the parser refuses (a password with an unencoded / or #): its TypeError keeps the whole URL, password included, as `input`
    throw new PortcullisError('unavailable', 'ephemeral store: the Redis URL cannot be parsed', { cause: redisCause(e) });
  }
  // Connection errors reach callers as rejected commands; without listeners ioredis prints them.
  // The first one is kept: connect() itself rejects with only "Connection is closed."
  let connectError: unknown;
  const keep = (e: unknown): void => void (connectError ??= e);
  cmd.on('error', keep);
  sub.on('error', keep);
  cmd.defineCommand('portcullisIncrement', { numberOfKeys: 1, lua: INCREMENT_LUA });
  cmd.defineCommand('portcullisAdvance', { numberOfKeys: 1, lua: ADVANCE_LUA });
  cmd.defineCommand('portcullisTakeInWindow', { numberOfKeys: 1, lua: TAKE_IN_WINDOW_LUA });
  cmd.defineCommand('portcullisConsumeMadeAt', { numberOfKeys: 2, lua: CONSUME_MADE_AT_LUA });
  try {
    await Promise.all([cmd.connect(), sub.connect()]);
    // a keyspace new to every node begins now; one that other nodes use keeps its epoch
    await cmd.set(opts.prefix + EPOCH_KEY, String(Date.now()), 'NX');
  } catch (e) {
    cmd.disconnect();
    sub.disconnect();
    throw new PortcullisError('unavailable', 'ephemeral store: Redis is not reachable', { cause: redisCause(connectError ?? e, passwordOf(url)) });
  }
  cmd.off('error', keep).on('error', () => undefined);
  sub.off('error', keep).on('error', () => undefined);
  return new RedisEphemeralStore(cmd, sub, opts.prefix, opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {});
}
