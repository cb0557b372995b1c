/**
 * The proxy step: forwards a request that passed every policy to its upstream over a
 * keep-alive undici `Pool` (one per origin, upstream-pool.ts) with `dispatch()`, so body chunks go
 * straight from one socket to the other with backpressure and no intermediate streams
 * (PERFORMANCE.md: `request()` + `pipeline` halves throughput).
 *
 * The request body is limited twice: Content-Length up front and a running count of
 * what is sent (a chunked body can lie about nothing). Upstream failures map to
 * 502 `upstream.unavailable`, response timeouts to 504 `upstream.timeout`. The route
 * timeout runs from dispatch to the response head, so it covers waiting for a pooled
 * connection and the request body too: a client that trickles its body is answered 408
 * `request.timeout` and its upstream connection is freed, and a request queued behind a
 * full pool gets its 504 on time.
 *
 * Only routes whose steps need them pay for buffering: a body a step read is sent as
 * one buffer, and a response hook (signing, encryption) gets the whole response,
 * bounded by MAX_BUFFERED_RESPONSE, before anything is written to the client.
 *
 * An upstream transfer coding other than `chunked` alone is 502
 * `upstream.transfer-coding-unsupported` at the head (headers.ts), before anything is relayed.
 *
 * A 304 may state the Content-Length its 200 would have had (RFC 9110 §8.6, §15.4.5) and
 * never has content; undici 7 exempts only HEAD from its response length check and fails
 * the exchange with `UND_ERR_RES_CONTENT_LENGTH_MISMATCH` after the head. For a 304 or 204
 * that error means the response is complete: it is relayed as such (a 204's Content-Length,
 * which §8.6 forbids, is left out). undici has dropped that upstream connection, so anything
 * the upstream sent after the head is never read as the next response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import { PortcullisError, toPortcullisError } from '../core/errors.js';
import { filterResponseHeaders } from './headers.js';
import type { UpstreamPool } from './upstream-pool.js';

export interface ProxyRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Path and query to send upstream. */
  path: string;
  method: string;
  headers: string[];
  /** Whether the request has a body (Content-Length or Transfer-Encoding present). */
  hasBody: boolean;
  maxBodySize: number;
  timeoutMs: number;
  /** The request body as a step read (or replaced) it; sent instead of streaming `req`. */
  body?: Buffer | undefined;
  /** When set, the upstream response is buffered and passed through it before it is written. */
  respond?: ResponseHook | undefined;
}

/** A whole upstream response; `headers` flat `[name, value, …]` without hop-by-hop fields. */
export interface UpstreamResponse {
  status: number;
  /** The upstream reason phrase, for hooks to read; never relayed (see writeHead). */
  statusText: string;
  headers: string[];
  body: Buffer;
}

/** Transforms a buffered upstream response (sign it, encrypt it); a throw becomes the error answered. */
export type ResponseHook = (r: UpstreamResponse) => UpstreamResponse | Promise<UpstreamResponse>;

/** Largest upstream response a response hook buffers (502 beyond). */
export const MAX_BUFFERED_RESPONSE = 16 * 1024 * 1024;

/**
 * How a forwarded request ended: `err` undefined when the upstream response was relayed;
 * `clientClosed` when the client left first (nothing to answer, nobody to blame upstream).
 */
export type ProxyDone = (err: PortcullisError | undefined, clientClosed?: boolean) => void;

const UPSTREAM_TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** undici's error for a response whose content does not match its Content-Length. */
const LENGTH_MISMATCH = 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH';

function ignore(): void {}

const EMPTY = Buffer.alloc(0);

/** The abort reason when the client left; one instance, compared by identity. */
const CLIENT_CLOSED = new Error('client closed the connection');

/** undici's dispatch handler for one request (its raw-header callbacks, the fast path). */
class Forward implements Dispatcher.DispatchHandler {
  private abortFn: ((err?: Error) => void) | undefined;
  private sent = 0;
  private tooLarge: PortcullisError | undefined;
  private resumeFn: (() => void) | undefined;
  private finished = false;
  /** The response being buffered for `p.respond`. */
  private held: UpstreamResponse | undefined;
  private heldChunks: Buffer[] | undefined;
  private heldSize = 0;
  /** The route timeout, from dispatch until the response head: queueing, the request body, the upstream's answer. */
  private timer: NodeJS.Timeout | undefined;
  /** What the timer answered, when it fired. */
  private expired: PortcullisError | undefined;
  private settled = false;
  /** The response is a 204 or 304: it ends at its head, whatever its Content-Length says. */
  private noContent = false;

  constructor(
    private readonly p: ProxyRequest,
    private readonly onDone: ProxyDone,
  ) {
    this.timer = setTimeout(expire, p.timeoutMs, this);
  }

  /** Calls `onDone` once; what comes after (an abort reaching onError) is not answered again. */
  private done(err: PortcullisError | undefined, clientClosed?: boolean): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (err !== undefined) this.closeIfBodyPending();
    this.onDone(err, clientClosed);
  }

  /** The route timeout passed before the response head arrived. */
  expire(): void {
    this.timer = undefined;
    if (this.settled) return;
    const p = this.p;
    if (p.res.destroyed) {
      this.abortFn?.(CLIENT_CLOSED);
      this.done(undefined, true);
      return;
    }
    // a client still sending its body is the slow party, not the upstream
    this.expired =
      p.body === undefined && p.hasBody && !p.req.complete
        ? new PortcullisError('request.timeout', 'the request body did not arrive within the route timeout')
        : new PortcullisError('upstream.timeout', 'the upstream did not answer in time');
    // queued requests have no abort yet: answered now, aborted in onConnect when a connection frees up
    if (this.abortFn !== undefined) this.abortFn(this.expired);
    else this.done(this.expired);
  }

  /**
   * A streamed body that has not all arrived when the answer starts (an upstream that
   * answered early or failed mid-body): undici read part of it and stops, so Node neither
   * discards the rest nor closes, and the connection would stall under a keep-alive answer.
   * The answer says `Connection: close` and the connection ends with it (Node's `_last`).
   */
  private closeIfBodyPending(): void {
    const p = this.p;
    if (p.body === undefined && p.hasBody && !p.req.complete && !p.res.headersSent) p.res.shouldKeepAlive = false;
  }

  /** Stops the upstream request when the client has gone away. */
  private clientGone(): boolean {
    if (!this.p.res.destroyed) return false;
    this.abortFn?.(CLIENT_CLOSED);
    return true;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.expired !== undefined) abort(this.expired);
    else if (this.p.res.destroyed) abort(CLIENT_CLOSED);
  }

  // undici's types say (chunkSize, totalBytesSent); its h1 client passes the chunk itself
  onBodySent(chunk: number | Buffer | string): void {
    this.sent += typeof chunk === 'number' ? chunk : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.sent > this.p.maxBodySize) {
      // undici aborts the upstream request with what this throws
      throw (this.tooLarge = new PortcullisError('request.body-too-large', `request body exceeds ${this.p.maxBodySize} bytes`));
    }
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx informational responses are not relayed (the client's Expect was answered by this server)
    if (statusCode < 200) return true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.resumeFn = resume;
    if (this.clientGone()) return false;
    const res = this.p.res;
    this.closeIfBodyPending();
    this.noContent = statusCode === 204 || statusCode === 304;
    let headers = filterResponseHeaders(rawHeaders);
    if (statusCode === 204) headers = withoutContentLength(headers);
    if (this.p.respond !== undefined) {
      this.held = { status: statusCode, statusText, headers, body: EMPTY };
      this.heldChunks = [];
      return true;
    }
    // undici aborts the request with what this throws, and onError answers it
    writeHead(res, statusCode, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.heldChunks !== undefined) {
      this.heldSize += chunk.length;
      // undici aborts the request with what this throws
      if (this.heldSize > MAX_BUFFERED_RESPONSE) throw new PortcullisError('upstream.unavailable', `the upstream response exceeds ${MAX_BUFFERED_RESPONSE} bytes and cannot be signed or encrypted`);
      this.heldChunks.push(chunk);
      return true;
    }
    const res = this.p.res;
    if (res.write(chunk)) return true;
    if (this.clientGone()) return false;
    // backpressure: resume on drain, or stop the upstream if the client leaves meanwhile
    const onDrain = (): void => {
      res.off('close', onClose);
      this.resumeFn?.();
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      if (!this.finished) this.clientGone();
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
    return false;
  }

  onComplete(): void {
    this.finished = true;
    if (this.held !== undefined) return this.release(this.held, this.heldChunks!);
    this.p.res.end();
    this.done(undefined);
  }

  /** Runs the response hook over the buffered response, then writes what it returns. */
  private release(held: UpstreamResponse, chunks: Buffer[]): void {
    held.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.heldSize);
    let out: UpstreamResponse | Promise<UpstreamResponse>;
    try {
      out = this.p.respond!(held);
    } catch (e) {
      this.done(toPortcullisError(e));
      return;
    }
    if (out instanceof Promise) {
      out
        .then(
          (r) => this.write(r),
          (e: unknown) => this.done(toPortcullisError(e)),
        )
        // a throw while answering must not become an unhandled rejection (it would end the process)
        .catch(() => this.p.res.destroy());
    } else this.write(out);
  }

  /** Writes the hook's response; never throws (it runs inside a Promise reaction). */
  private write(r: UpstreamResponse): void {
    const res = this.p.res;
    if (res.destroyed) return this.done(undefined, true);
    try {
      writeHead(res, r.status, r.headers);
    } catch (e) {
      this.done(toPortcullisError(e));
      return;
    }
    res.end(r.body);
    this.done(undefined);
  }

  onError(err: Error): void {
    // a 204 or 304 with a Content-Length: undici's length check, not a broken response
    if (this.noContent && !this.finished && (err as { code?: string }).code === LENGTH_MISMATCH) return this.onComplete();
    this.finished = true;
    const res = this.p.res;
    if (err === CLIENT_CLOSED) {
      this.done(undefined, true);
      return;
    }
    if (res.headersSent || res.destroyed) {
      // a response already under way cannot become an error response
      res.destroy();
      this.done(this.tooLarge ?? mapUpstreamError(err));
      return;
    }
    this.done(this.tooLarge ?? mapUpstreamError(err));
  }
}

/**
 * Writes a relayed response head. The upstream's reason phrase is not relayed: RFC 9112
 * §4 says "a client SHOULD ignore the reason-phrase content", it may carry obs-text that
 * undici decodes to characters Node cannot write, and Node supplies the standard phrase.
 * A head Node refuses becomes 502 `upstream.unavailable`; the refused attempt leaves
 * nothing on the response that would make the error answer fail too.
 */
function writeHead(res: ServerResponse, status: number, headers: string[]): void {
  try {
    res.writeHead(status, headers);
  } catch (cause) {
    if (!res.headersSent) {
      res.statusMessage = '';
      for (const name of res.getHeaderNames()) res.removeHeader(name);
    }
    throw new PortcullisError('upstream.unavailable', 'the upstream response head cannot be relayed', { cause });
  }
}

/** Flat `[name, value, …]` headers without Content-Length. */
function withoutContentLength(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() !== 'content-length') out.push(headers[i]!, headers[i + 1]!);
  return out;
}

function expire(f: Forward): void {
  f.expire();
}

function mapUpstreamError(err: Error): PortcullisError {
  if (err instanceof PortcullisError) return err;
  const code = (err as { code?: string }).code;
  if (code !== undefined && UPSTREAM_TIMEOUT.has(code)) return new PortcullisError('upstream.timeout', 'the upstream did not answer in time', { cause: err });
  return new PortcullisError('upstream.unavailable', 'the upstream could not be reached', { cause: err });
}

/**
 * Forwards one request to an upstream the request holds; `done` is called once, with the
 * error to answer when no response was relayed (the caller writes it), or undefined on success.
 * @example forward(pools.get(origin), { req, res, path, method, headers, hasBody, maxBodySize, timeoutMs }, done)
 */
export function forward(upstream: UpstreamPool, p: ProxyRequest, done: ProxyDone): void {
  const handler = new Forward(p, done);
  let pool: Pool;
  try {
    pool = upstream.dispatcher();
  } catch (e) {
    handler.onError(e as Error);
    return;
  }
  let body: IncomingMessage | Buffer | null = null;
  if (p.body !== undefined) body = p.body;
  else if (p.hasBody) {
    body = p.req;
    // undici destroys the body with the abort reason; that 'error' must not go unhandled
    body.on('error', ignore);
  }
  pool.dispatch(
    {
      path: p.path,
      method: p.method as Dispatcher.HttpMethod,
      headers: p.headers,
      body,
      headersTimeout: p.timeoutMs,
      bodyTimeout: p.timeoutMs,
    },
    handler,
  );
}
