/**
 * Mounts OpenID Connect (oidc-provider) and the sign-in pages on the identity plane's
 * fastify instance, under the same issuer. The token, revocation and introspection
 * endpoints are shared with Portcullis's own client-credentials code
 * (docs/decisions/0004-oidc-provider.md): `grant_type=client_credentials` and JWT
 * access tokens stay with TokenService; authorization_code, refresh_token and opaque
 * or refresh tokens go to oidc-provider. Discovery is one document for both.
 */
import { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DurableAuditSink } from '../audit/sink.js';
import { textControlCharacter } from '../core/control-chars.js';
import { PortcullisError, retryAfterSeconds } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OidcService } from '../identity/oidc/provider.js';
import { checkClientId, checkClientIds } from '../tokens/client-id.js';
import { OIDC_ROUTES, ACCOUNT_SIGNED_IN_PATH, ACR_MFA, ACR_SINGLE_FACTOR, recordedAuditEvents } from '../identity/oidc/provider.js';
import { ASSET_PATH, PAGE_HEADERS, WEBAUTHN_SCRIPT, page } from '../identity/pages/html.js';
import type { Outcome, SignInPages } from '../identity/pages/sign-in.js';
import { ACCOUNT_PATH, type AccountPages } from '../identity/pages/account.js';
import { INVITE_PATH, type InvitePages } from '../identity/pages/invite-pages.js';
import type { Page } from '../identity/pages/html.js';
import { clientAddress } from './client-address.js';
import { problem } from './wire-errors.js';

export interface MountOidcOptions {
  /** Portcullis's own metadata (discoveryDocument(issuer)); OIDC entries are added to it. */
  baseMetadata: Record<string, unknown>;
  /** Where unexpected page failures are logged (never with secrets). */
  logger?: Logger;
  /** The account pages (`/account`); not served when absent. */
  account?: AccountPages;
  /** The invite page (`/account/invite/:token`); not served when absent. */
  invitePages?: InvitePages;
  /**
   * Whether a client id names an app that signs users in (authorization code or refresh
   * token grants). Only such apps' non-JWT tokens are revoked or introspected by
   * oidc-provider; every other request stays with Portcullis's endpoints.
   */
  isOidcClient?: (clientId: string) => boolean;
  /**
   * The audit trail: a change oidc-provider makes (a revocation, a logout) answers only
   * once its events are stored, as TokenService's does (503 `audit.unavailable` when they cannot be).
   */
  audit?: DurableAuditSink;
}

/** oidc-provider routes that answer a browser with a page (the others answer apps with JSON). */
const PAGE_ROUTES: ReadonlySet<string> = new Set(['authorization', 'resume', 'end_session', 'end_session_confirm', 'end_session_success']);

/**
 * A change oidc-provider acknowledges is audited first, as TokenService's revocation and the
 * admin API are: an answer of a request that recorded audit events (the `token.revoked`
 * events of a grant it revoked: RFC 7009 revocation of a refresh or opaque token, a logout)
 * goes out once they are stored; when they cannot be, 503 `audit.unavailable` (problem+json
 * for apps, a page for browsers), the change made all the same. A refusal that revoked a
 * grant (a replayed code or refresh token) also waits for its events, its answer unchanged.
 */
function auditedFirst(audit: DurableAuditSink) {
  return async (ctx: any, next: () => Promise<void>): Promise<void> => {
    await next();
    if (!recordedAuditEvents(ctx)) return;
    if (ctx.status >= 400) {
      await audit.flush().catch(() => undefined);
      return;
    }
    try {
      await audit.flush();
    } catch (e) {
      ctx.remove('location');
      if (PAGE_ROUTES.has(String(ctx.oidc?.route))) {
        const signOut = String(ctx.oidc?.route).startsWith('end_session');
        const p = page(signOut ? 'Sign-out problem' : 'Sign-in problem', '', { status: 503, error: signOut ? 'You are signed out, but this could not be recorded yet; do not repeat it.' : 'This was done, but could not be recorded yet; do not repeat it.' });
        ctx.status = p.status;
        ctx.body = p.html;
        ctx.set(PAGE_HEADERS);
        return;
      }
      const wire = problem(e);
      ctx.status = wire.status;
      ctx.body = JSON.stringify(wire.body);
      ctx.set(wire.headers);
    }
  };
}

/** The OIDC entries of the discovery document. */
export function oidcMetadata(issuer: string): Record<string, unknown> {
  const base = issuer.replace(/\/$/, '');
  return {
    authorization_endpoint: `${base}${OIDC_ROUTES.authorization}`,
    userinfo_endpoint: `${base}${OIDC_ROUTES.userinfo}`,
    end_session_endpoint: `${base}${OIDC_ROUTES.end_session}`,
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'form_post'],
    grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'offline_access', 'email'],
    claims_supported: ['sub', 'email', 'email_verified', 'acr', 'amr', 'auth_time', 'iss', 'aud', 'exp', 'iat', 'nonce', 'sid'],
    acr_values_supported: [ACR_SINGLE_FACTOR, ACR_MFA],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    claims_parameter_supported: false,
  };
}

/**
 * The request again, with the body this plane already read (oidc-provider reads the body
 * itself; handed a consumed stream, it falls back to `req.body` with a console warning).
 */
function replayed(raw: IncomingMessage, body: string): IncomingMessage {
  const m = new IncomingMessage(raw.socket);
  m.method = raw.method;
  m.url = raw.url;
  m.httpVersion = raw.httpVersion;
  m.httpVersionMajor = raw.httpVersionMajor;
  m.httpVersionMinor = raw.httpVersionMinor;
  m.headers = raw.headers;
  m.rawHeaders = raw.rawHeaders;
  m.push(Buffer.from(body, 'utf8'));
  m.push(null);
  m.complete = true;
  return m;
}

/** The `sub` of a JWT's payload, unverified; undefined when absent or not a JWT. */
function subjectOf(jwt: string | undefined): string | undefined {
  if (jwt === undefined) return undefined;
  try {
    const sub = (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown } | null)?.sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

function formOf(req: FastifyRequest): Record<string, string> {
  const body = typeof req.body === 'string' ? req.body : '';
  return Object.fromEntries(new URLSearchParams(body));
}

/**
 * The form of a sign-in or account page; a field with a control character other than TAB,
 * LF or CR (DEL and C1 included) is refused, 400 `request.invalid` naming the field, as
 * the admin API refuses one in its JSON bodies.
 */
function pageFormOf(req: FastifyRequest): Record<string, string> {
  const form = formOf(req);
  for (const [name, value] of Object.entries(form)) {
    const badName = textControlCharacter(name);
    const why = badName ?? textControlCharacter(value);
    if (why !== undefined) throw new PortcullisError('request.invalid', `${badName !== undefined ? 'a field name' : name}: ${why}`);
  }
  return form;
}

/**
 * @example
 * const app = buildIdentityPlane(deps);
 * mountOidc(app, oidc, pages, { baseMetadata: discoveryDocument(config.issuer) });
 */
/** `headers` with the `Retry-After` of a page or JSON answering a refusal that says when to come back (html.ts `refusal`). */
function withRetryAfter(headers: Readonly<Record<string, string>>, retryAfter: string | undefined): Record<string, string> {
  return retryAfter === undefined ? { ...headers } : { ...headers, 'retry-after': retryAfter };
}

export function mountOidc(app: FastifyInstance, oidc: OidcService, pages: SignInPages, opts: MountOidcOptions): void {
  if (opts.audit) oidc.use(auditedFirst(opts.audit));
  const handOver = (req: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    oidc.provider.callback()(typeof req.body === 'string' ? replayed(req.raw, req.body) : req.raw, reply.raw);
  };

  const oidcMeta = oidcMetadata(String(opts.baseMetadata['issuer']));
  const union = (key: string): string[] => [...new Set([...((opts.baseMetadata[key] as string[] | undefined) ?? []), ...((oidcMeta[key] as string[] | undefined) ?? [])])];
  const metadata = {
    ...opts.baseMetadata,
    ...oidcMeta,
    grant_types_supported: union('grant_types_supported'),
    token_endpoint_auth_methods_supported: union('token_endpoint_auth_methods_supported'),
  };
  /** The client id of a Basic Authorization header, else the form's `client_id` (when a form is given). */
  const callerId = (req: FastifyRequest, form: Record<string, string> | undefined): string | undefined => {
    const auth = req.headers.authorization;
    if (auth && /^basic /i.test(auth)) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      try {
        return i > 0 ? decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' ')) : undefined;
      } catch {
        return undefined;
      }
    }
    return form?.['client_id'];
  };
  const tokenPaths = new Set<string>([OIDC_ROUTES.token, OIDC_ROUTES.revocation, OIDC_ROUTES.introspection]);
  app.addHook('preHandler', async (req, reply) => {
    const path = req.routeOptions.url;
    if (path === '/.well-known/openid-configuration' || path === '/.well-known/oauth-authorization-server') {
      return reply.header('cache-control', 'public, max-age=300').send(metadata);
    }
    if (req.method !== 'POST' || path === undefined || !tokenPaths.has(path)) return;
    // RFC 6749 §5.2: a malformed client id is invalid_request, before any client lookup
    // (here, in oidc-provider, or in TokenService, which checks the form's again).
    checkClientIds(req.headers.authorization, {});
    if (path === OIDC_ROUTES.token) {
      // oidc-provider serves the grants of users' sign-ins to the apps that sign users in; every
      // other grant (a missing or unknown one: invalid_request / unsupported_grant_type), and
      // those grants asked for by any other caller, stay with TokenService, which authenticates
      // the caller and answers unauthorized_client (RFC 6749 §5.2) to an app without them.
      const form = formOf(req);
      const grant = form['grant_type'];
      if (grant === 'authorization_code' || grant === 'refresh_token') {
        checkClientId(form['client_id'], 'client_id');
        const assertionSub = form['client_id'] === undefined ? subjectOf(form['client_assertion']) : undefined;
        checkClientId(assertionSub, 'the sub of client_assertion');
        const caller = callerId(req, form) ?? assertionSub;
        if (caller !== undefined && opts.isOidcClient !== undefined && !opts.isOidcClient(caller)) return;
        handOver(req, reply);
        return reply;
      }
      return;
    }
    // Revocation and introspection: JWT access tokens are Portcullis's; refresh and opaque tokens
    // of sign-in apps are oidc-provider's. A Basic-authenticated caller that is not a sign-in app
    // (every resource server) stays with TokenService without the body being parsed here.
    const basicCaller = callerId(req, undefined);
    if (basicCaller !== undefined && !(opts.isOidcClient?.(basicCaller) ?? false)) return;
    const form = formOf(req);
    checkClientId(form['client_id'], 'client_id');
    // RFC 7523 §3: with a client assertion, client_id may be left out and the assertion's
    // sub names the client. Unverified, it only routes: whoever serves the request verifies it.
    const assertionSub = form['client_id'] === undefined ? subjectOf(form['client_assertion']) : undefined;
    checkClientId(assertionSub, 'the sub of client_assertion');
    const caller = basicCaller ?? form['client_id'] ?? assertionSub;
    const token = form['token'] ?? '';
    const oidcCaller = caller !== undefined && (opts.isOidcClient?.(caller) ?? false);
    // RFC 7009 §2.1: the hint "MAY" help the search but must not restrict it, so the token's
    // shape decides: a JWT (three dot-separated parts) is Portcullis's whatever the hint says.
    if (oidcCaller && token.split('.').length !== 3) {
      handOver(req, reply);
      return reply;
    }
    return;
  });

  const providerPaths = [OIDC_ROUTES.authorization, OIDC_ROUTES.userinfo, OIDC_ROUTES.end_session];
  for (const p of providerPaths) {
    app.route({ method: ['GET', 'POST'], url: p, handler: async (req, reply) => handOver(req, reply) });
    app.route({
      method: ['GET', 'POST'],
      url: `${p}/*`,
      handler: async (req, reply) => {
        if (p === OIDC_ROUTES.authorization) {
          // the resume of a finished sign-in: only in the browser that signed in (signin-browser.ts)
          try {
            await pages.resumeAllowed(req.raw, reply.raw, clientAddress(req));
          } catch (e) {
            return fail(reply, e);
          }
        }
        handOver(req, reply);
      },
    });
  }

  const send = async (reply: FastifyReply, out: Outcome): Promise<void> => {
    if ('done' in out) return;
    if ('json' in out) {
      await reply.code(out.status ?? 200).headers(withRetryAfter({ 'cache-control': 'no-store' }, out.retryAfter)).send(out.json);
      return;
    }
    await reply.code(out.page.status).headers(withRetryAfter(PAGE_HEADERS, out.page.retryAfter)).send(out.page.html);
  };
  const fail = async (reply: FastifyReply, e: unknown): Promise<void> => {
    if (reply.sent || reply.raw.headersSent) return;
    const known = e instanceof PortcullisError;
    const name = (e as { name?: string } | undefined)?.name;
    // oidc-provider: the interaction cookie is missing or expired.
    const status = known ? e.status : name === 'SessionNotFound' ? 400 : 500;
    const message = known && e.expose ? e.message : name === 'SessionNotFound' ? 'This sign-in has expired or was started in another browser; go back to the app and start again.' : 'Something went wrong.';
    if (status >= 500) opts.logger?.error({ err: e }, 'sign-in page failed');
    const retryAfter = known ? retryAfterSeconds(e) : undefined;
    if (retryAfter !== undefined) reply.header('retry-after', retryAfter);
    const accept = String(reply.request.headers['accept'] ?? '');
    if (accept.includes('application/json') || reply.request.url.includes('/webauthn/') || reply.request.url.includes('/passkey/')) {
      await reply.code(status).headers({ 'cache-control': 'no-store' }).send({ error: message, code: known ? e.code : 'internal' });
      return;
    }
    const p = page('Sign-in problem', '', { status, error: message });
    await reply.code(status).headers(PAGE_HEADERS).send(p.html);
  };

  const show = async (reply: FastifyReply, run: () => Promise<Page>): Promise<void> => {
    try {
      const p = await run();
      await reply.code(p.status).headers(withRetryAfter(PAGE_HEADERS, p.retryAfter)).send(p.html);
    } catch (e) {
      await fail(reply, e);
    }
  };
  const account = opts.account;
  if (account) {
    app.get(ACCOUNT_PATH, async (req, reply) => show(reply, () => account.show(req.raw, reply.raw)));
    app.post(`${ACCOUNT_PATH}/*`, async (req, reply) => {
      try {
        const out = await account.post(req.raw, reply.raw, (req.params as Record<string, string>)['*'] ?? '', pageFormOf(req), clientAddress(req));
        if ('json' in out) await reply.code(out.status ?? 200).headers(withRetryAfter({ 'cache-control': 'no-store' }, out.retryAfter)).send(out.json);
        else await reply.code(out.status).headers(withRetryAfter(PAGE_HEADERS, out.retryAfter)).send(out.html);
      } catch (e) {
        await fail(reply, e);
      }
    });
    // The end of the account page's own sign-in (OidcService.accountSignInUrl): always back to
    // the account page, whatever the query says (an error, a state: nothing is read from it).
    app.get(ACCOUNT_SIGNED_IN_PATH, async (_req, reply) => reply.code(303).headers({ location: ACCOUNT_PATH, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).send());
  }
  const invitePages = opts.invitePages;
  if (invitePages) {
    app.get(`${INVITE_PATH}/:token`, async (req, reply) => show(reply, () => invitePages.show((req.params as Record<string, string>)['token'] ?? '')));
    app.post(`${INVITE_PATH}/:token`, async (req, reply) => show(reply, () => invitePages.redeem((req.params as Record<string, string>)['token'] ?? '', pageFormOf(req))));
  }

  app.get(ASSET_PATH, async (_req, reply) =>
    reply.headers({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' }).send(WEBAUTHN_SCRIPT),
  );
  app.get('/interaction/:uid', async (req, reply) => {
    try {
      await send(reply, await pages.show(req.raw, reply.raw, (req.params as Record<string, string>)['uid'] ?? '', clientAddress(req)));
    } catch (e) {
      await fail(reply, e);
    }
  });
  app.get('/interaction/:uid/recovery', async (req, reply) => {
    try {
      await send(reply, await pages.recovery(req.raw, reply.raw, (req.params as Record<string, string>)['uid'] ?? '', clientAddress(req)));
    } catch (e) {
      await fail(reply, e);
    }
  });
  app.post('/interaction/:uid/*', async (req, reply) => {
    try {
      const params = req.params as Record<string, string>;
      await send(reply, await pages.post(req.raw, reply.raw, params['uid'] ?? '', params['*'] ?? '', pageFormOf(req), clientAddress(req)));
    } catch (e) {
      await fail(reply, e);
    }
  });
}
