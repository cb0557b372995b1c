/**
 * A transit client for apps, on web standards only: encryption as a service on the
 * identity plane (`<issuer>/transit/v1/<op>/<name>`) with an access token scoped
 * `transit:<op>:<name>` for the audience `portcullis-transit`. Bytes are passed as
 * Uint8Array or text; values (`pc:v<n>:…`) are strings to store as they are.
 */
import { ERRORS, PortcullisError, type ErrorCode } from '../core/errors.js';

export interface TransitClientOptions {
  /** The identity plane base URL (the issuer), or the admin plane with `prefix: '/v1/transit'`. */
  baseUrl: string;
  /** An access token (called per request; cache it, e.g. with `getToken` of this SDK). */
  getToken: () => string | Promise<string>;
  /** Path prefix of the operations (default `/transit/v1`). */
  prefix?: string;
  fetch?: typeof fetch;
}

type Bytes = Uint8Array | string;

function toB64(b: Bytes): string {
  const bytes = typeof b === 'string' ? new TextEncoder().encode(b) : b;
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function fromB64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export interface TransitClient {
  encrypt(name: string, plaintext: Bytes, opts?: { context?: Bytes; keyVersion?: number }): Promise<string>;
  decrypt(name: string, ciphertext: string, opts?: { context?: Bytes }): Promise<Uint8Array>;
  rewrap(name: string, ciphertext: string, opts?: { context?: Bytes; keyVersion?: number }): Promise<string>;
  /** `type: 'plaintext'` (default) returns the key too; `'wrapped'` only its ciphertext. */
  datakey(name: string, opts?: { type?: 'plaintext' | 'wrapped'; bits?: 128 | 256 | 512; context?: Bytes }): Promise<{ ciphertext: string; keyVersion: number; plaintext?: Uint8Array }>;
  sign(name: string, input: Bytes, opts?: { keyVersion?: number }): Promise<string>;
  verify(name: string, input: Bytes, signature: string): Promise<boolean>;
  hmac(name: string, input: Bytes, opts?: { algorithm?: 'sha2-256' | 'sha2-512'; keyVersion?: number }): Promise<string>;
  verifyHmac(name: string, input: Bytes, hmac: string, opts?: { algorithm?: 'sha2-256' | 'sha2-512' }): Promise<boolean>;
  /** Raw call with batch input: `{ batch_input: [...] }` → `{ batch_results: [...] }`. */
  batch(op: 'encrypt' | 'decrypt' | 'rewrap' | 'datakey' | 'sign' | 'verify' | 'hmac', name: string, items: Array<Record<string, unknown>>): Promise<Array<Record<string, unknown>>>;
}

/**
 * @example
 * const transit = createTransitClient({ baseUrl: 'https://id.example', getToken: () => getToken({ ... }) });
 * const ct = await transit.encrypt('orders-db', card, { context: `order:${id}` });
 */
export function createTransitClient(opts: TransitClientOptions): TransitClient {
  const base = opts.baseUrl.replace(/\/$/, '') + (opts.prefix ?? '/transit/v1');
  const doFetch = opts.fetch ?? fetch;
  const call = async (op: string, name: string, body: Record<string, unknown>): Promise<Record<string, any>> => {
    const res = await doFetch(`${base}/${op}/${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await opts.getToken()}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json().catch(() => undefined)) as Record<string, any> | undefined;
    if (!res.ok) {
      const code = (json && typeof json.code === 'string' && json.code in ERRORS ? json.code : 'internal') as ErrorCode;
      throw new PortcullisError(code, json?.detail ?? `transit ${op} answered ${res.status}`, { status: res.status });
    }
    return json ?? {};
  };
  const ctx = (o: { context?: Bytes } | undefined) => (o?.context === undefined ? {} : { context: toB64(o.context) });
  const ver = (o: { keyVersion?: number } | undefined) => (o?.keyVersion === undefined ? {} : { key_version: o.keyVersion });
  return {
    async encrypt(name, plaintext, o) {
      return (await call('encrypt', name, { plaintext: toB64(plaintext), ...ctx(o), ...ver(o) })).ciphertext;
    },
    async decrypt(name, ciphertext, o) {
      return fromB64((await call('decrypt', name, { ciphertext, ...ctx(o) })).plaintext);
    },
    async rewrap(name, ciphertext, o) {
      return (await call('rewrap', name, { ciphertext, ...ctx(o), ...ver(o) })).ciphertext;
    },
    async datakey(name, o) {
      const r = await call('datakey', name, { ...(o?.type ? { type: o.type } : {}), ...(o?.bits ? { bits: o.bits } : {}), ...ctx(o) });
      return { ciphertext: r.ciphertext, keyVersion: r.key_version, ...(r.plaintext ? { plaintext: fromB64(r.plaintext) } : {}) };
    },
    async sign(name, input, o) {
      return (await call('sign', name, { input: toB64(input), ...ver(o) })).signature;
    },
    async verify(name, input, signature) {
      return (await call('verify', name, { input: toB64(input), signature })).valid === true;
    },
    async hmac(name, input, o) {
      return (await call('hmac', name, { input: toB64(input), ...(o?.algorithm ? { algorithm: o.algorithm } : {}), ...ver(o) })).hmac;
    },
    async verifyHmac(name, input, hmac, o) {
      return (await call('verify', name, { input: toB64(input), hmac, ...(o?.algorithm ? { algorithm: o.algorithm } : {}) })).valid === true;
    },
    async batch(op, name, items) {
      return (await call(op, name, { batch_input: items })).batch_results;
    },
  };
}
