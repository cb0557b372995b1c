/**
 * The identity representation, for the response hooks that must see the bytes the
 * client reads: a signed response's Content-Digest (a client's fetch decodes the body
 * before handing it over, and a browser page cannot ask for another coding) and an
 * encrypted response's plaintext (compressing before encrypting would also leak length).
 *
 * The route's step asks the upstream for `identity`; an upstream that codes anyway is
 * decoded here (gzip, deflate, br, stacked in any order, RFC 9110 §8.4.1), within the
 * buffered-response limit; a response without content (HEAD, 204, 304) just loses its
 * coding fields. Anything else is 502 `upstream.content-coding`: the gateway
 * never signs or encrypts bytes the client will not see.
 */
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import { PortcullisError } from '../core/errors.js';
import { MAX_BUFFERED_RESPONSE, type UpstreamResponse } from './proxy.js';

type Decoder = (body: Buffer, opts: { maxOutputLength: number }) => Promise<Buffer>;

const DECODERS: Readonly<Record<string, Decoder>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

/** Request fields that ask for a coded representation. */
const CODING_FIELDS = new Set(['accept-encoding']);
/** ... or for a part of it. */
const CODING_AND_RANGE_FIELDS = new Set(['accept-encoding', 'range', 'if-range']);

/** Fields of a coded body that do not hold for its decoded bytes. */
const CODED_FIELDS = new Set(['content-encoding', 'content-length', 'content-md5', 'etag']);

/**
 * The forwarded request fields, asking the upstream for the identity representation
 * (`Accept-Encoding: identity`); with `wholeOnly`, for all of it (no Range, If-Range).
 *
 * @example ctx.headers.forward = askForIdentity(ctx.headers.forward, true);
 */
export function askForIdentity(forward: readonly string[], wholeOnly = false): string[] {
  const drop = wholeOnly ? CODING_AND_RANGE_FIELDS : CODING_FIELDS;
  const out: string[] = [];
  for (let i = 0; i < forward.length; i += 2) if (!drop.has(forward[i]!.toLowerCase())) out.push(forward[i]!, forward[i + 1]!);
  out.push('accept-encoding', 'identity');
  return out;
}

/**
 * The response without content coding: as it came when it has none, decoded (with its
 * Content-Length set and its coding-bound fields dropped) when the upstream coded it.
 *
 * @example const plain = await withoutContentCoding(upstreamResponse);
 */
export async function withoutContentCoding(r: UpstreamResponse): Promise<UpstreamResponse> {
  let codings: string[] | undefined;
  for (let i = 0; i < r.headers.length; i += 2) {
    if (r.headers[i]!.toLowerCase() !== 'content-encoding') continue;
    for (const c of r.headers[i + 1]!.split(',')) {
      const coding = c.trim().toLowerCase();
      if (coding !== '' && coding !== 'identity') (codings ??= []).push(coding);
    }
  }
  if (codings === undefined) return r;
  const headers: string[] = [];
  for (let i = 0; i < r.headers.length; i += 2) if (!CODED_FIELDS.has(r.headers[i]!.toLowerCase())) headers.push(r.headers[i]!, r.headers[i + 1]!);
  // no content (HEAD, 204, 304): nothing to decode, and the coded length says nothing of the decoded one
  if (r.body.length === 0) return { ...r, headers };
  let body = r.body;
  // listed in the order applied, so undone last first
  for (const coding of codings.reverse()) {
    const decode = DECODERS[coding];
    if (decode === undefined) throw new PortcullisError('upstream.content-coding', `the upstream answered with content coding ${JSON.stringify(coding)}, which the gateway cannot decode`);
    try {
      body = await decode(body, { maxOutputLength: MAX_BUFFERED_RESPONSE });
    } catch (cause) {
      throw new PortcullisError('upstream.content-coding', `the upstream's body is not valid ${coding}, or decodes beyond the buffered-response limit`, { cause });
    }
  }
  headers.push('content-length', String(body.length));
  return { ...r, headers, body };
}
