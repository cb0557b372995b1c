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
import type { BatchResult, Transit, TransitKeyInfo, TransitOperation } from '../crypto/transit/index.js';
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

/**
 * Strict, padded standard base64. Node's decoder skips characters outside the alphabet,
 * stops at `=`, accepts the URL-safe alphabet and reads only the low byte of a UTF-16 unit,
 * so ASCII input without `-`/`_` that decodes to its full length is exactly the strict form.
 */
export function fromBase64(v: string | undefined, what: string): Uint8Array | undefined {
  if (v === undefined) return undefined;
  const n = v.length;
  if (n % 4 !== 0 || Buffer.byteLength(v, 'utf8') !== n || v.indexOf('-') !== -1 || v.indexOf('_') !== -1) throw notBase64(what);
  const pad = n === 0 ? 0 : v.charCodeAt(n - 1) === 61 ? (v.charCodeAt(n - 2) === 61 ? 2 : 1) : 0;
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length !== (n / 4) * 3 - pad) throw notBase64(what);
  return bytes;
}

const notBase64 = (what: string) => new PortcullisError('transit.invalid-input', `${what} is not base64`);

const b64 = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
const versionOf = (value: string) => Number(value.slice(4, value.indexOf(':', 4)));

type Item = Record<string, unknown> & { key_version?: number; context?: string };
type Out = Record<string, unknown>;
type ItemError = { error: { code: string; message: string } };

function itemOut<T>(r: BatchResult<T>, map: (v: T) => Out): Out {
  return r.ok ? map(r.value) : { error: { code: r.code, message: r.message } };
}

const isItemError = (p: unknown): p is ItemError => typeof p === 'object' && p !== null && 'error' in p;

// The request-to-call mappings, at module level so a request allocates no closures.

const need = (i: Item, field: string): Uint8Array => fromBase64(i[field] as string, field)!;

function cryptOpts(i: Item): { context?: Uint8Array; version?: number } {
  const o: { context?: Uint8Array; version?: number } = {};
  const c = fromBase64(i.context, 'context');
  if (c !== undefined) o.context = c;
  if (i.key_version !== undefined) o.version = i.key_version;
  return o;
}

function withCiphertext(i: Item): { ciphertext: string; context?: Uint8Array; version?: number } {
  return { ciphertext: i.ciphertext as string, ...cryptOpts(i) };
}

function dataKeyOpts(i: Item): { bits?: 128 | 256 | 512; context?: Uint8Array; plaintext: boolean } {
  const o: { bits?: 128 | 256 | 512; context?: Uint8Array; plaintext: boolean } = { plaintext: i.type !== 'wrapped' };
  if (i.bits !== undefined) o.bits = i.bits as 128 | 256 | 512;
  const c = fromBase64(i.context, 'context');
  if (c !== undefined) o.context = c;
  return o;
}

function signOpts(i: Item): { input: Uint8Array; version?: number } {
  return i.key_version === undefined ? { input: need(i, 'input') } : { input: need(i, 'input'), version: i.key_version };
}

function hmacOpts(i: Item): { input: Uint8Array; version?: number; algorithm?: 'sha2-256' | 'sha2-512' } {
  const o: { input: Uint8Array; version?: number; algorithm?: 'sha2-256' | 'sha2-512' } = { input: need(i, 'input') };
  if (i.key_version !== undefined) o.version = i.key_version;
  if (i.algorithm !== undefined) o.algorithm = i.algorithm as 'sha2-256' | 'sha2-512';
  return o;
}

const ciphertextOut = (ct: string): Out => ({ ciphertext: ct, key_version: versionOf(ct) });
const plaintextOut = (pt: Uint8Array): Out => ({ plaintext: b64(pt) });
const signatureOut = (sig: string): Out => ({ signature: sig, key_version: versionOf(sig) });
const hmacOut = (mac: string): Out => ({ hmac: mac, key_version: versionOf(mac) });
const validOut = (valid: boolean): Out => ({ valid });

function dataKeyOut(d: { ciphertext: string; keyVersion: number; plaintext?: Uint8Array }): Out {
  const out: Out = { ciphertext: d.ciphertext, key_version: d.keyVersion };
  if (d.plaintext !== undefined) {
    out.plaintext = b64(d.plaintext);
    d.plaintext.fill(0);
  }
  return out;
}

/**
 * A batch: the key is checked first (an unknown key or one of the wrong type fails the
 * whole call, even when no item would reach the operation), then each item is prepared on
 * its own (a base64 error inside a batch is that item's error, as any other input error
 * is), the prepared ones run as one batch call, and the answers are put back in order.
 */
async function batchOf<P, T>(
  transit: Transit,
  name: string,
  op: TransitOperation,
  items: Item[],
  prepare: (i: Item) => P,
  run: (prepared: P[]) => Promise<BatchResult<T>[]>,
  map: (v: T) => Out,
): Promise<Out[]> {
  await transit.checkKey(name, op);
  const prepared: Array<P | ItemError> = items.map((i) => {
    try {
      return prepare(i);
    } catch (e) {
      if (e instanceof PortcullisError && e.status < 500) return { error: { code: e.code, message: e.message } };
      throw e;
    }
  });
  const ok = prepared.filter((p): p is P => !isItemError(p));
  const results = ok.length ? await run(ok) : [];
  let next = 0;
  return prepared.map((p) => (isItemError(p) ? p : itemOut(results[next++]!, map)));
}

/** The operation a single call of `op` runs on its key (verify: a signature, else an HMAC). */
function operationOf(op: TransitOp, i: Item): TransitOperation {
  if (op === 'datakey') return 'generateDataKey';
  if (op === 'verify') return typeof i.signature === 'string' ? 'verify' : 'verifyHmac';
  return op;
}

async function single(transit: Transit, op: TransitOp, name: string, i: Item): Promise<Out> {
  // the key first, as a batch does: an unknown key or one of the wrong type is the answer whatever the input
  await transit.checkKey(name, operationOf(op, i));
  switch (op) {
    case 'encrypt':
      return ciphertextOut(await transit.encrypt(name, need(i, 'plaintext'), cryptOpts(i)));
    case 'decrypt':
      return plaintextOut(await transit.decrypt(name, i.ciphertext as string, cryptOpts(i)));
    case 'rewrap':
      return ciphertextOut(await transit.rewrap(name, i.ciphertext as string, cryptOpts(i)));
    case 'datakey':
      return dataKeyOut(await transit.generateDataKey(name, dataKeyOpts(i)));
    case 'sign': {
      const p = signOpts(i);
      return signatureOut(await transit.sign(name, p.input, p));
    }
    case 'hmac': {
      const p = hmacOpts(i);
      return hmacOut(await transit.hmac(name, p.input, p));
    }
    case 'verify': {
      const input = need(i, 'input');
      if (typeof i.signature === 'string') return validOut(await transit.verify(name, input, i.signature));
      const o = i.algorithm === undefined ? {} : { algorithm: i.algorithm as 'sha2-256' | 'sha2-512' };
      return validOut(await transit.verifyHmac(name, input, i.hmac as string, o));
    }
  }
}

async function many(transit: Transit, op: TransitOp, name: string, items: Item[]): Promise<Out[]> {
  switch (op) {
    case 'encrypt':
      return batchOf(transit, name, 'encrypt', items, (i) => ({ plaintext: need(i, 'plaintext'), ...cryptOpts(i) }), (p) => transit.encryptBatch(name, p), ciphertextOut);
    case 'decrypt':
      return batchOf(transit, name, 'decrypt', items, withCiphertext, (p) => transit.decryptBatch(name, p), plaintextOut);
    case 'rewrap':
      return batchOf(transit, name, 'rewrap', items, withCiphertext, (p) => transit.rewrapBatch(name, p), ciphertextOut);
    case 'datakey':
      return batchOf(transit, name, 'generateDataKey', items, dataKeyOpts, (p) => transit.generateDataKeyBatch(name, p), dataKeyOut);
    case 'sign':
      return batchOf(transit, name, 'sign', items, signOpts, (p) => transit.signBatch(name, p), signatureOut);
    case 'hmac':
      return batchOf(transit, name, 'hmac', items, hmacOpts, (p) => transit.hmacBatch(name, p), hmacOut);
    case 'verify': {
      const sigs = items.filter(isSignatureItem);
      if (sigs.length === items.length) return verifySignatures(transit, name, items);
      if (sigs.length === 0) return verifyHmacs(transit, name, items);
      // a batch that mixes them (its schema allows it): each kind as its own batch, answers put back in order
      const bySig = await verifySignatures(transit, name, sigs);
      const byMac = await verifyHmacs(transit, name, items.filter((i) => !isSignatureItem(i)));
      let s = 0;
      let m = 0;
      return items.map((i) => (isSignatureItem(i) ? bySig[s++]! : byMac[m++]!));
    }
  }
}

const isSignatureItem = (i: Item): boolean => typeof i.signature === 'string';

function verifySignatures(transit: Transit, name: string, items: Item[]): Promise<Out[]> {
  return batchOf(transit, name, 'verify', items, (i) => ({ input: need(i, 'input'), signature: i.signature as string }), (p) => transit.verifyBatch(name, p), validOut);
}

function verifyHmacs(transit: Transit, name: string, items: Item[]): Promise<Out[]> {
  return batchOf(
    transit,
    name,
    'verifyHmac',
    items,
    (i) => (i.algorithm === undefined ? { input: need(i, 'input'), hmac: i.hmac as string } : { input: need(i, 'input'), hmac: i.hmac as string, algorithm: i.algorithm as 'sha2-256' | 'sha2-512' }),
    (p) => transit.verifyHmacBatch(name, p),
    validOut,
  );
}

/**
 * Runs one transit operation on a validated body; returns the JSON answer.
 *
 * @example
 * const out = await runTransitOp(transit, 'encrypt', 'orders-db', { plaintext: 'aGk=' }); // { ciphertext: 'pc:v1:…', key_version: 1 }
 */
export async function runTransitOp(transit: Transit, op: TransitOp, name: string, body: unknown): Promise<{ result: Out; items: number; failed: number }> {
  const b = body as Item | { batch_input: Item[] };
  if ('batch_input' in b) {
    const results = await many(transit, op, name, b.batch_input as Item[]);
    let failed = 0;
    for (const r of results) if ('error' in r) failed++;
    return { result: { batch_results: results }, items: results.length, failed };
  }
  return { result: await single(transit, op, name, b), items: 1, failed: 0 };
}

/** Who a transit call was made by: `client:<id>` (an app, identity plane) or `admin` (admin plane). */
export interface TransitCaller {
  actor: string;
  clientId?: string;
}

/**
 * Audits a transit call that failed (`transit.<op>` with the reason code and the key's name,
 * never data): refused before the operation (its body by the JSON parser, the body limit or
 * the schema) or inside it. One shape for both planes.
 */
export function recordTransitFailure(audit: AuditSink, now: () => number, who: TransitCaller, op: TransitOp, name: string, err: unknown): void {
  const reason = err instanceof PortcullisError ? err.code : 'internal';
  audit.record({ time: now(), type: `transit.${op}`, actor: who.actor, clientId: who.clientId ?? null, reason, data: { key: name } });
}

/** Runs an operation and audits it (`transit.<op>`: key, items, failed; never data). */
export async function auditedTransitOp(
  transit: Transit,
  audit: AuditSink,
  now: () => number,
  who: TransitCaller,
  op: TransitOp,
  name: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  try {
    const { result, items, failed } = await runTransitOp(transit, op, name, body);
    audit.record({ time: now(), type: `transit.${op}`, actor: who.actor, clientId: who.clientId ?? null, data: { key: name, items, failed } });
    return result;
  } catch (e) {
    recordTransitFailure(audit, now, who, op, name, e);
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
    auto_rotate: k.autoRotate,
    encryption_limit: k.encryptionLimit,
    versions: k.versions.map((v) => ({
      version: v.version,
      created_at: new Date(v.createdAt).toISOString(),
      ...(v.publicKey ? { public_key: v.publicKey } : {}),
      ...(v.encryptions !== undefined ? { encryptions: v.encryptions } : {}),
    })),
  };
}
