/** Admin routes for per-app encryption keys (JWE): add (symmetric key shown once, or a public key), list, revoke. */
import type { JWK } from 'jose';
import type { Services } from '../../app.js';
import { viewAppEncryptionKey, type AddAppEncryptionKeyInput } from '../../tokens/app-encryption-keys.js';
import type { AppEncryptionAlg } from '../../tokens/app-encryption-keys-store.js';
import { createdPage, PageQuery } from './page.js';
import { defineRoute, type AdminRoute } from './route.js';
import { AppEncryptionKeyCreated, AppEncryptionKeyList, AppEncryptionKeyResponse, CreateAppEncryptionKeyRequest } from './encryption-schemas.js';

const ACTOR = 'admin';

export function appEncryptionKeyRoutes(s: Services): AdminRoute[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/apps/:clientId/encryption-keys',
      operationId: 'addAppEncryptionKey',
      summary: 'Add an encryption key to an app: {type:"symmetric"} returns an AES-256 JWK in this response only; {jwk} registers the app public key for encrypted responses.',
      tag: 'app-encryption-keys',
      auth: true,
      body: CreateAppEncryptionKeyRequest,
      responses: { 201: { description: 'Added and active on every node. Store `secret` now: it is never shown again.', schema: AppEncryptionKeyCreated } },
      errors: [400, 404, 409],
      async handler({ params, body }) {
        const input: AddAppEncryptionKeyInput =
          'type' in body
            ? { type: 'symmetric', ...(body.alg ? { alg: body.alg } : {}), ...(body.kid ? { kid: body.kid } : {}) }
            : { type: 'public', jwk: body.jwk as JWK, ...(body.alg ? { alg: body.alg as AppEncryptionAlg } : {}), ...(body.kid ? { kid: body.kid } : {}) };
        const { key, secret } = await s.appEncryptionKeys.add(params.clientId!, input, ACTOR);
        await s.audit.flush();
        return { status: 201, body: { key: viewAppEncryptionKey(key), secret } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/apps/:clientId/encryption-keys',
      operationId: 'listAppEncryptionKeys',
      summary: 'List the encryption keys of an app, active and revoked (never a secret), a page at a time.',
      tag: 'app-encryption-keys',
      auth: true,
      query: PageQuery,
      responses: { 200: { description: 'A page of keys, oldest first.', schema: AppEncryptionKeyList } },
      errors: [400, 404],
      async handler({ params, query }) {
        const { rows, next_after } = await createdPage(query, (p) => s.appEncryptionKeys.list(params.clientId!, p), (k) => [k.createdAt, k.kid]);
        return { body: { keys: rows.map(viewAppEncryptionKey), next_after } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/apps/:clientId/encryption-keys/:kid/revoke',
      operationId: 'revokeAppEncryptionKey',
      summary: 'Revoke one encryption key of an app at once on every node; its other keys keep working.',
      tag: 'app-encryption-keys',
      auth: true,
      responses: { 200: { description: 'The key after the change.', schema: AppEncryptionKeyResponse } },
      errors: [404],
      async handler({ params }) {
        const key = await s.appEncryptionKeys.revoke(params.clientId!, params.kid!, ACTOR);
        await s.audit.flush();
        return { body: { key: viewAppEncryptionKey(key) } };
      },
    }),
  ];
}
