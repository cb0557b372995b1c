/**
 * The transit value format: `pc:v<version>:<base64>` (Vault's `vault:v1:…`), used for
 * ciphertexts (`iv || ct || tag`), signatures and HMACs. The version says which key
 * version made it, so old values stay readable after a rotation.
 */
import { PortcullisError } from '../../core/errors.js';

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

/** Parses `pc:v<version>:<base64>` strictly (canonical padded base64); throws `transit.malformed-ciphertext`. */
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
  const start = colon + 1;
  const n = value.length - start;
  // ASCII only: Node's decoder reads the low byte of a UTF-16 unit, so 'Ł' (U+0141) would pass as 'A'.
  if (n === 0 || n % 4 !== 0 || Buffer.byteLength(value, 'utf8') !== value.length || value.indexOf('-', start) !== -1 || value.indexOf('_', start) !== -1) throw malformed(what);
  const pad = value.charCodeAt(value.length - 1) === 61 ? (value.charCodeAt(value.length - 2) === 61 ? 2 : 1) : 0;
  const bytes = Buffer.from(value.slice(start), 'base64');
  // Node's decoder skips characters outside the alphabet (and accepts the URL-safe one, excluded
  // above), so strict padded base64 is exactly the input that decodes to its full length.
  if (bytes.length !== (n / 4) * 3 - pad) throw malformed(what);
  // RFC 4648 §3.5: the decoder also ignores the pad bits of the last character; only the
  // canonical spelling (pad bits zero) is accepted, so a value has exactly one spelling.
  if (pad !== 0 && bytes.subarray(bytes.length - 3 + pad).toString('base64') !== value.slice(value.length - 4)) throw malformed(what);
  return { version, bytes };
}

function malformed(what: string): PortcullisError {
  return new PortcullisError('transit.malformed-ciphertext', `the ${what} is not of the form pc:v<version>:<base64>`);
}

