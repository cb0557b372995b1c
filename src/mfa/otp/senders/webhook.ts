/**
 * SMS (or any channel) through an HTTP webhook: POSTs the message as JSON to the
 * provider's endpoint (or a bridge in front of it) with a timeout. A 2xx answer is a
 * hand-over; anything else, a network error or the timeout is `mfa.delivery-failed`.
 *
 * Body: `{"channel","to","text","code","purpose","expiresAt"}`.
 *
 * With a signer (the node always gives one: the key ring's, as for event webhooks,
 * webhooks/sign.ts), each POST is signed with RFC 9421 over `@method`, `@target-uri`,
 * `content-digest` (RFC 9530) and `content-type`, with a fresh `nonce` and tag
 * `portcullis-otp` (never the event webhooks' `portcullis-webhook`, whatever signer it
 * is given: an event receiver must not take a code message, nor the bridge an event),
 * so the provider's bridge verifies it with the identity plane's JWKS (the SDK's
 * `verifyWebhook(request, { tag: OTP_TAG, … })`, which also refuses a replay) and can
 * refuse a forged request to text a code to a number.
 *
 * Credentials in the URL (`https://user:pass@host/…`) are sent as `Authorization: Basic`
 * (RFC 7617) unless an Authorization header is configured: fetch refuses a URL that holds
 * them, and its error quotes the whole URL, password included. Configuration refuses an
 * `http:` URL unless its host is a loopback IP literal or `identity.otp.webhook.allowInsecureHttp`
 * is set (core/config/schema.ts, with the event webhooks' rule, webhooks/plain-http.ts); one
 * to a host that is not loopback is still logged as a warning when the sender is built:
 * codes and provider credentials cross the network in clear. Extra headers are checked as
 * the configuration checks them (core/config/http-headers.ts), also for a sender built in
 * code: `config.invalid` naming the header, never its value; so are the URL's credentials
 * (percent-encoded UTF-8, core/config/service-urls.ts), never quoting the URL.
 */
import { headerProblems, type OwnFields } from '../../../core/config/http-headers.js';
import { userinfoProblem } from '../../../core/config/service-urls.js';
import { PortcullisError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { sentTargetUri } from '../../../signatures/target-uri.js';
import type { WebhookSigner } from '../../../webhooks/sign.js';
import { OTP_TAG } from '../../../webhooks/tags.js';
import { isLoopbackHost } from './loopback.js';
import type { OtpMessage, OtpSender } from './sender.js';

/** What the sender sets on every POST (the signer's fields, webhooks/sign.ts, and Accept): never taken from `headers`. */
export const OTP_WEBHOOK_OWN_FIELDS: OwnFields = {
  names: ['content-type', 'content-digest', 'signature', 'signature-input', 'accept', 'user-agent'],
  reason: "set by the OTP webhook sender (the JSON body's type, its RFC 9421 signature and Content-Digest, Accept and User-Agent): a configured value would be replaced",
};

export interface WebhookSenderOptions {
  url: string;
  /** Extra headers, e.g. `Authorization: Bearer …` for the provider. */
  headers?: Record<string, string>;
  /** Default 5 s. */
  timeoutMs?: number;
  /** Signs each POST (RFC 9421 + Content-Digest); without one the body goes unsigned (tests). */
  signer?: WebhookSigner;
  /** Injected for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
  /** Where the plaintext warning goes (default: a process warning). */
  logger?: Logger;
}

export class WebhookSender implements OtpSender {
  readonly id = 'webhook';
  private readonly target: string;
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: WebhookSenderOptions) {
    // never new URL() alone: its TypeError carries the URL, credentials included, as `input`
    if (!URL.canParse(options.url)) throw new PortcullisError('config.invalid', 'the OTP webhook URL cannot be parsed');
    const u = new URL(options.url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new PortcullisError('config.invalid', 'the OTP webhook URL must be http(s)');
    // checked here too for a sender built in code: decodeURIComponent below throws a raw URIError
    const userinfo = userinfoProblem(u);
    if (userinfo !== undefined) throw new PortcullisError('config.invalid', `the OTP webhook URL: ${userinfo}`);
    this.target = u.origin;
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
      const msg = 'OTP webhook over http: one-time codes and the provider credentials go in clear';
      if (options.logger) options.logger.warn({ target: this.target }, msg);
      else process.emitWarning(`${msg} (${this.target})`, { code: 'PORTCULLIS_WEBHOOK_PLAINTEXT' });
    }
    // checked here too for a sender built in code: new Headers() throws a TypeError quoting the value
    const [problem] = headerProblems(options.headers ?? {}, OTP_WEBHOOK_OWN_FIELDS);
    if (problem !== undefined) throw new PortcullisError('config.invalid', problem.name === undefined ? `the OTP webhook headers: ${problem.message}` : `the OTP webhook header ${problem.name}: ${problem.message}`);
    this.headers = { ...options.headers };
    if (u.username !== '' || u.password !== '') {
      const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
      if (!Object.keys(this.headers).some((h) => h.toLowerCase() === 'authorization')) this.headers['authorization'] = `Basic ${basic}`;
      u.username = '';
      u.password = '';
    }
    // signed as sent: the target URI the receiver rebuilds from the request line
    this.url = sentTargetUri(u.href);
  }

  async send(m: OtpMessage): Promise<void> {
    const body = new TextEncoder().encode(JSON.stringify({ channel: m.channel, to: m.to, text: m.text, code: m.code, purpose: m.purpose, expiresAt: m.expiresAt }));
    const headers = new Headers(this.headers);
    (await this.signed(body)).forEach((v, k) => headers.set(k, v));
    headers.set('accept', 'application/json');
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(this.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      });
    } catch (e) {
      const timedOut = e instanceof Error && e.name === 'TimeoutError';
      throw new PortcullisError('mfa.delivery-failed', `the OTP webhook at ${this.target} ${timedOut ? 'timed out' : 'could not be reached'}`, {
        cause: e,
        details: { timedOut },
      });
    }
    await res.body?.cancel().catch(() => undefined);
    if (!res.ok) {
      throw new PortcullisError('mfa.delivery-failed', `the OTP webhook at ${this.target} answered ${res.status}`, { details: { status: res.status } });
    }
  }

  /** Content-Type, and with a signer Content-Digest, Signature-Input and Signature; a key that cannot sign sends nothing. */
  private async signed(body: Uint8Array): Promise<Headers> {
    if (!this.options.signer) return new Headers({ 'content-type': 'application/json' });
    try {
      return await this.options.signer.signedHeaders(this.url, body, OTP_TAG);
    } catch (e) {
      throw new PortcullisError('mfa.delivery-failed', `the request to the OTP webhook at ${this.target} could not be signed`, { cause: e });
    }
  }
}
