/**
 * fetch for a test node's own planes. A node may serve HTTPS with a certificate from its
 * own fresh CA (tls.mode auto); these tests are about transit and encryption, not TLS,
 * so for https://127.0.0.1 URLs they skip certificate verification (TLS is tested in pki/).
 */
import { Agent, fetch as undiciFetch } from 'undici';

const loopbackTls = new Agent({ connect: { rejectUnauthorized: false } });

export const localFetch: typeof fetch = ((input: string | URL | Request, init?: RequestInit) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (!url.startsWith('https://')) return fetch(input, init);
  return undiciFetch(url, { ...(init as object), dispatcher: loopbackTls } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}) as typeof fetch;
