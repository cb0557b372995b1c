/** Admin routes for apps (OAuth clients): register, list, show, disable/enable, rotate the secret, revoke every token, set the JWKS and the served audiences. */
import type { JWK } from 'jose';
import type { Services } from '../../app.js';
import { PortcullisError } from '../../core/errors.js';
import { viewApp } from '../../tokens/apps.js';
import { createdPage, PageQuery } from './page.js';
import { defineRoute, type AdminRoute } from './route.js';
import { AppCredentials, AppList, AppResponse, CreateAppRequest, JwkSet, ServedAudiences } from './schemas.js';

const ACTOR = 'admin';

export function appRoutes(s: Services): AdminRoute[] {
  const durable = async <T>(result: T): Promise<T> => {
    await s.audit.flush();
    return result;
  };
  const appAction = (action: 'disable' | 'enable' | 'revoke-tokens', summary: string) =>
    defineRoute({
      method: 'POST',
      path: `/v1/apps/:clientId/${action}`,
      operationId: { disable: 'disableApp', enable: 'enableApp', 'revoke-tokens': 'revokeAppTokens' }[action],
      summary,
      tag: 'apps',
      auth: true,
      responses: { 200: { description: 'The app after the change.', schema: AppResponse } },
      errors: [404],
      async handler({ params }) {
        const id = params.clientId!;
        const app =
          action === 'disable' ? await s.apps.disable(id, ACTOR) : action === 'enable' ? await s.apps.enable(id, ACTOR) : await s.apps.revokeTokens(id, ACTOR);
        return durable({ body: { app: viewApp(app) } });
      },
    });

  return [
    defineRoute({
      method: 'POST',
      path: '/v1/apps',
      operationId: 'createApp',
      summary: 'Register an app; the client secret is in this response only.',
      tag: 'apps',
      auth: true,
      body: CreateAppRequest,
      responses: { 201: { description: 'Registered. Store client_secret now: it is never shown again.', schema: AppCredentials } },
      errors: [400],
      async handler({ body }) {
        const { app, clientSecret } = await s.apps.create(
          {
            name: body.name,
            audiences: body.audiences,
            scopes: body.scopes,
            ...(body.token_endpoint_auth_method ? { tokenEndpointAuthMethod: body.token_endpoint_auth_method } : {}),
            ...(body.jwks ? { jwks: body.jwks.keys as JWK[] } : {}),
            ...(body.type ? { type: body.type } : {}),
            ...(body.redirect_uris ? { redirectUris: body.redirect_uris } : {}),
            ...(body.post_logout_redirect_uris ? { postLogoutRedirectUris: body.post_logout_redirect_uris } : {}),
            ...(body.grant_types ? { grantTypes: body.grant_types } : {}),
            ...(body.mfa_required !== undefined ? { mfaRequired: body.mfa_required } : {}),
            ...(body.served_audiences ? { servedAudiences: body.served_audiences } : {}),
          },
          ACTOR,
        );
        return durable({ status: 201, body: { app: viewApp(app), client_id: app.clientId, client_secret: clientSecret } });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/apps',
      operationId: 'listApps',
      summary: 'List apps, a page at a time (never their secrets).',
      tag: 'apps',
      auth: true,
      query: PageQuery,
      responses: { 200: { description: 'A page of apps, oldest first.', schema: AppList } },
      errors: [400],
      async handler({ query }) {
        const { rows, next_after } = await createdPage(query, (p) => s.store.listApps(p), (a) => [a.createdAt, a.clientId]);
        return { body: { apps: rows.map(viewApp), next_after } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/apps/:clientId',
      operationId: 'getApp',
      summary: 'Show one app (never its secret).',
      tag: 'apps',
      auth: true,
      responses: { 200: { description: 'The app.', schema: AppResponse } },
      errors: [404],
      async handler({ params }) {
        const app = await s.store.getApp(params.clientId!);
        if (!app) throw new PortcullisError('not-found', `no app with client_id ${params.clientId}`);
        return { body: { app: viewApp(app) } };
      },
    }),
    appAction('disable', 'Disable an app: its tokens stop working at once and no new token is issued.'),
    appAction('enable', 'Enable a disabled app (tokens revoked while disabled stay revoked).'),
    appAction('revoke-tokens', 'Revoke every token the app holds now; tokens issued afterwards work.'),
    defineRoute({
      method: 'POST',
      path: '/v1/apps/:clientId/rotate-secret',
      operationId: 'rotateAppSecret',
      summary: 'Issue a new client secret (in this response only); the old one stops working at once.',
      tag: 'apps',
      auth: true,
      responses: { 200: { description: 'The new secret. Store it now: it is never shown again.', schema: AppCredentials } },
      errors: [404, 409],
      async handler({ params }) {
        const { app, clientSecret } = await s.apps.rotateSecret(params.clientId!, ACTOR);
        return durable({ body: { app: viewApp(app), client_id: app.clientId, client_secret: clientSecret } });
      },
    }),
    defineRoute({
      method: 'PUT',
      path: '/v1/apps/:clientId/jwks',
      operationId: 'setAppJwks',
      summary: 'Replace the public keys of an app. A self_signed_tls_client_auth app keeps its method (the keys are its client certificates, with x5c when it signs users in); an app with a client secret then authenticates with private_key_jwt only. Refused (400) for a tls_client_auth app and a public app: their method is fixed at registration.',
      tag: 'apps',
      auth: true,
      body: JwkSet,
      responses: { 200: { description: 'The app after the change.', schema: AppResponse } },
      errors: [400, 404],
      async handler({ params, body }) {
        const app = await s.apps.setJwks(params.clientId!, body.keys as JWK[], ACTOR);
        return durable({ body: { app: viewApp(app) } });
      },
    }),
    defineRoute({
      method: 'PUT',
      path: '/v1/apps/:clientId/served-audiences',
      operationId: 'setAppServedAudiences',
      summary: 'Replace the audiences the app serves as a resource server: it may introspect tokens issued for them (empty: only its own tokens).',
      tag: 'apps',
      auth: true,
      body: ServedAudiences,
      responses: { 200: { description: 'The app after the change.', schema: AppResponse } },
      errors: [400, 404],
      async handler({ params, body }) {
        const app = await s.apps.setServedAudiences(params.clientId!, body.served_audiences, ACTOR);
        return durable({ body: { app: viewApp(app) } });
      },
    }),
  ];
}
