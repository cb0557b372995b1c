/**
 * One admin route = one table entry: method, path, auth, zod schemas for the body,
 * query and responses, and the handler. The admin plane registers the table with
 * fastify and `openapi.ts` describes the same table, so the document cannot drift
 * from what the server serves.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PortcullisError } from '../../core/errors.js';
import { textControlCharacter } from '../../core/control-chars.js';
import { issuePath } from '../../core/config/load.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteResponse {
  description: string;
  /** JSON body schema (a registered response schema); absent for non-JSON bodies. */
  schema?: z.ZodType;
  /** Media type when the body is not JSON (e.g. the Prometheus text format). */
  contentType?: string;
}

export interface HandlerInput<B, Q> {
  body: B;
  query: Q;
  params: Record<string, string>;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** What a handler answers: a status and a JSON body (or a raw string with `contentType`). */
export interface HandlerResult {
  status?: number;
  body: unknown;
  contentType?: string;
}

export interface AdminRoute<B = unknown, Q = unknown> {
  method: HttpMethod;
  /** fastify path syntax: `/v1/apps/:clientId`. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** Requires the admin bearer token (every route under /v1/). */
  auth: boolean;
  body?: z.ZodType<B>;
  /** Largest request body in bytes when the plane's own limit is too small for `body` (413 `request.body-too-large` beyond). */
  bodyLimit?: number;
  query?: z.ZodType<Q>;
  /** Success responses by status. */
  responses: Record<number, RouteResponse>;
  /** Error statuses this route may answer (problem+json), besides 401 for auth routes. */
  errors: number[];
  handler(input: HandlerInput<B, Q>): Promise<HandlerResult>;
  /**
   * Called with a request that passed the admin token but was refused before `handler` ran:
   * its path parameters, query or body by their checks, or its body by the JSON parser or the
   * body limit (the route audits such a call as the call it was).
   */
  onRefused?(request: FastifyRequest, err: unknown): void;
}

/** Keeps the handler's body/query types tied to the schemas. */
export function defineRoute<B = undefined, Q = undefined>(route: AdminRoute<B, Q>): AdminRoute {
  return route as unknown as AdminRoute;
}

/** Unpaired UTF-16 surrogates (not text, and not storable as UTF-8). */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** C0 controls other than TAB, LF and CR, DEL and C1 controls (textControlCharacter); unpaired surrogates. */
function notText(s: string): string | undefined {
  return textControlCharacter(s) ?? (UNPAIRED_SURROGATE.test(s) ? 'unpaired UTF-16 surrogate is not allowed' : undefined);
}

/** Deepest nesting of arrays and objects a request body may have; no schema comes near it. */
export const MAX_JSON_DEPTH = 64;

/**
 * Every string (object keys included) of a parsed JSON value or query that is not text, with
 * its path; and a value nested deeper than MAX_JSON_DEPTH (the walk, and zod's after it, would
 * otherwise exhaust the stack on a client's `[[[[…]]]]`: a 500 for a client's mistake).
 */
export function controlCharacterIssues(value: unknown, path: Array<string | number> = [], out: Array<{ path: string; message: string }> = []): Array<{ path: string; message: string }> {
  if (typeof value === 'string') {
    const message = notText(value);
    if (message !== undefined) out.push({ path: path.length ? issuePath(path) : '(root)', message });
  } else if (value !== null && typeof value === 'object' && path.length >= MAX_JSON_DEPTH) {
    out.push({ path: issuePath(path), message: `nested deeper than ${MAX_JSON_DEPTH} levels` });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => controlCharacterIssues(v, [...path, i], out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const message = notText(k);
      if (message !== undefined) out.push({ path: issuePath([...path, k]), message: `key: ${message}` });
      controlCharacterIssues(v, [...path, k], out);
    }
  }
  return out;
}

/**
 * Parses with zod; a failure is `request.invalid` naming every field path. Text with
 * NUL, other C0 controls (TAB, LF, CR aside), DEL, C1 controls or unpaired surrogates is refused first,
 * the same on every store (PostgreSQL cannot store NUL; SQLite would).
 */
export function validate<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const bad = controlCharacterIssues(value);
  if (bad.length > 0) {
    const errors = bad.map((e) => ({ path: e.path === '(root)' ? where : e.path, message: e.message }));
    throw new PortcullisError('request.invalid', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { details: { errors } });
  }
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const errors = fieldErrors(r.error.issues, [], where);
  throw new PortcullisError('request.invalid', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { details: { errors } });
}

/**
 * zod issues as `{ path, message }` per field. A value that matches none of the shapes a
 * union takes is explained by the shape it came closest to (the fewest errors; the first on
 * a tie), so `batch_input[1].plaintext` or `zzz: unknown key` is named rather than zod's
 * bare "Invalid input"; when every shape refuses the value itself, each one's expectation is listed.
 */
function fieldErrors(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[], where: string): Array<{ path: string; message: string }> {
  return issues.flatMap((i) => {
    const path = [...prefix, ...i.path];
    const at = path.length ? issuePath(path) : where;
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ path: issuePath([...path, k]), message: 'unknown key' }));
    if (i.code !== 'invalid_union' || i.errors.length === 0) return [{ path: at, message: i.message }];
    const options = i.errors.map((e) => fieldErrors(e, path, where));
    if (options.every((o) => o.length === 1 && o[0]!.path === at)) {
      const expected = [...new Set(options.map((o) => o[0]!.message.replace(/^Invalid input: /, '')))];
      return [{ path: at, message: `Invalid input: ${expected.join(' or ')}` }];
    }
    return options.reduce((best, o) => (o.length < best.length ? o : best));
  });
}

/** `{}` (which some clients send on every POST) and no body at all are the only bodies of a route without a body schema. */
const NO_BODY = z.strictObject({}).optional();

/**
 * Refuses a body on a route that takes none, as a strict body schema refuses an unknown
 * field: `request.invalid` naming each field, or `body` when it is not an object. A GET
 * (or HEAD) with content is refused too: fastify does not read it, and a client that sent
 * a filter there would otherwise get an unfiltered answer.
 */
export function refuseBody(request: FastifyRequest): void {
  if (request.method === 'GET' || request.method === 'HEAD') {
    const length = request.headers['content-length'];
    if (request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) {
      const message = `${request.method} requests take no body`;
      throw new PortcullisError('request.invalid', `body: ${message}`, { details: { errors: [{ path: 'body', message }] } });
    }
    return;
  }
  validate(NO_BODY, request.body === '' ? undefined : request.body, 'body');
}
