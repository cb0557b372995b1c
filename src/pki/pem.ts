/**
 * PEM (RFC 7468) encoding and decoding. OpenSSL expects the label `X509 CRL`
 * for CRLs (RFC 7468 §6), not `CRL`.
 */
import { PortcullisError } from '../core/errors.js';

export type PemLabel = 'CERTIFICATE' | 'X509 CRL' | 'CERTIFICATE REQUEST' | 'PRIVATE KEY' | 'PUBLIC KEY' | 'EC PRIVATE KEY';

/**
 * @example toPem(der, 'CERTIFICATE') // "-----BEGIN CERTIFICATE-----\nMII…\n-----END CERTIFICATE-----\n"
 */
export function toPem(der: Uint8Array, label: PemLabel): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every block with the given label, in order. */
export function fromPemAll(text: string, label: PemLabel): Uint8Array[] {
  const out: Uint8Array[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1] !== label) continue;
    const body = m[2]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new PortcullisError('request.invalid', `malformed PEM ${label} block`);
    out.push(new Uint8Array(Buffer.from(body, 'base64')));
  }
  return out;
}

/** Exactly the first block with the given label. */
export function fromPem(text: string, label: PemLabel): Uint8Array {
  const all = fromPemAll(text, label);
  if (all.length === 0) throw new PortcullisError('request.invalid', `no PEM ${label} block found`);
  return all[0]!;
}
