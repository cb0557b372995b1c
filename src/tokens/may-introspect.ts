/**
 * Who may introspect a token (RFC 7662 §4: "the authorization server MUST determine whether
 * or not the token can be introspected by the protected resource"). An app's `audiences`
 * are the APIs it is a client of; only `servedAudiences` make it a resource server of one.
 */
import type { AppRecord } from './store.js';

/**
 * Whether `caller` may introspect a token issued to `tokenClientId` for `aud`: its own
 * token, or one for an audience the caller serves as a resource server. oidc-provider's
 * introspection policy (identity/oidc/provider.ts) asks the same.
 * @example mayIntrospect(rs, claims.client_id, claims.aud)
 */
export function mayIntrospect(caller: Pick<AppRecord, 'clientId' | 'servedAudiences'>, tokenClientId: string | undefined, aud: string | readonly string[] | undefined): boolean {
  if (tokenClientId !== undefined && tokenClientId === caller.clientId) return true;
  const served = caller.servedAudiences ?? [];
  const audiences = aud === undefined ? [] : typeof aud === 'string' ? [aud] : aud;
  return audiences.some((a) => served.includes(a));
}
