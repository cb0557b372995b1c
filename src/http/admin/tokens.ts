/** Admin routes for single tokens: revoke one token of this issuer, introspect (RFC 7662 shape, admin view). */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Services } from '../../app.js';
import { PortcullisError } from '../../core/errors.js';
import { describe } from '../../tokens/service.js';
import { verifyOwnToken } from '../../tokens/verify-own-token.js';
import { defineRoute, type AdminRoute } from './route.js';
import { Introspection, TokenRequest, TokenRevocation } from './schemas.js';

function assertJwt(token: string): void {
  try {
    decodeProtectedHeader(token);
    decodeJwt(token);
  } catch {
    throw new PortcullisError('request.invalid', 'token: not a JWT', { details: { errors: [{ path: 'token', message: 'not a JWT' }] } });
  }
}

export function tokenRoutes(s: Services): AdminRoute[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/tokens/revoke',
      operationId: 'revokeToken',
      summary: 'Revoke one access token issued by this Portcullis (every node stops accepting it).',
      tag: 'tokens',
      auth: true,
      body: TokenRequest,
      responses: { 200: { description: 'Revoked (or already expired).', schema: TokenRevocation } },
      errors: [400, 404],
      async handler({ body }) {
        assertJwt(body.token);
        const claims = await verifyOwnToken(body.token, s.keys, s.config.issuer);
        if (!claims) throw new PortcullisError('not-found', 'the token was not issued by this Portcullis (foreign issuer, unknown or expired key, or bad signature)');
        const live = await s.tokens.revokeClaims(claims, 'admin');
        await s.audit.flush();
        return { body: { revoked: live, jti: claims.jti, client_id: claims.client_id } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/tokens/introspect',
      operationId: 'introspectToken',
      summary: 'Introspect an access token (RFC 7662 response shape), whatever app it was issued to.',
      tag: 'tokens',
      auth: true,
      body: TokenRequest,
      responses: { 200: { description: 'active:true with the claims, or active:false.', schema: Introspection } },
      errors: [400],
      async handler({ body }) {
        const claims = await s.tokens.activeClaims(body.token);
        return { body: claims ? describe(claims) : { active: false } };
      },
    }),
  ];
}
