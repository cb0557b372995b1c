/**
 * The message-level policies of a route, in the order of the request path
 * (ARCHITECTURE.md): signature (RFC 9421/9530) → decrypt (JWE) → response
 * encryption → response signing. The gateway runs them after the token step.
 */
import type { RouteConfig } from '../core/config/schema.js';
import type { PolicyStep } from './context.js';
import { encryptionSteps, type EncryptionStepDeps } from './encryption-policy.js';
import { responseSigningStep, type ResponseSigningDeps } from './response-signing.js';
import { signatureStep, type SignatureStepDeps } from './signature-policy.js';

export type MessagePolicyDeps = SignatureStepDeps & EncryptionStepDeps & ResponseSigningDeps;

/**
 * `createGateway({ steps })` for `require.signature`, `require.encryption` and `signResponses`.
 *
 * @example
 * createGateway({ ..., steps: messagePolicySteps({ appSigningKeys, ephemeral, clock, encryptionKeys, appEncryptionKeys, signingKeys: keys, keys }) })
 */
export function messagePolicySteps(deps: MessagePolicyDeps): (route: RouteConfig) => PolicyStep[] {
  return (route) => {
    const steps: PolicyStep[] = [];
    const { signature, encryption } = route.require;
    if (signature !== undefined) steps.push(signatureStep(route, signature, deps));
    if (encryption !== undefined) steps.push(...encryptionSteps(route, encryption, deps));
    if (route.signResponses) steps.push(responseSigningStep(deps));
    return steps;
  };
}
