/**
 * A transit client for apps, on web standards only: encryption as a service on the
 * identity plane (`<issuer>/transit/v1/<op>/<name>`) with an access token scoped
 * `transit:<op>:<name>` for the audience `portcullis-transit`. Bytes are passed as
 * Uint8Array or text; values (`pc:v<n>:…`) are strings to store as they are.
 */
import { ERRORS, PortcullisError, type ErrorCode } from '../core/errors.js';
import { byteLimit, readJson } from './body.js';
import { DeadlineExceeded, withDeadline } from './deadline.js';

export interface TransitClientOptions {
  /** The identity plane base URL (the issuer), or the admin plane with `prefix: '/v1/transit'`. */
  baseUrl: string;
  /** An access token (called per request; cache it, e.g. with `getToken` of this SDK). */
  getToken: () => string | Promise<string>;
  /** Path prefix of the operations (default `/transit/v1`). */
  prefix?: string;
  fetch?: typeof fetch;
  /** The deadline of each operation's request, answer included, in milliseconds (default 10 s); a miss is `unavailable`. */
  timeoutMs?: number;
  /**
   * Most bytes of an operation's answer read (default 16 MiB, above a batch's answer to
   * the largest request a node takes); a larger answer is `unavailable`, its body cancelled.
   */
  maxResponseBytes?: number;
}

/** The default of `maxResponseBytes`. */
export const TRANSIT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

type Bytes = Uint8Array | string;

function toB64(b: Bytes): string {
  const bytes = typeof b === 'string' ? new TextEncoder().encode(b) : b;
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** `pc:v<version>:<base64>` as transit makes it (the server parses it strictly). */
const VALUE = /^pc:v[1-9][0-9]{0,9}:[A-Za-z0-9+/]+={0,2}$/;

const isB64 = (v: unknown): v is string => typeof v === 'string' && v.length % 4 === 0 && B64.test(v);
const isValue = (v: unknown): v is string => typeof v === 'string' && VALUE.test(v) && (v.length - v.indexOf(':', 4) - 1) % 4 === 0;
const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

/**
 * A 200 that is not the operation's result (a wrong base URL, a proxy's page, a changed
 * answer) is an error, never a value: an app would store `undefined` as its ciphertext.
 */
function invalidAnswer(op: string, what: string): PortcullisError {
  return new PortcullisError('unavailable', `transit ${op} answered without a valid ${what}`);
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
  const maxBytes = byteLimit('maxResponseBytes', opts.maxResponseBytes, TRANSIT_MAX_RESPONSE_BYTES);
  const call = async (op: string, name: string, body: Record<string, unknown>): Promise<Record<string, any>> => {
    const authorization = `Bearer ${await opts.getToken()}`;
    const { res, json } = await withDeadline(opts.timeoutMs, async (signal) => {
      const res = await doFetch(`${base}/${op}/${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
      // fail closed: an answer too large to read is no answer, whatever its status
      const tooLarge = () => new PortcullisError('unavailable', `transit ${op} answered a body larger than ${maxBytes} bytes`);
      const json = (await readJson(res, maxBytes, tooLarge, signal)) as Record<string, any> | undefined;
      return { res, json };
    }).catch((e: unknown) => {
      // fail closed with the SDK's typed error: the operation's outcome is unknown
      if (e instanceof DeadlineExceeded) throw new PortcullisError('unavailable', `transit ${op} gave no complete answer within ${e.ms} ms`, { cause: e });
      throw e;
    });
    if (!res.ok) {
      const code = (json && typeof json.code === 'string' && Object.hasOwn(ERRORS, json.code) ? json.code : 'internal') as ErrorCode;
      throw new PortcullisError(code, json?.detail ?? `transit ${op} answered ${res.status}`, { status: res.status });
    }
    if (json === undefined || json === null || typeof json !== 'object' || Array.isArray(json)) throw invalidAnswer(op, 'JSON object');
    return json;
  };
  const value = async (op: string, name: string, body: Record<string, unknown>, field: 'ciphertext' | 'signature' | 'hmac'): Promise<string> => {
    const r = await call(op, name, body);
    if (!isValue(r[field]) || !isVersion(r.key_version)) throw invalidAnswer(op, field);
    return r[field];
  };
  const valid = async (name: string, body: Record<string, unknown>): Promise<boolean> => {
    const r = await call('verify', name, body);
    if (typeof r.valid !== 'boolean') throw invalidAnswer('verify', 'valid');
    return r.valid;
  };
  const ctx = (o: { context?: Bytes } | undefined) => (o?.context === undefined ? {} : { context: toB64(o.context) });
  const ver = (o: { keyVersion?: number } | undefined) => (o?.keyVersion === undefined ? {} : { key_version: o.keyVersion });
  return {
    async encrypt(name, plaintext, o) {
      return value('encrypt', name, { plaintext: toB64(plaintext), ...ctx(o), ...ver(o) }, 'ciphertext');
    },
    async decrypt(name, ciphertext, o) {
      const r = await call('decrypt', name, { ciphertext, ...ctx(o) });
      if (!isB64(r.plaintext)) throw invalidAnswer('decrypt', 'plaintext');
      return fromB64(r.plaintext);
    },
    async rewrap(name, ciphertext, o) {
      return value('rewrap', name, { ciphertext, ...ctx(o), ...ver(o) }, 'ciphertext');
    },
    async datakey(name, o) {
      const r = await call('datakey', name, { ...(o?.type ? { type: o.type } : {}), ...(o?.bits ? { bits: o.bits } : {}), ...ctx(o) });
      if (!isValue(r.ciphertext) || !isVersion(r.key_version)) throw invalidAnswer('datakey', 'ciphertext');
      if (r.plaintext !== undefined && !isB64(r.plaintext)) throw invalidAnswer('datakey', 'plaintext');
      if (r.plaintext === undefined && o?.type !== 'wrapped') throw invalidAnswer('datakey', 'plaintext');
      return { ciphertext: r.ciphertext, keyVersion: r.key_version, ...(r.plaintext !== undefined ? { plaintext: fromB64(r.plaintext) } : {}) };
    },
    async sign(name, input, o) {
      return value('sign', name, { input: toB64(input), ...ver(o) }, 'signature');
    },
    async verify(name, input, signature) {
      return valid(name, { input: toB64(input), signature });
    },
    async hmac(name, input, o) {
      return value('hmac', name, { input: toB64(input), ...(o?.algorithm ? { algorithm: o.algorithm } : {}), ...ver(o) }, 'hmac');
    },
    async verifyHmac(name, input, hmac, o) {
      return valid(name, { input: toB64(input), hmac, ...(o?.algorithm ? { algorithm: o.algorithm } : {}) });
    },
    async batch(op, name, items) {
      const results = (await call(op, name, { batch_input: items })).batch_results;
      // one result per item, in order, or the answer cannot be matched to the items
      if (!Array.isArray(results) || results.length !== items.length || !results.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) throw invalidAnswer(op, 'batch_results');
      return results;
    },
  };
}
