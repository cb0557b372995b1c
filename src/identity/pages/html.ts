/**
 * Server-rendered page shell for sign-in, MFA and account pages: accessible HTML that
 * works without JavaScript (only WebAuthn needs the one script, served from our origin),
 * and the security headers every page carries: a CSP with `frame-ancestors 'none'`
 * (and X-Frame-Options for older browsers), no caching, no referrer.
 */
import { PortcullisError, retryAfterSeconds } from '../../core/errors.js';
import { escapeHtml } from '../oidc/provider.js';

export { escapeHtml };

export const ASSET_PATH = '/interaction-assets/webauthn.js';

export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});

export interface Page {
  status: number;
  html: string;
  /** `Retry-After` (whole seconds) of a page answering a refusal that says when to come back (`refusal`). */
  retryAfter?: string;
}

/**
 * `answer` (a page, or the JSON of a script's call) as the answer to the refusal `e`: with
 * the `Retry-After` of a 429 or 503 that says when to come back (`retryAfterSeconds`: a
 * sign-in throttle or lock, a code sent a moment ago), RFC 6585 §4.
 *
 * @example return { page: refusal(this.loginPage(uid, csrf, messageOf(e), 429), e) };
 */
export function refusal<T extends object>(answer: T, e: unknown): T & { retryAfter?: string } {
  const retryAfter = e instanceof PortcullisError ? retryAfterSeconds(e) : undefined;
  return retryAfter === undefined ? answer : { ...answer, retryAfter };
}

/** A full page; `body` is trusted HTML (callers escape what they interpolate). */
export function page(title: string, body: string, opts: { status?: number; script?: boolean; error?: string; errorCode?: string } = {}): Page {
  const code = opts.errorCode ? ` data-code="${escapeHtml(opts.errorCode)}"` : '';
  const error = opts.error ? `<p role="alert" id="error"${code}>${escapeHtml(opts.error)}</p>` : '';
  return {
    status: opts.status ?? 200,
    html: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>${opts.script ? `<script src="${ASSET_PATH}" defer></script>` : ''}</head>
<body><main><h1>${escapeHtml(title)}</h1>${error}${body}</main></body></html>`,
  };
}

/** A POST form with its CSRF token. */
export function form(action: string, csrf: string, inner: string, attrs = ''): string {
  return `<form method="post" action="${escapeHtml(action)}"${attrs}><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">${inner}</form>`;
}

export function field(name: string, label: string, type: string, extra = ''): string {
  return `<p><label for="${name}">${escapeHtml(label)}</label><br><input id="${name}" name="${name}" type="${type}" ${extra}></p>`;
}

/** The browser side of WebAuthn: fetch options, call navigator.credentials, post the result. */
export const WEBAUTHN_SCRIPT = `'use strict';
(function () {
  const b64u = {
    enc: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''),
    dec: (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0)),
  };
  async function run(btn) {
    const csrf = btn.dataset.csrf, optionsUrl = btn.dataset.options, verifyUrl = btn.dataset.verify, mode = btn.dataset.mode;
    const out = document.getElementById('webauthn-status');
    try {
      const pw = mode === 'register' ? document.getElementById('passkey-password') : null;
      const r = await fetch(optionsUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=' + encodeURIComponent(csrf) + (pw ? '&current-password=' + encodeURIComponent(pw.value) : '') });
      if (!r.ok) { let j = {}; try { j = await r.json(); } catch (e) { /* not JSON */ } throw new Error(j.error || ('options ' + r.status)); }
      const o = await r.json();
      let cred;
      if (mode === 'register') {
        o.challenge = b64u.dec(o.challenge); o.user.id = b64u.dec(o.user.id);
        o.excludeCredentials = (o.excludeCredentials || []).map((c) => ({ ...c, id: b64u.dec(c.id) }));
        cred = await navigator.credentials.create({ publicKey: o });
      } else {
        o.challenge = b64u.dec(o.challenge);
        o.allowCredentials = (o.allowCredentials || []).map((c) => ({ ...c, id: b64u.dec(c.id) }));
        cred = await navigator.credentials.get({ publicKey: o });
      }
      const resp = { id: cred.id, rawId: b64u.enc(cred.rawId), type: cred.type, clientExtensionResults: cred.getClientExtensionResults(), response: {} };
      for (const k of ['clientDataJSON', 'attestationObject', 'authenticatorData', 'signature', 'userHandle']) if (cred.response[k]) resp.response[k] = b64u.enc(cred.response[k]);
      if (cred.response.getTransports) resp.response.transports = cred.response.getTransports();
      const name = document.getElementById('passkey-name');
      const v = await fetch(verifyUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=' + encodeURIComponent(csrf) + '&name=' + encodeURIComponent(name ? name.value : '') + '&response=' + encodeURIComponent(JSON.stringify(resp)) });
      const j = await v.json();
      if (j.redirect) window.location.assign(j.redirect); else throw new Error(j.error || 'failed');
    } catch (e) { if (out) out.textContent = 'Passkey failed: ' + e.message; }
  }
  document.addEventListener('DOMContentLoaded', () => {
    for (const b of document.querySelectorAll('button[data-mode]')) { b.hidden = false; b.addEventListener('click', (ev) => { ev.preventDefault(); run(b); }); }
  });
})();
`;
