/**
 * What the RFC 8705 sign-in tests share: a no-JavaScript browser over HTTPS that trusts the
 * node's CA, the code flow through the pages up to the authorization code, and form posts to
 * the identity plane with or without a client certificate.
 */
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { Browser, actionOf, consentAndReturnTo, csrfOf } from '../support/oidc-harness.js';
import { REDIRECT } from '../support/oidc-node.js';
import { https } from './helpers.js';

/** The no-JavaScript browser of oidc-harness.ts over HTTPS, trusting `ca`. */
export class TlsBrowser extends Browser {
  private readonly jar = new Map<string, string>();

  constructor(private readonly ca: string) {
    super();
  }

  override async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (this.jar.size) headers['cookie'] = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const body = init.form ? new URLSearchParams(init.form).toString() : undefined;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await https(url, { ca: this.ca, method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, ...(body !== undefined ? { body } : {}) });
    const setCookie = r.headers['set-cookie'];
    for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const value = pair!.slice(i + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') this.jar.delete(pair!.slice(0, i));
      else this.jar.set(pair!.slice(0, i), value);
    }
    const loc = typeof r.headers['location'] === 'string' ? new URL(r.headers['location'], url).toString() : undefined;
    const h = new Headers();
    for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') h.set(k, v);
    return { status: r.status, location: loc, body: r.text, headers: h, url };
  }
}

export interface FlowTarget {
  issuer: string;
  ca: string;
  clientId: string;
  audience: string;
  email: string;
  password: string;
}

/** Signs the user in through the pages and returns the authorization code and its PKCE verifier. */
export async function authorizationCode(t: FlowTarget): Promise<{ code: string; verifier: string }> {
  const verifier = client.randomPKCECodeVerifier();
  const url = new URL(`${t.issuer}/oauth2/authorize`);
  url.search = new URLSearchParams({
    client_id: t.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid offline_access',
    resource: t.audience,
    prompt: 'login consent',
    state: client.randomState(),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  const browser = new TlsBrowser(t.ca);
  let r = await browser.follow(url.toString(), t.issuer);
  assert.match(r.body, /Sign in/, `expected the sign-in page, got ${r.status} ${r.body.slice(0, 300)}`);
  r = await browser.request(actionOf(r.body, 'login', t.issuer), { form: { csrf: csrfOf(r.body), email: t.email, password: t.password } });
  const cb = await consentAndReturnTo(browser, r, t.issuer, REDIRECT);
  return { code: cb.searchParams.get('code')!, verifier };
}

/** A form POST to the identity plane, presenting `cert` when given. */
export function postForm(t: Pick<FlowTarget, 'issuer' | 'ca'>, path: string, fields: Record<string, string>, cert?: { cert: string; key: string }) {
  return https(`${t.issuer}${path}`, {
    ca: t.ca,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    ...(cert ? { cert: cert.cert, key: cert.key } : {}),
  });
}

/** The authorization code exchanged at the token endpoint, presenting `cert` when given. */
export const exchangeCode = (t: FlowTarget, c: { code: string; verifier: string }, cert?: { cert: string; key: string }) =>
  postForm(t, '/oauth2/token', { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: REDIRECT, client_id: t.clientId, resource: t.audience }, cert);
