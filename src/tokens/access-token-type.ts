/**
 * The JOSE `typ` of an RFC 9068 access token, as every verifier of this deployment checks
 * it (the gateway, the transit plane, introspection and revocation). RFC 9068 §4: "Resource
 * servers MUST verify that the typ header value is at+jwt or application/at+jwt"; RFC 7515
 * §4.1.9: the value is a media type, and "Recipients ... MUST treat media type values in a
 * case-insensitive manner". Parameters (`at+jwt; x=1`) and whitespace are not accepted.
 */
const AT_JWT = /^(?:application\/)?at\+jwt$/i;

/**
 * True when a protected header's `typ` names an access token.
 * @example isAccessTokenType('Application/AT+JWT') // true
 */
export function isAccessTokenType(typ: unknown): boolean {
  return typeof typ === 'string' && AT_JWT.test(typ);
}
