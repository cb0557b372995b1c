/** Admin routes for app signing keys (RFC 9421): add (HMAC secret shown once, or a public key), list, revoke. */
import type { JWK } from 'jose';
import type { Services } from '../../app.js';
import { viewAppKey, type AddAppKeyInput } from '../../tokens/app-keys.js';
import { createdPage, PageQuery } from './page.js';
import { defineRoute, type AdminRoute } from './route.js';
import { AppKeyCreated, AppKeyList, AppKeyResponse, CreateAppKeyRequest } from './signing-schemas.js';

const ACTOR = 'admin';

export function appKeyRoutes(s: Services): AdminRoute[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/apps/:clientId/keys',
      operationId: 'addAppKey',
      summary: 'Add a signing key to an app: {type:"hmac"} returns the secret in this response only; {jwk} or {pem} registers a public key.',
      tag: 'app-keys',
      auth: true,
      body: CreateAppKeyRequest,
      responses: { 201: { description: 'Added and active on every node. Store `secret` now: it is never shown again.', schema: AppKeyCreated } },
      errors: [400, 404, 409],
      async handler({ params, body }) {
        const input: AddAppKeyInput =
          'type' in body
            ? { type: 'hmac', ...(body.keyid ? { keyid: body.keyid } : {}) }
            : 'jwk' in body
              ? { type: 'public', jwk: body.jwk as JWK, ...(body.alg ? { alg: body.alg } : {}), ...(body.keyid ? { keyid: body.keyid } : {}) }
              : { type: 'public', pem: body.pem, ...(body.alg ? { alg: body.alg } : {}), ...(body.keyid ? { keyid: body.keyid } : {}) };
        const { key, secret } = await s.appSigningKeys.add(params.clientId!, input, ACTOR);
        await s.audit.flush();
        return { status: 201, body: { key: viewAppKey(key), secret } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/apps/:clientId/keys',
      operationId: 'listAppKeys',
      summary: 'List the signing keys of an app, active and revoked (never a secret), a page at a time.',
      tag: 'app-keys',
      auth: true,
      query: PageQuery,
      responses: { 200: { description: 'A page of keys, oldest first.', schema: AppKeyList } },
      errors: [400, 404],
      async handler({ params, query }) {
        const { rows, next_after } = await createdPage(query, (p) => s.appSigningKeys.list(params.clientId!, p), (k) => [k.createdAt, k.keyid]);
        return { body: { keys: rows.map(viewAppKey), next_after } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/apps/:clientId/keys/:keyid/revoke',
      operationId: 'revokeAppKey',
      summary: 'Revoke one signing key of an app at once on every node; its other keys keep working.',
      tag: 'app-keys',
      auth: true,
      responses: { 200: { description: 'The key after the change.', schema: AppKeyResponse } },
      errors: [404],
      async handler({ params }) {
        const key = await s.appSigningKeys.revoke(params.clientId!, params.keyid!, ACTOR);
        await s.audit.flush();
        return { body: { key: viewAppKey(key) } };
      },
    }),
  ];
}
