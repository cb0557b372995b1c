/**
 * The identity plane: OAuth 2.0 authorization server metadata (RFC 8414) and OIDC
 * discovery, the JWKS, the token endpoint (client credentials), revocation (RFC 7009)
 * and introspection (RFC 7662).
 */
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { TlsOptions } from 'node:tls';
import type { CertificateAuthority } from '../pki/authority.js';
import { peerCertificate } from '../gateway/client-certificate-policy.js';
import { ocspBadUrl, pkiRoutes, type PkiRoutesOptions } from './pki-routes.js';
import type { JWK } from 'jose';
import type { Logger } from '../core/logger.js';
import type { KeyRing } from '../crypto/keyring.js';
import type { TokenService, EndpointRequest } from '../tokens/service.js';
import { proxyTrust } from './client-address.js';
import { forwardedAsXForwarded, forwardedHeaderGuard, lastForwardedValues } from './forwarded-headers.js';
import { checkHostHeaders, rawRequestCheck } from './host-header.js';
import { parseForm } from './form.js';
import { createHttpServer, sendWire } from './server.js';
import { notReady } from './readiness.js';

export interface IdentityPlaneDeps {
  issuer: string;
  keys: KeyRing;
  tokens: TokenService;
  logger: Logger;
  health: { ready(): Promise<void> };
  /** Encryption keys (`use: enc`), published in the JWKS beside the signing keys. */
  encryptionKeys?: { jwks(): { keys: JWK[] } };
  /** The built-in CA: /pki/* endpoints (CA certificates, CRL, OCSP, renewal). */
  pki?: CertificateAuthority;
  /** Self-renewal (`/pki/renew`): the app check and the audit trail. */
  pkiRenewal?: Omit<PkiRoutesOptions, 'pki'>;
  /** Serve HTTPS with these options (http/tls.ts). */
  https?: TlsOptions;
  /**
   * `gateway.trustedProxies`: peers whose X-Forwarded-* and Forwarded headers are kept;
   * every other peer's are removed before any handler (oidc-provider included) sees them.
   * Behind them, the client's address (`clientAddress(req)`) is the nearest untrusted hop
   * in X-Forwarded-For (fastify's `trustProxy`, decided by the same list).
   */
  trustedProxies?: readonly string[];
}

export function discoveryDocument(issuer: string): Record<string, unknown> {
  const base = issuer.replace(/\/$/, '');
  return {
    issuer,
    token_endpoint: `${base}/oauth2/token`,
    jwks_uri: `${base}/jwks`,
    revocation_endpoint: `${base}/oauth2/revoke`,
    introspection_endpoint: `${base}/oauth2/introspect`,
    grant_types_supported: ['client_credentials'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
    tls_client_certificate_bound_access_tokens: true,
    token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'],
    // the revocation and introspection endpoints authenticate apps as the token endpoint does (RFC 8414 §2, RFC 8705 §2)
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256'],
    authorization_response_iss_parameter_supported: true,
  };
}

export function buildIdentityPlane(d: IdentityPlaneDeps): FastifyInstance {
  // The client address (`clientAddress`: the sign-in attempt caps and their audit events) is the
  // nearest X-Forwarded-For entry that is not a trusted proxy, read only when the peer is one.
  const trustProxy = proxyTrust(d.trustedProxies ?? []);
  const app = createHttpServer(d.logger, { bodyLimit: 64 * 1024, trustProxy, ...(d.https ? ({ https: d.https } as FastifyServerOptions) : {}) }, d.pki ? { badUrl: ocspBadUrl } : {});
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  const stripForwarded = forwardedHeaderGuard(d.trustedProxies ?? []);
  app.addHook(
    'onRequest',
    rawRequestCheck((raw) => {
      stripForwarded(raw);
      forwardedAsXForwarded(raw);
      checkHostHeaders(raw);
      lastForwardedValues(raw);
    }),
  );

  const base = d.issuer.replace(/\/$/, '');
  const endpointRequest = (req: FastifyRequest, path: string): EndpointRequest => {
    const params = parseForm(typeof req.body === 'string' ? req.body : '', { oneTarget: path === '/oauth2/token' });
    const socket = req.raw.socket;
    return {
      authorization: req.headers.authorization,
      params,
      endpoint: `${base}${path}`,
      // Read only when a client authenticates with its certificate (RFC 8705): building the chain costs on every TLS request.
      get clientCertificate() {
        return peerCertificate(socket).chain;
      },
    };
  };

  const metadata = discoveryDocument(d.issuer);
  app.get('/.well-known/openid-configuration', async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(metadata));
  app.get('/.well-known/oauth-authorization-server', async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(metadata));
  app.get('/jwks', async (_req, reply) => reply.header('cache-control', 'public, max-age=60').type('application/jwk-set+json').send(d.encryptionKeys ? { keys: [...d.keys.jwks().keys, ...d.encryptionKeys.jwks().keys] } : d.keys.jwks()));

  const formOnly = { schema: undefined, config: {} };
  app.post('/oauth2/token', formOnly, async (req, reply) => {
    const res = await d.tokens.token(endpointRequest(req, '/oauth2/token'));
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(res);
  });
  app.post('/oauth2/revoke', formOnly, async (req, reply) => {
    await d.tokens.revoke(endpointRequest(req, '/oauth2/revoke'));
    return reply.header('cache-control', 'no-store').code(200).send();
  });
  app.post('/oauth2/introspect', formOnly, async (req, reply) => {
    const res = await d.tokens.introspect(endpointRequest(req, '/oauth2/introspect'));
    return reply.header('cache-control', 'no-store').send(res);
  });

  if (d.pki) void app.register(pkiRoutes, { pki: d.pki, ...(d.pkiRenewal ?? {}) });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await d.health.ready();
      return { status: 'ready' };
    } catch (e) {
      return sendWire(reply, notReady(e));
    }
  });
  return app;
}
