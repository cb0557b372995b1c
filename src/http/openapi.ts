/**
 * The OpenAPI 3.1 document of the admin API, generated from the same route table the
 * admin plane registers (so every served path is documented and nothing else is).
 * Schemas come from the zod schemas in `admin/schemas.ts` (JSON Schema 2020-12, the
 * dialect OpenAPI 3.1 uses); errors are RFC 9457 problem+json.
 */
import { z } from 'zod';
import { ERRORS } from '../core/errors.js';
import type { AdminRoute } from './admin/route.js';
import { requestSchemas, responseSchemas } from './admin/schemas.js';

export const SECURITY_SCHEME = 'adminToken';

const REF = (id: string) => `#/components/schemas/${id}`;

type JsonSchema = Record<string, unknown>;

function namedSchemas(named: Record<string, z.ZodType>, io: 'input' | 'output'): { schemas: Record<string, JsonSchema>; ids: Map<z.ZodType, string> } {
  const registry = z.registry<{ id: string }>();
  const ids = new Map<z.ZodType, string>();
  for (const [id, schema] of Object.entries(named)) {
    registry.add(schema, { id });
    ids.set(schema, id);
  }
  const out = z.toJSONSchema(registry, { target: 'draft-2020-12', io, uri: REF, unrepresentable: 'any' }) as { schemas: Record<string, JsonSchema> };
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, s] of Object.entries(out.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = s;
    schemas[id] = rest;
  }
  return { schemas, ids };
}

const UNAVAILABLE = 'The durable store cannot be reached (`store.unavailable`); nothing was changed by a failed read.';
const NOT_CONFIRMED = 'Or the change is stored but could not be confirmed: its audit event could not be written (`audit.unavailable`), or the gateway could not confirm it is in force (`change.not-in-force`; the gateway refuses every request until it is). Do not repeat the change.';
const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request: problem+json `request.invalid` names each field (a path parameter with a control character, a key that occurs twice in one JSON object, an integer query parameter that is not plain decimal digits, too); `request.malformed` for a body that is not JSON or a path that is not validly percent-encoded.',
  401: 'Missing or wrong admin token (`admin.unauthorized`).',
  404: 'No such resource (`not-found`).',
  409: 'Conflicting state (`conflict`).',
  413: 'Request body over the route\'s limit (`request.body-too-large`).',
  414: 'A path parameter is longer than the router accepts (`request.malformed`).',
  415: 'The request body is not `application/json`, or declares a charset other than UTF-8 (`request.unsupported-media-type`).',
  429: 'Too many requests without a valid admin token from this client address (`admin.throttled`): refused before the token is checked until `Retry-After` seconds have passed.',
  503: 'Not ready.',
};

/**
 * Statuses the plane answers before a route's handler runs: a path parameter that is not
 * text or not validly percent-encoded (400) or too long (414); on /v1/, a query parameter
 * the route does not take or a body on a GET (400); a body on a change that is not JSON or
 * not what the route takes (400), over the limit (413) or of another media type (415).
 */
function frameworkStatuses(r: AdminRoute): number[] {
  const out: number[] = [];
  if (r.path.includes(':')) out.push(400, 414);
  if (r.auth) out.push(400);
  if (r.auth && r.method !== 'GET') out.push(400, 413, 415);
  if (r.body) out.push(400, 413, 415);
  return out;
}

/**
 * Builds the document for a route table.
 *
 * @example
 * const doc = buildOpenApiDocument(routes);
 * doc.paths['/v1/apps/{clientId}'].get.operationId // 'getApp'
 */
export function buildOpenApiDocument(routes: readonly AdminRoute[], info: { title?: string; version?: string } = {}): Record<string, unknown> {
  const req = namedSchemas(requestSchemas, 'input');
  const res = namedSchemas(responseSchemas, 'output');
  const refTo = (ids: Map<z.ZodType, string>, schema: z.ZodType, where: string) => {
    const id = ids.get(schema);
    if (!id) throw new Error(`openapi: ${where} uses a schema that is not named in admin/schemas.ts`);
    return { $ref: REF(id) };
  };
  const problemContent = { 'application/problem+json': { schema: { $ref: REF('Problem') } } };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const where = `${r.method} ${r.path}`;
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters: unknown[] = [...r.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const q = z.toJSONSchema(r.query, { target: 'draft-2020-12', io: 'input' }) as { properties?: Record<string, JsonSchema>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        const { description, ...rest } = schema;
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, ...(description ? { description } : {}), schema: rest });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      const content = spec.schema
        ? { 'application/json': { schema: refTo(res.ids, spec.schema, where) } }
        : spec.contentType
          ? { [spec.contentType]: { schema: { type: 'string' } } }
          : undefined;
      responses[status] = { description: spec.description, ...(content ? { content } : {}) };
    }
    // every /v1/ route reads the store; a change also waits for its audit event and for the gateway to have it in force
    for (const status of [...new Set([...r.errors, ...frameworkStatuses(r), ...(r.auth ? [401, 429, 503] : [])])].sort((a, b) => a - b)) {
      responses[String(status)] = {
        description: status === 503 && r.auth ? (r.method === 'GET' ? UNAVAILABLE : `${UNAVAILABLE} ${NOT_CONFIRMED}`) : (STATUS_TEXT[status] ?? 'Error.'),
        ...(status === 401 ? { headers: { 'WWW-Authenticate': { description: 'Bearer realm="portcullis-admin"', schema: { type: 'string' } } } } : {}),
        ...(status === 429 ? { headers: { 'Retry-After': { description: 'Seconds until this address is heard again.', schema: { type: 'integer' } } } } : {}),
        content: problemContent,
      };
    }
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      security: r.auth ? [{ [SECURITY_SCHEME]: [] }] : [],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: refTo(req.ids, r.body, where) } } } } : {}),
      responses,
    };
    const item = (paths[path] ??= {});
    const method = r.method.toLowerCase();
    if (item[method]) throw new Error(`openapi: ${where} is defined twice`);
    item[method] = op;
  }

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: info.title ?? 'Portcullis admin API',
      version: info.version ?? '1.0.0',
      description: `Manage apps, tokens, signing keys and the audit trail of a Portcullis node. Every route under /v1/ needs \`Authorization: Bearer <admin token>\` (the file named by adminTokenFile). Errors are RFC 9457 problem+json with a stable \`code\`; there are ${Object.keys(ERRORS).length} codes, listed in docs/errors.md.`,
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { [SECURITY_SCHEME]: { type: 'http', scheme: 'bearer', description: 'The admin token created by `portcullis init` (DIR/admin.token).' } },
      schemas: { ...req.schemas, ...res.schemas },
    },
  };
}
