/**
 * PortcullisError: one error class with a stable, typed code.
 *
 * Code switches on `code`, never on message text. `http/` maps codes to wire
 * formats (OAuth `error`, `WWW-Authenticate`, RFC 9457 problem+json). Every code
 * is listed in `docs/errors.md` (a test pins that).
 */

export interface ErrorSpec {
  /** HTTP status the edge answers with. */
  status: number;
  /** What it means, for docs/errors.md. */
  meaning: string;
  /** What the caller or operator does about it, for docs/errors.md. */
  fix: string;
}

export const ERRORS = {
  // configuration
  'config.invalid': { status: 500, meaning: 'The configuration file does not match the schema.', fix: 'Read the path and expectation in the message; `portcullis config check` validates without starting.' },
  'config.not-found': { status: 500, meaning: 'The configuration file or a file it references does not exist.', fix: 'Run `portcullis init --dir DIR` or correct the path.' },
  'config.parse': { status: 500, meaning: 'The configuration file is not valid YAML.', fix: 'Fix the YAML syntax at the line given.' },
  // requests (generic)
  'request.malformed': { status: 400, meaning: 'The request could not be parsed.', fix: 'Send a well-formed HTTP request.' },
  'request.body-too-large': { status: 413, meaning: 'The request body is larger than the configured limit.', fix: 'Send a smaller body or raise the route/gateway body limit.' },
  'response.body-too-large': { status: 502, meaning: 'A signed response\'s body is larger than `maxBodyBytes` of the SDK\'s `verifyResponse` (default 32 MiB, above anything the gateway signs): it is refused once that much has been read, never buffered whole.', fix: 'Check that the URL is a route that signs its responses; for larger signed bodies raise `maxBodyBytes`.' },
  'request.headers-too-large': { status: 431, meaning: 'The request headers are larger than the configured limit.', fix: 'Send fewer or smaller headers.' },
  'request.timeout': { status: 408, meaning: 'The client did not send the request in time.', fix: 'Send the request body faster.' },
  'request.unsupported-media-type': { status: 415, meaning: 'The request body has a content type this endpoint does not accept, or a JSON body declares a `charset` other than UTF-8 (RFC 8259 §8.1), which is refused rather than read as UTF-8.', fix: 'Use the content type the endpoint documents; send JSON in UTF-8, with no charset or `charset=utf-8`.' },
  'request.transfer-coding-unsupported': { status: 501, meaning: 'The request body has a transfer coding other than `chunked` alone (RFC 9112 §6.1); the gateway does not decode other codings.', fix: 'Send the body with Content-Length or `Transfer-Encoding: chunked`; state a compressed body with Content-Encoding instead.' },
  'request.expectation-failed': { status: 417, meaning: 'The request has an `Expect` other than `100-continue` (RFC 9110 §10.1.1), which the gateway cannot meet.', fix: 'Send the request without `Expect`, or with `Expect: 100-continue` only.' },
  'request.method-override': { status: 400, meaning: 'The request carries `X-HTTP-Method-Override`, `X-HTTP-Method` or `X-Method-Override` (any spelling, `_` for `-` too), or a `_method` query parameter (any case, percent-encoded or with `[]` too). Upstream frameworks (Express `method-override`, Symfony, Spring, ASP.NET) run the method these name instead of the request method the gateway routed and checked, so the gateway refuses them. A `_method` field in a form body is not read by the gateway: turn that override off in the upstream (Rails, Laravel).', fix: 'Send the request with the method you mean (DELETE, PUT, PATCH…) and without a method-override header or `_method` query parameter.' },
  'request.invalid': { status: 400, meaning: 'A parameter of the request is missing or invalid (in a JSON body, also a key that occurs twice in one object, at any depth).', fix: 'Correct the parameter named in the message.' },
  'not-found': { status: 404, meaning: 'No such resource.', fix: 'Check the identifier.' },
  'method.not-allowed': { status: 405, meaning: 'The method is not allowed on this resource; the `Allow` header lists the methods it is served with.', fix: 'Use a method the `Allow` header lists. On the admin API a caller without the admin token is not told: every /v1/ path answers it 401.' },
  'conflict': { status: 409, meaning: 'The resource already exists or is in a conflicting state.', fix: 'Use another name or fetch the current state first.' },
  'internal': { status: 500, meaning: 'An unexpected server-side failure; details are in the server log, never in the response.', fix: 'Report it with the request id.' },
  'unavailable': { status: 503, meaning: 'A dependency (store, ephemeral store) is unavailable, so the check could not be made; the request was denied (fail closed).', fix: 'Retry later; operators check the store and Redis.' },
  'node.stopping': { status: 503, meaning: 'The node is stopping (SIGTERM, SIGINT, SIGHUP): the identity or admin plane refuses a request that arrives on a kept-alive connection once the stop began, without running it, and closes the connection (`Connection: close`); requests already in flight finish.', fix: 'Send the request again on a new connection (to another node behind the load balancer, or once this one is back); nothing was done.' },
  // admin plane
  'admin.unauthorized': { status: 401, meaning: 'The admin API needs the admin credential created at init.', fix: 'Send `Authorization: Bearer <admin token>` (file DIR/admin.token).' },
  'admin.throttled': { status: 429, meaning: 'Too many requests without a valid admin credential came from this client address in the current window (`admin.failedAuth`): its requests without the right admin token are refused until the window closes (`Retry-After`, `retryAfterMs` in details); the right token always passes.', fix: 'Wait the time given, then send the right admin token; find what keeps sending a wrong one (the `admin.denied` events name the address).' },
  'admin.host-not-allowed': { status: 400, meaning: 'The request\'s Host is not a name the admin plane answers to: only an IP address, `localhost`, the host of `listen.admin` and the names in `admin.allowedHosts` are, so a web page cannot read the admin plane from a browser by pointing its own DNS name at it (DNS rebinding). A request without Host is refused too.', fix: 'Call the admin plane by its IP address or `localhost`, or list the name you call it by in `admin.allowedHosts`.' },
  // sign-in: passwords and brute-force limits (identity/)
  'auth.invalid-credentials': { status: 401, meaning: 'The user name or password is wrong (which one is not said).', fix: 'Check the credentials; repeated failures slow down and then lock the account.' },
  'auth.throttled': { status: 429, meaning: 'Too many failed sign-in attempts for this account or client address: the next attempt must wait (`retryAfterMs` in details).', fix: 'Wait the time given, then try again.' },
  'auth.locked': { status: 429, meaning: 'The account or client address is temporarily locked after repeated failed attempts.', fix: 'Wait until the lock expires (`retryAfterMs`), or ask an administrator to unlock it.' },
  'auth.signin-outdated': { status: 401, meaning: 'The sign-in began (its password step) before every session of the user was ended (end every session, an MFA reset, disabling the user): it cannot finish, as a session it made would outlive that cut-off.', fix: 'Start the sign-in again from the app.' },
  'auth.signin-other-browser': { status: 403, meaning: 'A step of a sign-in after the one that proved the user (the password, or a passkey alone), or the resume of its authorization request, came from a browser other than the one that took that step: it lacks the secret cookie set then (`__Host-portcullis-signin-<interaction>` over https). This is what an attacker who started the request and planted its interaction cookie in the user\'s browser (session fixation, cookie tossing) gets; refused and audited as `signin.other-browser`.', fix: 'Start the sign-in again from the app, in one browser. An operator seeing `signin.other-browser` events for a user looks for a cookie-setting sibling subdomain or a shared link to a sign-in page.' },
  'auth.interaction-mismatch': { status: 403, meaning: 'A sign-in page or step (`/interaction/<uid>`) was asked for with an interaction cookie (`_interaction`) that names another sign-in than the one in the URL: two sign-ins in one browser, or a cookie planted with a narrower Path by a sibling subdomain. The pages act on the interaction the cookie names, so they refuse rather than show or continue another sign-in than the page asked for; nothing was checked or changed on either. Audited as `signin.interaction-mismatch`.', fix: 'Start the sign-in again from the app. An operator seeing `signin.interaction-mismatch` events looks for a cookie-setting sibling subdomain.' },
  'password.too-short': { status: 400, meaning: 'The new password is shorter than the minimum (8 characters by default, counted in Unicode code points, NIST SP 800-63B).', fix: 'Choose a longer password or passphrase.' },
  'password.too-long': { status: 400, meaning: 'The new password is longer than the configured maximum (at least 64 characters are always allowed).', fix: 'Choose a shorter passphrase.' },
  'password.common': { status: 400, meaning: 'The new password is on the list of common or breached passwords, is repetitive or sequential, or contains a context word (user name, service name).', fix: 'Choose a password that is not commonly used; a passphrase of several unrelated words works well.' },
  'password.mismatch': { status: 400, meaning: 'The new password and its confirmation on the account page differ; nothing was changed.', fix: 'Type the same new password in both fields.' },
  'password.unchanged': { status: 400, meaning: 'The new password is the current one (NIST SP 800-63B: a change replaces the password); said only once the current password was proven.', fix: 'Choose a password other than the current one.' },
  'password.changed-meanwhile': { status: 409, meaning: 'The current password was proven on the account page, but the stored password was replaced before the change was written (another change sent at the same moment, an administrator\'s reset, an invite): the change is written only over the password it was proven against, so nothing was changed and no session was ended by this request. Refused and audited as `user.password-change-refused`.', fix: 'Reload the account page (sign in again if asked, with the password that now stands) and change it again if needed. A change you did not send means someone else holds your password.' },
  'password.hash-unknown': { status: 500, meaning: 'A stored password hash is in a format no configured hasher understands.', fix: 'Configure the legacy hasher the hash came from, or reset the password.' },
  // second factors (mfa/)
  'mfa.unknown-factor': { status: 400, meaning: 'No second factor with this id is configured.', fix: 'Use one of the configured factors (totp, email, sms, recovery-code).' },
  'mfa.not-enrolled': { status: 400, meaning: 'The user has no confirmed enrolment for this factor.', fix: 'Enrol the factor first.' },
  'mfa.not-enrollable': { status: 400, meaning: 'This factor cannot be enrolled as a second factor (recovery codes are a fallback, generated once a real factor is confirmed).', fix: 'Enrol an authenticator app, a code by e-mail or text message, or a passkey.' },
  'mfa.already-enrolled': { status: 409, meaning: 'The user already has a confirmed enrolment for this factor.', fix: 'Remove the existing enrolment before enrolling again.' },
  'mfa.invalid-code': { status: 401, meaning: 'The one-time code, TOTP code or recovery code is wrong.', fix: 'Enter the current code; repeated failures slow down and then lock the account.' },
  'mfa.code-expired': { status: 401, meaning: 'The one-time code has expired (5 minutes by default) or was never issued.', fix: 'Request a new code.' },
  'mfa.code-replayed': { status: 401, meaning: 'The code was already used: TOTP codes, one-time codes and recovery codes are each accepted once.', fix: 'Wait for the next TOTP code or request a new one-time code.' },
  'mfa.delivery-failed': { status: 502, meaning: 'The one-time code could not be handed to the e-mail or SMS provider.', fix: 'Check the sender configuration (SMTP host, webhook URL) and the provider; then request a new code.' },
  'mfa.factor-unavailable': {
    status: 503,
    meaning: 'This deployment does not offer the second factor asked for: codes by e-mail or text message with no `identity.otp.sender` configured (the default), or of the other `identity.otp.channel`. Setting such a factor up is refused; a user whose only confirmed second factor is of such a kind (for example `identity.otp.channel` was switched from email to sms, or the sender removed) is refused at sign-in rather than let through on the password alone.',
    fix: 'Choose another second factor; or configure the factor (a sender: `identity.otp.sender` smtp or webhook; the channel back), or have an administrator reset the user\'s MFA (`portcullis user reset-mfa`) so that they enrol a factor at the next sign-in.',
  },
  'mfa.last-factor': { status: 409, meaning: 'A second factor is required for this user (for the user, or for everyone) and this is their last one: removing it would leave the password alone to enrol a new one at the next sign-in.', fix: 'Add another second factor (authenticator app, codes, passkey) first, or have an administrator lift the requirement or reset the user\'s MFA.' },
  'mfa.required': { status: 401, meaning: 'This sign-in needs a second factor (required for everyone, for this app or for this user) and none was completed.', fix: 'Complete the second-factor step, or enrol a factor first.' },
  'webauthn.invalid-response': { status: 401, meaning: 'The WebAuthn registration or assertion did not verify (wrong challenge, origin, RP id, signature, or an unknown credential), or is malformed, or was made in a frame of another site (clientDataJSON `crossOrigin` true or a `topOrigin`: 400).', fix: 'Retry with a credential registered for this account, on this site\'s own page (not embedded in another site).' },
  'webauthn.user-verification-required': { status: 401, meaning: 'The authenticator did not verify the user (PIN or biometric), which a passwordless passkey sign-in requires.', fix: 'Use an authenticator that verifies the user, or sign in with a password first.' },
  'webauthn.user-handle-mismatch': { status: 401, meaning: 'The assertion\'s userHandle is not the user the credential belongs to, or a passwordless passkey sign-in sent none (WebAuthn §7.2 step 6).', fix: 'Sign in with a passkey registered for this account; an authenticator that returns no user handle cannot sign in without a password.' },
  'webauthn.counter-regressed': { status: 401, meaning: 'The authenticator signature counter did not increase in an assertion whose signature verifies: the credential may have been cloned, so the assertion was refused and the credential suspended (audited as `webauthn.credential-suspended`), as either copy may be the clone.', fix: 'Remove the credential and register a new one; investigate a possible cloned key.' },
  'webauthn.credential-exists': { status: 409, meaning: 'The registration names a credential id that is already registered (to this account or another); the registration was refused (audited as `webauthn.registration-refused`).', fix: 'Use the key already registered, or register another authenticator.' },
  'webauthn.too-many-credentials': { status: 409, meaning: 'The account already holds the most security keys and passkeys one account may register (20); the registration was refused (audited as `webauthn.registration-refused`).', fix: 'Remove a key you no longer use on the account page, then add the new one.' },
  'webauthn.credential-suspended': { status: 403, meaning: 'The credential was suspended after its signature counter went back (a suspected clone, `webauthn.counter-regressed`): neither copy signs in any more. A suspended key is not offered at sign-in; a user whose only second factor is suspended keys (no other factor, no recovery code) is refused after the password, never let in nor sent to enrol on the password alone.', fix: 'Sign in another way (another key, a second factor or a recovery code), remove the credential on the account page and register a new one; an administrator can also reset the user\'s second factors.' },
  // users and sign-in pages (identity/)
  'user.disabled': { status: 403, meaning: 'The user account is disabled.', fix: 'An administrator must enable the account.' },
  'user.not-signed-in': { status: 401, meaning: 'The account page needs a signed-in browser session and this request has none (or it ended).', fix: 'Sign in through an app first, then open the account page again.' },
  'account.reauthentication-required': { status: 403, meaning: 'A change of second factors on the account page (adding or removing an authenticator app, e-mail/SMS codes or a passkey, renewing recovery codes) needs a recent sign-in in this browser: within `identity.account.reauthenticateAfter` (10 minutes by default) and, when the user has a second factor, with it. The session is older, or its last sign-in used the password alone; the change was not made (audited as `user.factor-change-refused`).', fix: 'Use the account page\'s "Sign in again" link (it comes back to the account page), then repeat the change.' },
  'account.password-required': { status: 403, meaning: 'A change on the account page (the password, adding or removing a second factor or passkey, renewing recovery codes) needs the current password of an account that has one, in the same form, and none was sent; nothing was changed and no failed attempt was counted. A session cookie alone makes no such change.', fix: 'Type your current password in the form\'s password field and submit again.' },
  'user.invite-invalid': { status: 400, meaning: 'The invite link is unknown, expired or was already used.', fix: 'Ask an administrator for a new invite (`portcullis user invite EMAIL`, or `POST /v1/users/{id}/invite`).' },
  'csrf.invalid': { status: 403, meaning: 'A form was posted without the anti-CSRF token of the current sign-in session, or with a wrong one.', fix: 'Reload the page and submit the form again.' },
  // gateway
  'route.not-found': { status: 404, meaning: 'No gateway route matches the host, path and method.', fix: 'Check the route table in portcullis.yaml.' },
  'gateway.not-in-sync': { status: 503, meaning: 'The gateway could not confirm that a change (a revocation through the admin API or `/oauth2/revoke`, an app or key change) is in force on it, so it refuses every request until it has re-read apps, revocations and keys from the store (fail closed); `/readyz` answers 503 meanwhile.', fix: 'Retry later. Operators read the log for why the gateway could not read the store (`gateway thread`), and watch `/readyz`.' },
  'change.not-in-force': { status: 503, meaning: 'The change (an admin API call, or a token revocation at `/oauth2/revoke`) is stored, but the gateway could not confirm in time that it is in force: the gateway refuses every request (`gateway.not-in-sync`, `/readyz` 503) until it has read the change from the store. No request is let through without the change.', fix: 'Do not redo the change: it is stored. Check the log and the audit event `gateway.change-not-in-force` for the cause (the store, a stuck gateway thread); the gateway serves again once it has read the store.' },
  'upstream.unavailable': { status: 502, meaning: 'The upstream could not be reached or broke the connection.', fix: 'Check that the upstream is running.' },
  'upstream.content-coding': { status: 502, meaning: 'On a route that signs or encrypts responses, the upstream answered with a content coding the gateway cannot decode (it asks for `identity` and decodes gzip, deflate and br), or a coded body that does not decode within the buffered-response limit: the gateway never signs or encrypts bytes the client will not see.', fix: 'Let the upstream honour `Accept-Encoding: identity`, or use gzip, deflate or br.' },
  'upstream.transfer-coding-unsupported': { status: 502, meaning: 'The upstream answered with a transfer coding other than `chunked` alone (gzip, deflate, identity or another, stacked or not; RFC 9112 §6.1). Transfer codings are hop-by-hop and the gateway does not decode any but `chunked`: relayed, the body would reach the client still coded with nothing saying so.', fix: 'Let the upstream send its body with Content-Length or `Transfer-Encoding: chunked`, and state compression with Content-Encoding.' },
  'upstream.timeout': { status: 504, meaning: 'The upstream did not answer within the route timeout.', fix: 'Speed up the upstream or raise `timeout` on the route.' },
  // tokens at the gateway and the identity plane
  'token.missing': { status: 401, meaning: 'The route requires a bearer token and none was sent.', fix: 'Send `Authorization: Bearer <access token>`.' },
  'token.malformed': { status: 401, meaning: 'The Authorization header or the token is not well formed.', fix: 'Send exactly one `Authorization: Bearer <JWT>` header.' },
  'token.invalid-signature': { status: 401, meaning: 'The token signature does not verify.', fix: 'Get a new token from the issuer; do not modify tokens.' },
  'token.alg-not-allowed': { status: 401, meaning: 'The token header names an algorithm that is not accepted (e.g. `none`, or HS256 against an asymmetric key).', fix: 'Use a token issued by a trusted issuer.' },
  'token.unknown-key': { status: 401, meaning: 'The token `kid` names no key of a trusted issuer, or an external issuer\'s key set holds more than one key under that `kid` (which one was meant cannot be told; the gateway logs a warning once per retrieval of such a key set).', fix: 'Get a new token; the signing key may have been retired. For a repeated `kid`, the issuer must give each key of its JWKS its own `kid`.' },
  'token.wrong-type': { status: 401, meaning: 'The JWT is not an access token (`typ` must be `at+jwt`, RFC 9068).', fix: 'Send an access token, not an ID token or another JWT.' },
  'token.expired': { status: 401, meaning: 'The token has expired.', fix: 'Get a new token.' },
  'token.lifetime-too-long': { status: 401, meaning: 'The token lives longer than its issuer may issue tokens for: `exp - iat` (or `exp` - now, when the token has no `iat`) exceeds the issuer\'s `maxTokenLifetime` (`tokens.maxTokenLifetime` for this Portcullis\'s own tokens; 24 h by default).', fix: 'Get a token with a shorter lifetime from the issuer, or raise the issuer\'s `maxTokenLifetime` if its tokens legitimately live longer.' },
  'token.not-yet-valid': { status: 401, meaning: 'The token is not valid yet (`nbf`/`iat` in the future).', fix: 'Check clocks; get a new token.' },
  'token.claim-missing': { status: 401, meaning: 'A required claim (exp, iat, jti, aud, iss, client_id, sub) is missing.', fix: 'Use a token from a conforming issuer.' },
  'token.wrong-audience': { status: 401, meaning: 'The token audience does not include the route audience.', fix: 'Request a token for this API audience.' },
  'token.wrong-issuer': { status: 401, meaning: 'The token issuer is not trusted by this route.', fix: 'Use a token from an issuer the route trusts.' },
  'token.revoked': { status: 401, meaning: 'The token, or every token of its app, has been revoked.', fix: 'Get a new token (if the app is still enabled).' },
  'token.app-disabled': { status: 401, meaning: 'The app that the token was issued to is disabled.', fix: 'An administrator must enable the app.' },
  'token.binding-mismatch': { status: 401, meaning: 'The access token is bound to a client certificate (RFC 8705 `cnf.x5t#S256`) and the request was not made over mutual TLS with that certificate.', fix: 'Send the request over mutual TLS with the certificate the token was issued to.' },
  'token.binding-unsupported': { status: 401, meaning: 'The access token carries a confirmation (`cnf`) method this resource does not verify (e.g. DPoP `jkt`); a token bound to a key is never accepted as a plain bearer token (fail closed).', fix: 'Use a bearer token, or a token bound to a client certificate (`cnf.x5t#S256`) sent over mutual TLS with that certificate.' },
  'token.insufficient-scope': { status: 403, meaning: 'The token lacks a scope the route requires.', fix: 'Request a token with the scopes named in WWW-Authenticate.' },
  'token.insufficient-user-authentication': { status: 401, meaning: 'The token does not prove the user authentication the route requires (a second factor, an `acr` level, or a sign-in recent enough: RFC 9470).', fix: 'Send the user through sign-in again with the `acr_values` and `max_age` named in WWW-Authenticate, then retry with the new token.' },
  // OAuth endpoints
  'oauth.invalid-request': { status: 400, meaning: 'The OAuth request is missing a parameter or has a malformed one.', fix: 'See error_description.' },
  'oauth.invalid-client': { status: 401, meaning: 'Client authentication failed (unknown client, wrong secret, bad assertion, disabled app).', fix: 'Check client_id and credentials.' },
  'oauth.unauthorized-client': { status: 400, meaning: 'The client may not use this grant type or authentication method.', fix: 'Use a grant the app is registered for.' },
  'oauth.unsupported-grant-type': { status: 400, meaning: 'The grant type is not supported.', fix: 'Use client_credentials.' },
  'oauth.invalid-scope': { status: 400, meaning: 'A requested scope is not allowed for this app, or the scope parameter is malformed.', fix: 'Request only scopes the app was registered with.' },
  'oauth.invalid-target': { status: 400, meaning: 'A requested resource (RFC 8707 `resource`, or `audience`) is not an audience this app may get tokens for.', fix: 'Request only audiences the app was registered with (exact strings).' },
  'oauth.unsupported-token-type': { status: 400, meaning: 'The token type hint names a token type that cannot be revoked.', fix: 'Use token_type_hint=access_token.' },
  // HTTP message signatures (RFC 9421) and digests (RFC 9530)
  'webhook.target-forbidden': { status: 400, meaning: 'The webhook URL names a loopback, private, link-local (e.g. 169.254.169.254), unique-local, unspecified or other special-use address, or `localhost`; deliveries are also refused when a name resolves to such an address.', fix: 'Use a public https URL; to deliver inside your own network, set `webhooks.allowPrivateTargets: true` (cloud metadata addresses such as 169.254.169.254 and 168.63.129.16 stay refused even then).' },
  'webhook.insecure-url': { status: 400, meaning: 'The webhook URL is plain `http:`: each delivery (the event, its signature and nonce) would cross the network readable and changeable by anyone on the path. Only a loopback IP literal (127.0.0.0/8, `::1`), with `webhooks.allowPrivateTargets`, may be plain http unless the deployment opts in; a `localhost` name and private addresses need the opt-in too.', fix: 'Use an `https:` URL. If the receiver is reachable only over plain http on a network you trust, set `webhooks.allowInsecureHttp: true`.' },
  'signature.missing': { status: 401, meaning: 'The route requires an HTTP message signature and the message carries no Signature/Signature-Input (or none with the expected label or tag).', fix: 'Sign the request (RFC 9421) with the key registered for the app; see Accept-Signature for what is expected.' },
  'signature.malformed': { status: 400, meaning: 'Signature, Signature-Input or Accept-Signature is not a valid structured field of the RFC 9421 shape (duplicate label, wrong parameter type, unknown component parameter, label present in only one header).', fix: 'Send both headers as RFC 8941 dictionaries, one member per label, exactly as the signing library produces them.' },
  'signature.invalid': { status: 401, meaning: 'The signature does not verify over the signature base built from the message as received (a covered component was changed in transit, or the wrong key was used).', fix: 'Sign the message as it is sent and do not change covered components after signing.' },
  'signature.expired': { status: 401, meaning: 'The signature `expires` time has passed, or `created` is older than the accepted maximum age.', fix: 'Sign each request when it is sent; check the client clock.' },
  'signature.not-yet-valid': { status: 401, meaning: 'The signature `created` time is in the future beyond the allowed clock skew.', fix: 'Check the client clock (NTP).' },
  'signature.replayed': { status: 401, meaning: 'The signature nonce has already been used: the request is a replay (at the gateway; or at a webhook receiver verifying with the SDK\'s `verifyWebhook`, which remembers each nonce until the signature is too old).', fix: 'Use a fresh nonce for every signed request. A webhook receiver that meets it does nothing: Portcullis signs each delivery attempt afresh, so a replay is a captured request sent again.' },
  'signature.nonce-unverifiable': { status: 401, meaning: 'The signature was created before the nonce store started remembering nonces (the node restarted with `ephemeral: memory`, or Redis restarted empty), so whether its nonce was already used cannot be known: it may be a replay, and is refused.', fix: 'Sign the request again and resend it (with a fresh nonce and `created`); clients that sign each request when they send it only meet this for requests signed just before such a restart.' },
  'signature.component-missing': { status: 401, meaning: 'The signature does not cover a component the route requires, or a covered component is absent from the message.', fix: 'Cover every component the route requires (see Accept-Signature) and send every covered header.' },
  'signature.parameter-missing': { status: 401, meaning: 'The signature lacks a parameter the route requires (`created`, `expires`, `nonce` or `keyid`).', fix: 'Add the required signature parameters when signing.' },
  'signature.alg-mismatch': { status: 401, meaning: 'The signature algorithm is not allowed, or the `alg` parameter disagrees with the algorithm of the key it names.', fix: 'Sign with the algorithm of the registered key; omit `alg` or give the matching value.' },
  'signature.unknown-key': { status: 401, meaning: 'The signature `keyid` names no key known for this route.', fix: 'Use the key id that was registered for the app.' },
  'signature.target-invalid': { status: 400, meaning: 'The target URI a signature covers (`@target-uri`, `@authority`, `@path`, `@query`, …) cannot be derived: its authority carries userinfo (`user@`) or characters outside `host[:port]`, or it has a fragment (`#`); at the gateway, the Host header is not a valid `host[:port]`.', fix: 'Send the request to the authority it was signed for, with a Host header of the form `host[:port]`, and sign the URI as sent (no userinfo, no fragment).' },
  'signature.too-many': { status: 400, meaning: 'Signature-Input or Signature has more members than the verifier accepts (`maxSignatures`, default 4): each could cost a public-key verification.', fix: 'Send one signature per signer (two while rotating keys); raise `routes[].require.signature.maxSignatures` if intermediaries add their own.' },
  'signature.field-type-unknown': { status: 400, meaning: 'A covered field carries `sf` or `key`, but its structured type (Dictionary, List or Item) is not known to the verifier; RFC 9421 §2.1.1 requires the type to be known, and guessing it lets a List gain members or a Dictionary repeat keys unnoticed. `key` needs a Dictionary field.', fix: 'Cover the field without `sf`/`key`, or use a registered structured field (Signature-Input, Content-Digest, Priority, Cache-Status, …; see docs/signatures.md); library users declare their own with `registerStructuredField`.' },
  'signature.field-lines-unknown': { status: 400, meaning: 'A field covered with `bs` was read from a web `Headers` object, which joins repeated field lines with ", " (Set-Cookie aside): RFC 9421 §2.1.3 wraps each field line as its own byte sequence, and a value containing ", " may be one line or several, so the signature base could differ from the one the other side builds from the lines as sent.', fix: 'Give the message headers line by line (a record with one string per field line, or a `FieldLineSource`), or cover the field without `bs`.' },
  'signature.wrong-app': { status: 401, meaning: 'The request is signed with a key of another app than the one its access token was issued to.', fix: 'Sign with a key registered for the same app (client_id) as the access token.' },
  'signature.request-unknown': { status: 500, meaning: 'The SDK\'s `verifyResponse` was asked to verify a signed response without knowing the request it answers (none given as `request`, none remembered by `createSignedFetch` for that Response object, e.g. a clone or a Response built by the app). Without the request it cannot check that the response is bound to it (`;req`), so a signed answer to another request would pass as this one\'s: it refuses before anything is fetched or read. A fault of the calling code, not of the peer.', fix: 'Verify the Response `createSignedFetch` returned (not a clone), or pass the request it answers as `request` (`requestOf(original)` for a clone). Only where no request can be known, pass `requestBinding: false`, which accepts a response bound to no request (weaker: it may be the answer to another request).' },
  'signature.wrong-tag': { status: 401, meaning: 'The message is signed, but not with the `tag` this receiver expects: Portcullis signs event webhooks with tag `portcullis-webhook` and one-time codes for the SMS gateway with `portcullis-otp`, with the same key, so a receiver of one kind refuses the other (and a signature without a tag).', fix: 'Point each kind at its own receiver and verify with its tag: `verifyWebhook(request, { tag: OTP_TAG, … })` on the SMS bridge, the default (`WEBHOOK_TAG`) on an event receiver.' },
  'digest.missing': { status: 400, meaning: 'The route requires a Content-Digest (RFC 9530) with sha-256 or sha-512 and none was sent.', fix: 'Send `Content-Digest: sha-256=:<base64>:` computed over the body as sent.' },
  'digest.mismatch': { status: 400, meaning: 'The body does not match its Content-Digest: it was changed or truncated in transit.', fix: 'Compute the digest over the exact bytes of the body as sent (after content coding).' },
  'digest.malformed': { status: 400, meaning: 'Content-Digest is not an RFC 8941 dictionary of byte sequences, or a digest has the wrong length.', fix: 'Send `sha-256=:<base64>:` or `sha-512=:<base64>:` members.' },
  // keys and crypto
  'key.not-found': { status: 404, meaning: 'No key with that id.', fix: 'List keys with `portcullis keys list`.' },
  'crypto.decrypt-failed': { status: 500, meaning: 'A secret at rest failed to decrypt (wrong master key or tampered data).', fix: 'Check that the master key file belongs to this database.' },
  'crypto.master-key': { status: 500, meaning: 'The master key file is missing, unreadable or not 32 bytes, or its permissions are too open.', fix: 'Restore DIR/master.key (mode 0600).' },
  // encrypted message bodies (JWE, RFC 7516/7518)
  'jwe.required': { status: 415, meaning: 'The route requires an encrypted body (JWE) and the body is not one.', fix: 'Encrypt the body to the published `use: enc` key or the app key and send it as `application/jose` (compact) or `application/jose+json`.' },
  'jwe.malformed': { status: 400, meaning: 'The body is not a well-formed JWE (compact or JSON serialization): wrong number of parts, bad base64url, unparsable or missing protected header, duplicate header parameters.', fix: 'Send the JWE exactly as the JOSE library produced it.' },
  'jwe.too-large': { status: 413, meaning: 'The JWE is larger than the configured limit.', fix: 'Send a smaller body or raise the limit on the route.' },
  'jwe.alg-not-allowed': { status: 400, meaning: 'The JWE `alg` or `enc` is not accepted (accepted: ECDH-ES+A256KW, ECDH-ES, RSA-OAEP-256, dir and A256KW with A256GCM; never RSA1_5 or PBES2), or it does not fit the type or size of the key (RSA: at least 2048 bits and an odd public exponent of at least 3).', fix: 'Encrypt with an accepted algorithm pair for the key you encrypt to.' },
  'jwe.zip-not-allowed': { status: 400, meaning: 'The JWE header asks for compression (`zip`), which is refused (compression before encryption leaks plaintext and invites decompression bombs).', fix: 'Encrypt without `zip`.' },
  'jwe.crit-unsupported': { status: 400, meaning: 'The JWE header lists a critical extension (`crit`) that is not understood.', fix: 'Remove the `crit` parameter and the extension.' },
  'jwe.unknown-key': { status: 400, meaning: 'The JWE `kid` names no encryption key that may decrypt here (unknown, expired, or past its decryption overlap).', fix: 'Fetch the current JWKS (`use: enc`) and encrypt to its key.' },
  'jwe.wrong-key-use': { status: 400, meaning: 'The key named by the JWE is not an encryption key (JWK `use` is not `enc`, or `key_ops` does not allow decryption).', fix: 'Encrypt to a key published with `use: enc`.' },
  'jwe.invalid-point': { status: 400, meaning: 'The ephemeral public key (`epk`) is not a valid point of the key curve (invalid-curve or small-subgroup attack).', fix: 'Generate the ephemeral key on the curve of the recipient key.' },
  'jwe.decrypt-failed': { status: 400, meaning: 'The JWE did not decrypt: wrong key, or the ciphertext, tag, encrypted key, IV or protected header was changed.', fix: 'Encrypt again to the current key; do not modify the JWE in transit.' },
  'jwe.context-mismatch': { status: 400, meaning: 'The protected header does not bind the JWE to this route/app (`aud`, `pc_app`, `pc_rid`): it was made for another recipient or replayed.', fix: 'Put the route audience (and app id, request id where required) in the protected header.' },
  'jwe.key-exhausted': { status: 500, meaning: "The route encrypts responses with the app's `dir` symmetric key, and that key has reached its AES-GCM invocation limit (NIST SP 800-38D §8.3: 2^32 encryptions with random IVs, or the lower `encryption.aesGcm.invocationLimit`). Another response under it would weaken the IV-collision bound, so the request was refused before the upstream was called. The client cannot fix this, and waiting does not help.", fix: 'Operators: give the app a new symmetric key (`portcullis app enc-keys add CLIENT_ID --symmetric`; responses use the newest), hand it to the app, then revoke the exhausted one.' },
  // encryption as a service (transit)
  'transit.key-not-found': { status: 404, meaning: 'No transit key with that name.', fix: 'Create the key first, or check its name.' },
  'transit.invalid-input': { status: 400, meaning: 'A transit request parameter is missing or invalid (key name, base64 input, version, bit length, configuration).', fix: 'Correct the parameter named in the message.' },
  'transit.wrong-key-type': { status: 400, meaning: 'The operation does not fit the key type (encrypt with a signing key, sign with an AES key).', fix: 'Use an aes256-gcm key for encryption and an ed25519/ecdsa-p256 key for signatures.' },
  'transit.malformed-ciphertext': { status: 400, meaning: 'The ciphertext, signature or HMAC is not of the form `pc:v<version>:<base64>`, or names a key version that does not exist.', fix: 'Pass the value exactly as the transit operation returned it.' },
  'transit.version-retired': { status: 400, meaning: 'The value was made with a key version below the key `minDecryptionVersion` (or the requested version is below `minEncryptionVersion`).', fix: 'Rewrap data before raising minDecryptionVersion; encrypt with the latest version.' },
  'transit.key-exhausted': { status: 409, meaning: 'The key version that would encrypt has reached its AES-GCM invocation limit (NIST SP 800-38D §8.3: 2^32 encryptions with random IVs, or the lower `encryption.aesGcm.invocationLimit`), and the key does not rotate by itself (`autoRotate` off) or that version was asked for. Another encryption under it would weaken the IV-collision bound; decryption still works.', fix: 'Rotate the key (`portcullis transit rotate <name>`), or turn on auto-rotation (`portcullis transit config <name> --auto-rotate true`); do not ask for an exhausted version.' },
  'transit.decrypt-failed': { status: 400, meaning: 'The ciphertext did not decrypt: it was changed, or the associated data (context) differs from the one used to encrypt.', fix: 'Pass the same context as when encrypting; do not modify ciphertexts.' },
  // audit
  'audit.unavailable': { status: 503, meaning: 'The audit trail could not write its events to the durable store, so the change is not acknowledged as durable (it may have been applied; its audit events stay queued in order and are written once the store is back), or an audit event of the change was dropped because the audit queue was full after a long outage (an `audit.dropped` event with the count is stored instead).', fix: 'Check the database; retry the request once `/readyz` is ready; the log names the cause.' },
  'audit.chain-broken': { status: 500, meaning: 'The audit hash chain does not verify: a row was changed, removed or inserted.', fix: 'Investigate tampering; restore from backup.' },
  'audit.head-forged': { status: 500, meaning: 'The recorded head of the audit chain (audit_head) is not authenticated by the audit key: its MAC is missing or does not verify, so the chain up to it may have been rewritten and its hashes recomputed by someone with write access to the database.', fix: 'Investigate tampering: compare the trail with a head recorded outside the database and restore audit_log and audit_head from a backup taken before the change. A node of a version before migration 0015 that appended also leaves the head without a MAC: stop such nodes before upgraded ones start.' },
  'audit.trail-missing': { status: 500, meaning: 'The audit trail was deleted: it has no row and no recorded head (audit_head), or it is empty while the store holds apps, users or other objects whose creation is audited.', fix: 'Investigate tampering; restore the audit_log and audit_head tables from backup.' },
  'audit.rolled-back': { status: 500, meaning: 'The audit trail no longer holds the newest event this node saw committed (its anchor, the file `audit.anchorFile`, by default `audit.anchor` in the config directory): the trail ends before it, or has another event at its seq. The database was restored from an older copy, or its newest events were removed (together with the recorded head, so that the shorter chain verifies on its own). The node refuses to start; `audit verify` reports it too. The message names both seqs and the hash the node saw.', fix: 'If the database was not restored on purpose, investigate: events (and the changes they record) were removed. After a legitimate restore from backup, start the node once with `portcullis start --accept-audit-rollback`: it audits `audit.rollback-accepted` naming both seqs and rewrites the anchor.' },
  'audit.anchor-invalid': { status: 500, meaning: 'The audit anchor (`audit.anchorFile`, by default `audit.anchor` in the config directory) cannot be trusted: it is not an anchor file (damaged or edited), its HMAC does not verify (altered or forged), it was written under another audit key than this database\'s (another deployment\'s database, or a copy made before its audit key), or it cannot be read. The node cannot tell whether the database was rolled back, so it refuses to start.', fix: 'Investigate who changed the file or the database. If the database is as it should be, start the node once with `portcullis start --accept-audit-rollback`: it audits `audit.anchor-replaced` and writes a new anchor.' },
  'audit.anchor-unwritable': { status: 500, meaning: 'The node could not write its audit anchor (`audit.anchorFile`, by default `audit.anchor` in the config directory) at start, or make its directory, so it could not record which audit events it has seen; it refuses to start rather than run with an anchor that stays behind. The usual cause is a config directory mounted read-only (a Kubernetes ConfigMap or Secret: `read-only file system (EROFS)`).', fix: 'Set `audit.anchorFile` (`PORTCULLIS_AUDIT__ANCHOR_FILE`) to a file on a volume the node can write and keeps across restarts (one per node), or make the directory writable by the node (and free disk space); the message names the file and the cause.' },
  // certificate authority (pki/)
  'pki.ca-not-found': { status: 500, meaning: 'The certificate authority (root or issuing intermediate) is not initialised or its key is not available online.', fix: 'Run `portcullis init`, or import the CA; an offline root key must be brought online to sign an intermediate.' },
  'pki.ca-invalid': { status: 400, meaning: 'An imported CA certificate or key is unusable (not a CA, key does not match, unsupported algorithm, expired).', fix: 'Import an EC P-256/P-384 CA certificate with basicConstraints cA=TRUE and keyCertSign, and its matching private key.' },
  'pki.csr-invalid': { status: 400, meaning: 'The certificate signing request is malformed, its signature does not verify, or its key type is not accepted.', fix: 'Send a PKCS#10 CSR (PEM) signed by an EC P-256/P-384 key (named curve), an RSA key of 2048 bits or more (a multiple of 8) with public exponent 65537, or an Ed25519 key.' },
  'pki.name-not-permitted': { status: 400, meaning: 'A requested certificate name is malformed or outside what the profile or the CA name constraints permit.', fix: 'Request names inside the trust domain; client certificates are bound to an existing app id.' },
  'pki.renewal-denied': { status: 401, meaning: 'Renewal must be authenticated by a current, unexpired, unrevoked certificate of this CA for the same subject.', fix: 'Renew before the certificate expires, presenting it (and its key); otherwise request a new certificate.' },
  'pki.crl-contended': { status: 503, meaning: 'A new CRL of a CA could not be published: it is built and signed holding no store lock and published only if nothing changed meanwhile, and on each of 5 tries a certificate of the CA was revoked or a CRL number taken (by this or another node) while it was signed. Nothing was published; a request for the CRL that needed a new one is answered with this error (a revocation itself stands).', fix: 'Retry shortly; it passes once revocations of that CA pause for the time a CRL takes to sign. If it persists, look for a job revoking certificates of that CA without pause.' },
  // certificate verification (client certificates, chains)
  'cert.missing': { status: 401, meaning: 'The route requires a client certificate (mutual TLS) and the TLS handshake presented none.', fix: 'Connect with the app client certificate and key (e.g. `curl --cert app.pem --key app.key`).' },
  'cert.app-not-allowed': { status: 403, meaning: 'The client certificate is valid but bound to an app that does not exist (any more) or is disabled.', fix: 'Enable the app, or use a certificate of an active app.' },
  'cert.malformed': { status: 401, meaning: 'The certificate (or one in its chain) cannot be parsed or violates DER/X.509 encoding rules.', fix: 'Use a certificate issued by a conforming CA.' },
  'cert.untrusted': { status: 401, meaning: 'No path leads from the certificate to a trusted anchor (another CA, self-signed, or a missing intermediate).', fix: 'Use a certificate issued by the Portcullis CA and send the intermediate with it.' },
  'cert.invalid-signature': { status: 401, meaning: 'A signature in the certificate chain does not verify.', fix: 'Use an unmodified certificate.' },
  'cert.expired': { status: 401, meaning: 'A certificate in the chain has expired.', fix: 'Renew the certificate.' },
  'cert.not-yet-valid': { status: 401, meaning: 'A certificate in the chain is not valid yet.', fix: 'Check clocks, or wait until notBefore.' },
  'cert.revoked': { status: 401, meaning: 'A certificate in the chain has been revoked (CRL or OCSP).', fix: 'Request a new certificate.' },
  'cert.revocation-unknown': { status: 401, meaning: 'The revocation status of a certificate could not be determined, so it was refused (fail closed).', fix: 'Retry later; operators check the CRL/OCSP source.' },
  'cert.wrong-usage': { status: 401, meaning: 'The certificate is not for this use (e.g. a server certificate presented as a client certificate: EKU or key usage).', fix: 'Present a client certificate (EKU clientAuth).' },
  'cert.not-a-ca': { status: 401, meaning: 'A certificate used as an issuer is not a CA (basicConstraints, keyCertSign) or its path length is exceeded.', fix: 'Build the chain from CA certificates only.' },
  'cert.name-constraint': { status: 401, meaning: 'A name in the certificate violates the name constraints of an issuing CA.', fix: 'Use a certificate whose names lie inside the CA name constraints.' },
  'cert.unsupported': { status: 401, meaning: 'The chain uses an unsupported critical extension, algorithm or policy constraint, or a weak key (RSA under 2048 bits or with a public exponent that is even or 1, an EC key without a named curve).', fix: 'Use a certificate issued by the Portcullis CA.' },
  'cert.name-mismatch': { status: 401, meaning: 'The certificate does not carry the expected name (DNS, IP or URI SAN).', fix: 'Use a certificate issued for this name.' },
  // store
  'listen.failed': { status: 500, meaning: 'A plane could not listen on its address (in use, not local, or not permitted).', fix: 'Free the port or change `listen.*` in portcullis.yaml.' },
  'store.unavailable': { status: 503, meaning: 'The durable store cannot be reached. On PostgreSQL, once a connect or a query has timed out or a connect failed, the store is taken for down: requests that need it are refused at once with `Retry-After` until a background probe reaches the server again (every 0.5 s). When the server answers but refuses this node, `/readyz`, the log and the start-up error give `reason`: `PG_AUTH_FAILED` (password refused, role may not log in, no pg_hba.conf entry), `PG_DATABASE_MISSING`, `PG_PERMISSION_DENIED` (no CONNECT privilege), `PG_TLS_FAILED`, `PG_TOO_MANY_CONNECTIONS`, otherwise `PG_UNREACHABLE`, with the driver code (`driverCode`: the SQLSTATE such as `28P01`, or `ECONNREFUSED`); for all but the last two the probe backs off, doubling up to every 30 s, instead of trying a failing login twice a second. At start such a failure refuses to start. At start on SQLite, also: a -wal file is next to a missing or empty database file (what is left of a database file deleted), which SQLite would delete before starting a new, empty database; the message names the files.', fix: 'Check the database and the network to it; retry after the time given. `PG_AUTH_FAILED`, `PG_DATABASE_MISSING`, `PG_PERMISSION_DENIED`, `PG_TLS_FAILED`: fix the user, password, database or TLS settings of the `store` URL (or the role on the server); a running node is let in again within 30 s, with no restart. A -wal left: put back the database file it belongs to, or move the -wal and -shm files away (not next to another copy of the database, such as a backup), and start again.' },
  'store.not-writable': { status: 503, meaning: 'Readiness only (`/readyz`): a write to the durable store failed for a reason of the storage itself (disk full, the database file or database read-only, an I/O error, the connection lost), so this node would fail sign-ins, audit appends and admin changes. `reason` names the driver code (`SQLITE_FULL`, `SQLITE_IOERR_WRITE`, `25006`…), or `PORTCULLIS_SQLITE_FILE_REPLACED` when the SQLite database file was deleted or another file renamed over it while the node ran (writes are then refused rather than written into the unlinked file, and lost at the next start), or `PORTCULLIS_SQLITE_WAL_REPLACED` when its -wal file was (SQLite would go on committing into the unlinked -wal, lost if the node then dies), or `PORTCULLIS_SQLITE_SHM_REPLACED` when its -shm file was (another process would build a WAL index of its own and overwrite the commits of this node in the -wal). A probe write is tried every 2 s while so (none otherwise); the node is ready again once a write succeeds, the probe or any other (a sign-in, an audit append, an admin change), or once PostgreSQL is reached again when the fault was only a lost connection. Requests that write meanwhile fail (`store.unavailable`, `audit.unavailable`).', fix: 'Free disk space, make the database file, its directory and its -wal and -shm files writable, or point the node at a writable (primary) PostgreSQL; nothing needs restarting. The log names the cause. `PORTCULLIS_SQLITE_FILE_REPLACED`: put the right file back at the path, or restart the node on it. `PORTCULLIS_SQLITE_WAL_REPLACED`, `PORTCULLIS_SQLITE_SHM_REPLACED`: stop the node cleanly (not `kill -9`: its clean stop writes the open -wal into the database file) and start it again.' },
  'store.migration': { status: 500, meaning: 'A schema migration failed.', fix: 'Read the cause in the log.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export interface PortcullisErrorOptions {
  /** Overrides the catalogue status. */
  status?: number;
  /** Whether the message may be shown to the client (default: status < 500). */
  expose?: boolean;
  cause?: unknown;
  /** Extra, non-secret facts for the wire (e.g. required scopes). */
  details?: Record<string, unknown>;
}

export class PortcullisError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: PortcullisErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PortcullisError';
    this.code = code;
    this.status = options.status ?? ERRORS[code].status;
    this.expose = options.expose ?? this.status < 500;
    this.details = options.details;
  }
}

export function isPortcullisError(e: unknown): e is PortcullisError {
  return e instanceof PortcullisError;
}

/**
 * The `Retry-After` value (RFC 9110 §10.2.3, whole seconds, at least 1) of a 503 whose
 * details say when the dependency may be tried again (`retryAfterMs`); undefined otherwise.
 *
 * @example
 * retryAfterSeconds(new PortcullisError('unavailable', 'x', { details: { retryAfterMs: 2500 } })); // '3'
 */
export function retryAfterSeconds(err: PortcullisError): string | undefined {
  const ms = err.details?.['retryAfterMs'];
  if (err.status !== 503 || typeof ms !== 'number' || !Number.isFinite(ms)) return undefined;
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

const FS_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on the device',
  EFBIG: 'file size limit exceeded',
  EROFS: 'read-only file system',
};

/**
 * A file-system error as a short text without the path (the caller names it):
 * `is a directory (EISDIR)`.
 */
export function fsErrorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string') return 'cannot be accessed';
  return `${FS_ERRORS[code] ?? 'cannot be accessed'} (${code})`;
}

/** Wraps anything thrown into a PortcullisError without leaking its text to clients. */
export function toPortcullisError(e: unknown): PortcullisError {
  if (e instanceof PortcullisError) return e;
  return new PortcullisError('internal', 'internal error', { cause: e, expose: false });
}
