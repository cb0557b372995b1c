/**
 * Certificate-bound access tokens at the gateway (RFC 8705 §3): a token whose
 * `cnf` claim carries `x5t#S256` is accepted only on a connection whose client
 * certificate has that SHA-256 thumbprint. RFC 8705 §3: "the protected resource MUST
 * obtain the client certificate used for mutual TLS from its TLS implementation
 * layer ... and verify that the certificate matches the certificate associated with
 * the access token. If they do not match, the resource access attempt MUST be
 * rejected with an error ... invalid_token".
 */
import { PortcullisError } from '../core/errors.js';
import { peerCertificate } from './client-certificate-policy.js';
import type { PolicyStep } from './context.js';

/**
 * Runs after the token step of every route that requires a token.
 * @example if (route.require.token) steps.push(certificateBindingStep)
 */
export const certificateBindingStep: PolicyStep = (ctx) => {
  const cnf = ctx.token?.claims['cnf'];
  if (cnf === undefined) return undefined;
  if (typeof cnf !== 'object' || cnf === null) throw new PortcullisError('token.malformed', 'the cnf claim is not an object');
  const want = (cnf as Record<string, unknown>)['x5t#S256'];
  if (want === undefined) return undefined;
  const have = peerCertificate(ctx.req.socket).thumbprint;
  if (typeof want !== 'string' || have === null || have !== want) {
    throw new PortcullisError('token.binding-mismatch', have === null ? 'the token is bound to a client certificate and none was presented' : 'the token is bound to another client certificate');
  }
  return undefined;
};
