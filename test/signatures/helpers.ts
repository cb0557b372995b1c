/** Shared fixtures for the RFC 9421 tests: the Appendix B vectors, keys, and an HTTP/1.1 text parser. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importParams } from '../../src/signatures/algorithms.js';
import type { HttpRequestLike, HttpResponseLike, SignatureAlgorithm } from '../../src/signatures/types.js';

export const VECTORS_DIR = fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));

export interface AppendixB {
  keys: Record<string, { alg: SignatureAlgorithm; jwk?: JsonWebKey & { kid?: string }; secretBase64?: string }>;
  messages: Record<string, string>;
  cases: { label: string; message: string; alg: SignatureAlgorithm; keyid: string; deterministic: boolean; signatureBase: string; signatureInput: string; signature: string }[];
}

export const appendixB: AppendixB = JSON.parse(readFileSync(VECTORS_DIR + 'rfc9421/appendix-b.json', 'utf8'));

export interface ParsedMessage {
  request?: HttpRequestLike;
  response?: HttpResponseLike;
  headers: Headers;
  body: Uint8Array;
}

/** Parses an HTTP/1.1 message as printed in the RFC (LF line ends, body after a blank line, trailing LF dropped). */
export function parseHttpMessage(text: string, scheme = 'https'): ParsedMessage {
  const [head, ...rest] = text.split('\n\n');
  const lines = head!.split('\n');
  const start = lines.shift()!;
  const headers = new Headers();
  for (const l of lines) {
    const i = l.indexOf(':');
    headers.append(l.slice(0, i), l.slice(i + 1).trim());
  }
  const body = new TextEncoder().encode(rest.join('\n\n').replace(/\n$/, ''));
  const status = /^HTTP\/1\.1 (\d{3})/.exec(start);
  if (status) return { response: { status: Number(status[1]), headers }, headers, body };
  const [method, target] = start.split(' ');
  return { request: { method: method!, url: `${scheme}://${headers.get('host')}${target}`, headers }, headers, body };
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

/** Imports an Appendix B key (by key id) for `usage`. */
export async function importB1Key(keyid: string, usage: 'sign' | 'verify'): Promise<{ key: CryptoKey; alg: SignatureAlgorithm }> {
  const k = appendixB.keys[keyid]!;
  if (k.secretBase64) {
    const key = await crypto.subtle.importKey('raw', Buffer.from(k.secretBase64, 'base64'), importParams(k.alg), false, [usage]);
    return { key, alg: k.alg };
  }
  const jwk: Record<string, unknown> = { ...k.jwk };
  delete jwk.kid;
  if (usage === 'verify') for (const m of PRIVATE_JWK_MEMBERS) delete jwk[m];
  const key = await crypto.subtle.importKey('jwk', jwk as JsonWebKey, importParams(k.alg), false, [usage]);
  return { key, alg: k.alg };
}

/** Splits `label=value` into [label, value] (the members in the vectors file). */
export function member(s: string): [string, string] {
  const i = s.indexOf('=');
  return [s.slice(0, i), s.slice(i + 1)];
}
