/**
 * Reading a message body with a limit, for everything the SDK reads from a peer (signed
 * responses, webhooks, token, transit and JWKS answers): a declared Content-Length over
 * the limit is refused before a byte is read, a body without one (chunked) once the
 * limit is passed; the body is then cancelled, never buffered whole.
 */

/**
 * The body of `message` read up to `max` bytes; `tooLarge()` is thrown beyond. `keep`
 * reads a clone, so the message stays readable for the caller; otherwise the message's
 * own body is read, and cancelled when refused.
 */
export async function readBounded(message: Request | Response, max: number, tooLarge: () => Error, opts: { keep?: boolean } = {}): Promise<Uint8Array> {
  const length = Number(message.headers.get('content-length') ?? NaN);
  if (length > max) {
    if (!opts.keep) void message.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const stream = opts.keep ? message.clone().body : message.body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      // not awaited: a tee branch's cancel settles only once the other branch (the caller's message) is cancelled too
      void reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}

/**
 * The JSON of `res`'s body (as `res.json()` reads it), read up to `max` bytes: `tooLarge()`
 * beyond, the body cancelled. A body that is not JSON, or broke off, is `undefined`; an
 * abort of `signal` (the deadline) is rethrown.
 */
export async function readJson(res: Response, max: number, tooLarge: () => Error, signal: AbortSignal): Promise<unknown> {
  let bytes: Uint8Array;
  let refused: Error | undefined;
  try {
    bytes = await readBounded(res, max, () => (refused = tooLarge()));
  } catch (e) {
    if (e === refused || signal.aborted) throw e;
    return undefined;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

/** A byte limit given in options: a positive number (not 0, not NaN, not Infinity), or `fallback` when not given. */
export function byteLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number of bytes, not ${String(value)}`);
  return value;
}
