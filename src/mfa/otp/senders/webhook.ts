/**
 * SMS (or any channel) through an HTTP webhook: POSTs the message as JSON to the
 * provider's endpoint (or a bridge in front of it) with a timeout. A 2xx answer is a
 * hand-over; anything else, a network error or the timeout is `mfa.delivery-failed`.
 *
 * Body: `{"channel","to","text","code","purpose","expiresAt"}`.
 */
import { PortcullisError } from '../../../core/errors.js';
import type { OtpMessage, OtpSender } from './sender.js';

export interface WebhookSenderOptions {
  url: string;
  /** Extra headers, e.g. `Authorization: Bearer …` for the provider. */
  headers?: Record<string, string>;
  /** Default 5 s. */
  timeoutMs?: number;
  /** Injected for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

export class WebhookSender implements OtpSender {
  readonly id = 'webhook';
  private readonly target: string;

  constructor(private readonly options: WebhookSenderOptions) {
    const u = new URL(options.url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new PortcullisError('config.invalid', 'the OTP webhook URL must be http(s)');
    this.target = u.origin;
  }

  async send(m: OtpMessage): Promise<void> {
    const body = JSON.stringify({ channel: m.channel, to: m.to, text: m.text, code: m.code, purpose: m.purpose, expiresAt: m.expiresAt });
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(this.options.url, {
        method: 'POST',
        headers: { ...this.options.headers, 'content-type': 'application/json', accept: 'application/json' },
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
}
