/**
 * Request bodies for policy steps that need the whole body (RFC 9530 digests, JWE).
 *
 * `readBody` reads the request once into `ctx.body`, bounded by the route's
 * `maxBodySize` (413 `request.body-too-large` beyond, whatever Content-Length said);
 * the proxy then sends that buffer instead of streaming the request. `replaceBody`
 * swaps in a new body (a decrypted plaintext) with its content type. Routes without
 * such steps never call these and keep streaming.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from './context.js';
import { PortcullisError } from '../core/errors.js';

const EMPTY = Buffer.alloc(0);

/** Responses whose client sent `Expect: 100-continue` and has not been told to send the body yet. */
const awaitingContinue = new WeakSet<ServerResponse>();

/**
 * Marks a response whose client waits for `100 Continue` (the server's `checkContinue`);
 * `sendContinue` sends it once something needs the body.
 * @example server.on('checkContinue', (req, res) => { expectContinue(res); handle(req, res) })
 */
export function expectContinue(res: ServerResponse): void {
  awaitingContinue.add(res);
}

/**
 * Sends the `100 Continue` a client is waiting for, once: RFC 9110 §10.1.1 lets a server
 * answer with a final status instead when it refuses the request before reading the body.
 * @example sendContinue(ctx.res)
 */
export function sendContinue(res: ServerResponse): void {
  if (awaitingContinue.delete(res) && !res.headersSent) res.writeContinue();
}

/** Whether the request announces a body (Content-Length > 0, or a transfer coding). */
export function hasBody(ctx: RequestContext): boolean {
  const h = ctx.headers;
  if (h.transferEncoding) return true;
  return h.contentLength !== undefined && h.contentLength !== '0';
}

/**
 * Whether the request announces a body that has not all been received (Content-Length
 * or chunked, not yet at its end). Before the policy steps ran `ctx` may not exist yet
 * (no route): the fields are then read from the request itself.
 *
 * @example if (bodyArriving(req, ctx)) res.shouldKeepAlive = false
 */
export function bodyArriving(req: IncomingMessage, ctx: RequestContext | undefined): boolean {
  if (req.complete) return false;
  if (ctx !== undefined) return hasBody(ctx);
  const h = req.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

/** A body being read: its chunks so far and how the read ends. */
interface Reading {
  ctx: RequestContext;
  maxBytes: number;
  chunks: Buffer[];
  size: number;
  resolve(body: Buffer): void;
  reject(err: PortcullisError): void;
}

/** Reads in progress by request; the listeners below are shared by every request (nothing allocated per read but this record). */
const readings = new WeakMap<IncomingMessage, Reading>();

function finish(req: IncomingMessage): Reading | undefined {
  const r = readings.get(req);
  if (r === undefined) return undefined;
  readings.delete(req);
  req.off('data', onData);
  req.off('end', onEnd);
  req.off('error', onError);
  req.off('close', onClose);
  return r;
}

function onData(this: IncomingMessage, chunk: Buffer): void {
  const r = readings.get(this);
  if (r === undefined) return;
  r.size += chunk.length;
  if (r.size > r.maxBytes) {
    finish(this);
    // stop reading; the 413 is sent with `connection: close`
    this.pause();
    r.reject(new PortcullisError('request.body-too-large', `request body exceeds ${r.maxBytes} bytes`));
    return;
  }
  r.chunks.push(chunk);
}

function onEnd(this: IncomingMessage): void {
  const r = finish(this);
  if (r === undefined) return;
  const body = r.chunks.length === 1 ? r.chunks[0]! : Buffer.concat(r.chunks, r.size);
  r.ctx.body = body;
  r.resolve(body);
}

function onError(this: IncomingMessage, err: Error): void {
  finish(this)?.reject(new PortcullisError('request.malformed', 'the request body could not be read', { cause: err }));
}

function onClose(this: IncomingMessage): void {
  if (this.complete) return;
  finish(this)?.reject(new PortcullisError('request.malformed', 'the client closed the connection before the body arrived'));
}

/**
 * The whole request body, read once (later calls get the same buffer, or what
 * `replaceBody` put there).
 *
 * @example const body = ctx.body ?? (await readBody(ctx, route.maxBodySize))
 */
export function readBody(ctx: RequestContext, maxBytes: number): Promise<Buffer> {
  if (ctx.body !== undefined) return Promise.resolve(ctx.body);
  if (!hasBody(ctx)) {
    ctx.body = EMPTY;
    return Promise.resolve(EMPTY);
  }
  const req = ctx.req;
  const pending = readings.get(req);
  if (pending !== undefined) {
    // a second reader while the first is under way gets the same body
    return new Promise<Buffer>((resolve, reject) => {
      const { resolve: r0, reject: j0 } = pending;
      pending.resolve = (b) => (r0(b), resolve(b));
      pending.reject = (e) => (j0(e), reject(e));
    });
  }
  sendContinue(ctx.res);
  return new Promise<Buffer>((resolve, reject) => {
    readings.set(req, { ctx, maxBytes, chunks: [], size: 0, resolve, reject });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Request fields that describe the body as sent and no longer hold for a replaced one. */
const BODY_FIELDS = new Set(['content-length', 'content-type', 'content-digest', 'repr-digest', 'content-encoding']);

/**
 * Replaces the body sent upstream (e.g. a JWE by its plaintext), with its media type;
 * Content-Length is set by the proxy from the buffer.
 *
 * @example replaceBody(ctx, Buffer.from(plaintext), 'application/json')
 */
export function replaceBody(ctx: RequestContext, body: Buffer, contentType: string | undefined): void {
  const old = ctx.headers.forward;
  const next: string[] = [];
  for (let i = 0; i < old.length; i += 2) if (!BODY_FIELDS.has(old[i]!.toLowerCase())) next.push(old[i]!, old[i + 1]!);
  if (contentType !== undefined) next.push('content-type', contentType);
  ctx.headers.forward = next;
  ctx.body = body;
}

/** The first value of a request header as the client sent it (from the forward list or raw headers). */
export function requestHeader(ctx: RequestContext, lowerName: string): string | undefined {
  const raw = ctx.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === lowerName.length && raw[i]!.toLowerCase() === lowerName) return raw[i + 1];
  return undefined;
}
