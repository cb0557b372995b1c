/**
 * The transit value format: `pc:v<version>:<base64>` (Vault's `vault:v1:…`), used for
 * ciphertexts (`iv || ct || tag`), signatures and HMACs. The version says which key
 * version made it, so old values stay readable after a rotation.
 */
import { PortcullisError } from '../../core/errors.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_VERSION = 2 ** 31 - 1;

const prefixes: string[] = [];

/** `pc:v<version>:`, cached. */
export function prefix(version: number): string {
  return (prefixes[version] ??= `pc:v${version}:`);
}

export function formatValue(version: number, bytes: Uint8Array): string {
  return prefix(version) + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export interface ParsedValue {
  version: number;
  bytes: Buffer;
}

/** Parses `pc:v<version>:<base64>` strictly; throws `transit.malformed-ciphertext`. */
export function parseValue(value: unknown, what = 'ciphertext'): ParsedValue {
  if (typeof value !== 'string' || !value.startsWith('pc:v')) throw malformed(what);
  const colon = value.indexOf(':', 4);
  if (colon < 5 || colon > 14) throw malformed(what);
  let version = 0;
  for (let i = 4; i < colon; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (i === 4 && d === 0)) throw malformed(what);
    version = version * 10 + d;
  }
  if (version > MAX_VERSION) throw malformed(what);
  const body = value.slice(colon + 1);
  if (body.length === 0 || !BASE64.test(body)) throw malformed(what);
  return { version, bytes: Buffer.from(body, 'base64') };
}

function malformed(what: string): PortcullisError {
  return new PortcullisError('transit.malformed-ciphertext', `the ${what} is not of the form pc:v<version>:<base64>`);
}
