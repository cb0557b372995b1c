/**
 * Transit over HTTP (encryption as a service, after Vault's transit API): the request
 * and response shapes of the seven operations, shared by the admin plane
 * (`/v1/transit/<op>/<name>`, admin token) and the identity plane
 * (`/transit/v1/<op>/<name>`, an app access token with scope `transit:<op>:<name>`).
 * Bytes travel as standard padded base64; values as `pc:v<n>:<base64>`. Batch input
 * (`batch_input`) answers `batch_results`, each item its value or its own error.
 * Every call is audited as `transit.<op>` with the key name and item counts, never data.
 */
import type { z } from 'zod';
import type { AuditSink } from '../audit/sink.js';
import { PortcullisError } from '../core/errors.js';
import type { BatchResult, Transit, TransitKeyInfo } from '../crypto/transit/index.js';
import {
  TransitCiphertextResult,
  TransitDataKeyRequest,
  TransitDataKeyResult,
  TransitDecryptRequest,
  TransitEncryptRequest,
  TransitHmacRequest,
  TransitHmacResult,
  TransitPlaintextResult,
  TransitRewrapRequest,
  TransitSignatureResult,
  TransitSignRequest,
  TransitVerifyRequest,
  TransitVerifyResult,
} from './admin/encryption-schemas.js';

export const TRANSIT_OPS = ['encrypt', 'decrypt', 'rewrap', 'datakey', 'sign', 'verify', 'hmac'] as const;
export type TransitOp = (typeof TRANSIT_OPS)[number];

/** The audience an app's access token must carry to call transit on the identity plane. */
export const TRANSIT_AUDIENCE = 'portcullis-transit';

/** The scope that allows `op` on key `name`, e.g. `transit:encrypt:orders-db`. */
export const transitScope = (op: TransitOp, name: string): string => `transit:${op}:${name}`;

export const TRANSIT_REQUEST: Record<TransitOp, z.ZodType> = {
  encrypt: TransitEncryptRequest,
  decrypt: TransitDecryptRequest,
  rewrap: TransitRewrapRequest,
  datakey: TransitDataKeyRequest,
  sign: TransitSignRequest,
  verify: TransitVerifyRequest,
  hmac: TransitHmacRequest,
};

export const TRANSIT_RESULT: Record<TransitOp, z.ZodType> = {
  encrypt: TransitCiphertextResult,
  decrypt: TransitPlaintextResult,
  rewrap: TransitCiphertextResult,
  datakey: TransitDataKeyResult,
  sign: TransitSignatureResult,
  verify: TransitVerifyResult,
  hmac: TransitHmacResult,
};

export const TRANSIT_SUMMARY: Record<TransitOp, string> = {
  encrypt: 'Encrypt base64 plaintexts with an aes256-gcm key (context = associated data); batch_input accepted.',
  decrypt: 'Decrypt pc:v<n>: ciphertexts; batch_input accepted.',
  rewrap: 'Re-encrypt ciphertexts with the latest key version without returning the plaintext; batch_input accepted.',
  datakey: 'Generate a data key (type plaintext: key + wrapped key; wrapped: wrapped only) for envelope encryption; batch_input accepted.',
  sign: 'Sign base64 input with an ed25519 or ecdsa-p256 key; batch_input accepted.',
  verify: 'Verify a signature (signing keys) or an HMAC (any key); batch_input accepted.',
  hmac: 'HMAC base64 input with the key version HMAC subkey (sha2-256 or sha2-512); batch_input accepted.',
};

/** Strict, padded standard base64 (the alphabet Node would otherwise silently skip is refused). */
export function fromBase64(v: string | undefined, what: string): Uint8Array | undefined {
  if (v === undefined) return undefined;
  if (v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new PortcullisError('transit.invalid-input', `${what} is not base64`);
  return Buffer.from(v, 'base64');
}

const b64 = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
const versionOf = (value: string) => Number(value.slice(4, value.indexOf(':', 4)));

type Item = Record<string, unknown> & { key_version?: number; context?: string };

function itemOut<T>(r: BatchResult<T>, map: (v: T) => Record<string, unknown>): Record<string, unknown> {
  return r.ok ? map(r.value) : { error: { code: r.code, message: r.message } };
}

/** Wraps `fn` so it can run the single form or the batch form of a request. */
async function singleOrBatch(
  body: Item | { batch_input: Item[] },
  single: (i: Item) => Promise<Record<string, unknown>>,
  many: (items: Item[]) => Promise<Array<Record<string, unknown>>>,
): Promise<{ result: Record<string, unknown>; items: number; failed: number }> {
  if ('batch_input' in body) {
    const results = await many(body.batch_input as Item[]);
    return { result: { batch_results: results }, items: results.length, failed: results.filter((r) => 'error' in r).length };
  }
  return { result: await single(body), items: 1, failed: 0 };
}

/**
 * Runs one transit operation on a validated body; returns the JSON answer.
 *
 * @example
 * const out = await runTransitOp(transit, 'encrypt', 'orders-db', { plaintext: 'aGk=' }); // { ciphertext: 'pc:v1:…', key_version: 1 }
 */
export async function runTransitOp(transit: Transit, op: TransitOp, name: string, body: unknown): Promise<{ result: Record<string, unknown>; items: number; failed: number }> {
  const b = body as Item | { batch_input: Item[] };
  const ctx = (i: Item) => fromBase64(i.context, 'context');
  const opts = (i: Item) => {
    const o: { context?: Uint8Array; version?: number } = {};
    const c = ctx(i);
    if (c !== undefined) o.context = c;
    if (i.key_version !== undefined) o.version = i.key_version;
    return o;
  };
  const need = (i: Item, field: string) => fromBase64(i[field] as string, field)!;
  // a base64 error inside a batch is that item's error, as any other input error is
  const guard = <I, R>(fn: (i: I) => R) => (i: I): R | { error: { code: string; message: string } } => {
    try {
      return fn(i);
    } catch (e) {
      if (e instanceof PortcullisError && e.status < 500) return { error: { code: e.code, message: e.message } };
      throw e;
    }
  };
  const batchOf = async <P, T>(items: Item[], prepare: (i: Item) => P, run: (prepared: P[]) => Promise<BatchResult<T>[]>, map: (v: T) => Record<string, unknown>) => {
    const prepared = items.map(guard(prepare));
    const ok = prepared.filter((p): p is P => !(p && typeof p === 'object' && 'error' in (p as object)));
    const results = ok.length ? await run(ok) : [];
    let next = 0;
    return prepared.map((p) => (p && typeof p === 'object' && 'error' in (p as object) ? (p as Record<string, unknown>) : itemOut(results[next++]!, map)));
  };

  switch (op) {
    case 'encrypt': {
      const map = (ct: string) => ({ ciphertext: ct, key_version: versionOf(ct) });
      return singleOrBatch(
        b,
        async (i) => map(await transit.encrypt(name, need(i, 'plaintext'), opts(i))),
        (items) => batchOf(items, (i) => ({ plaintext: need(i, 'plaintext'), ...opts(i) }), (p) => transit.encryptBatch(name, p), map),
      );
    }
    case 'decrypt': {
      const map = (pt: Uint8Array) => ({ plaintext: b64(pt) });
      return singleOrBatch(
        b,
        async (i) => map(await transit.decrypt(name, i.ciphertext as string, opts(i))),
        (items) => batchOf(items, (i) => ({ ciphertext: i.ciphertext as string, ...opts(i) }), (p) => transit.decryptBatch(name, p), map),
      );
    }
    case 'rewrap': {
      const map = (ct: string) => ({ ciphertext: ct, key_version: versionOf(ct) });
      return singleOrBatch(
        b,
        async (i) => map(await transit.rewrap(name, i.ciphertext as string, opts(i))),
        (items) => batchOf(items, (i) => ({ ciphertext: i.ciphertext as string, ...opts(i) }), (p) => transit.rewrapBatch(name, p), map),
      );
    }
    case 'datakey': {
      const prep = (i: Item) => {
        const o: { bits?: 128 | 256 | 512; context?: Uint8Array; plaintext: boolean } = { plaintext: i.type !== 'wrapped' };
        if (i.bits !== undefined) o.bits = i.bits as 128 | 256 | 512;
        const c = ctx(i);
        if (c !== undefined) o.context = c;
        return o;
      };
      const map = (d: { ciphertext: string; keyVersion: number; plaintext?: Uint8Array }) => {
        const out: Record<string, unknown> = { ciphertext: d.ciphertext, key_version: d.keyVersion };
        if (d.plaintext !== undefined) {
          out.plaintext = b64(d.plaintext);
          d.plaintext.fill(0);
        }
        return out;
      };
      return singleOrBatch(
        b,
        async (i) => map(await transit.generateDataKey(name, prep(i))),
        (items) => batchOf(items, prep, (p) => transit.generateDataKeyBatch(name, p), map),
      );
    }
    case 'sign': {
      const map = (sig: string) => ({ signature: sig, key_version: versionOf(sig) });
      const prep = (i: Item) => (i.key_version === undefined ? { input: need(i, 'input') } : { input: need(i, 'input'), version: i.key_version });
      const one = async (i: Item) => {
        const p = prep(i);
        return map(await transit.sign(name, p.input, p));
      };
      return singleOrBatch(b, one, (items) => batchOf(items, prep, (p) => transit.signBatch(name, p), map));
    }
    case 'hmac': {
      const map = (mac: string) => ({ hmac: mac, key_version: versionOf(mac) });
      const prep = (i: Item) => {
        const o: { input: Uint8Array; version?: number; algorithm?: 'sha2-256' | 'sha2-512' } = { input: need(i, 'input') };
        if (i.key_version !== undefined) o.version = i.key_version;
        if (i.algorithm !== undefined) o.algorithm = i.algorithm as 'sha2-256' | 'sha2-512';
        return o;
      };
      const one = async (i: Item) => {
        const p = prep(i);
        return map(await transit.hmac(name, p.input, p));
      };
      return singleOrBatch(b, one, (items) => batchOf(items, prep, (p) => transit.hmacBatch(name, p), map));
    }
    case 'verify': {
      const map = (valid: boolean) => ({ valid });
      const one = async (i: Item) => {
        const input = need(i, 'input');
        if (typeof i.signature === 'string') return map(await transit.verify(name, input, i.signature));
        const o = i.algorithm === undefined ? {} : { algorithm: i.algorithm as 'sha2-256' | 'sha2-512' };
        return map(await transit.verifyHmac(name, input, i.hmac as string, o));
      };
      return singleOrBatch(b, one, async (items) => {
        const sigs = items.every((i) => typeof i.signature === 'string');
        const macs = items.every((i) => typeof i.hmac === 'string');
        if (!sigs && !macs) throw new PortcullisError('transit.invalid-input', 'a verify batch holds either signatures or HMACs, not both');
        if (sigs) return batchOf(items, (i) => ({ input: need(i, 'input'), signature: i.signature as string }), (p) => transit.verifyBatch(name, p), map);
        return batchOf(
          items,
          (i) => (i.algorithm === undefined ? { input: need(i, 'input'), hmac: i.hmac as string } : { input: need(i, 'input'), hmac: i.hmac as string, algorithm: i.algorithm as 'sha2-256' | 'sha2-512' }),
          (p) => transit.verifyHmacBatch(name, p),
          map,
        );
      });
    }
  }
}

/** Runs an operation and audits it (`transit.<op>`: key, items, failed; never data). */
export async function auditedTransitOp(
  transit: Transit,
  audit: AuditSink,
  now: () => number,
  who: { actor: string; clientId?: string },
  op: TransitOp,
  name: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  try {
    const { result, items, failed } = await runTransitOp(transit, op, name, body);
    audit.record({ time: now(), type: `transit.${op}`, actor: who.actor, clientId: who.clientId ?? null, data: { key: name, items, failed } });
    return result;
  } catch (e) {
    const code = e instanceof PortcullisError ? e.code : 'internal';
    audit.record({ time: now(), type: `transit.${op}`, actor: who.actor, clientId: who.clientId ?? null, reason: code, data: { key: name } });
    throw e;
  }
}

/** The JSON view of a transit key (no key material; public keys of signing versions). */
export function viewTransitKey(k: TransitKeyInfo): Record<string, unknown> {
  return {
    name: k.name,
    type: k.type,
    latest_version: k.latestVersion,
    min_decryption_version: k.minDecryptionVersion,
    min_encryption_version: k.minEncryptionVersion,
    versions: k.versions.map((v) => ({ version: v.version, created_at: new Date(v.createdAt).toISOString(), ...(v.publicKey ? { public_key: v.publicKey } : {}) })),
  };
}
