/**
 * Revocation of `caBundle` certificates (a partner CA's): the CRLs a route names in
 * `crls`, read at start and re-read when a file changes. RFC 5280 §6.3 with complete
 * CRLs only (revocation-lookup.ts); a certificate whose issuer has no current, valid
 * CRL is `unknown`, which the verifier refuses (fail closed).
 */
import { readFileSync, statSync } from 'node:fs';
import { PortcullisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { basicConstraintsOf } from '../pki/parse.js';
import { fromPemAll } from '../pki/pem.js';
import { crlRevocationLookup } from '../pki/revocation-lookup.js';
import type { RevocationLookup } from '../pki/verify-chain.js';

/** How often the files' modification times are compared, at most (on new connections only). */
const RECHECK_MS = 10_000;

function readCrls(file: string): Uint8Array[] {
  const bytes = readFileSync(file);
  if (bytes.subarray(0, 10).toString('latin1') === '-----BEGIN') return fromPemAll(bytes.toString('utf8'), 'X509 CRL');
  return [new Uint8Array(bytes)];
}

function stamp(file: string): string {
  const s = statSync(file);
  return `${s.mtimeMs}:${s.size}`;
}

/**
 * The revocation lookup of a route's `caBundle`: `chain` checks every certificate below
 * the anchor, `leaf` only the end-entity certificate. Throws `config.not-found` when a
 * file cannot be read at start; a file that becomes unreadable later makes every
 * status `unknown`.
 * @example crlFilesRevocationLookup(['/etc/portcullis/partner.crl'], 'chain', () => clock.now())
 */
export function crlFilesRevocationLookup(files: readonly string[], mode: 'chain' | 'leaf', now: () => number, logger?: Logger): RevocationLookup {
  const load = (): RevocationLookup => crlRevocationLookup(files.flatMap(readCrls), now);
  let stamps: string;
  let lookup: RevocationLookup;
  try {
    stamps = files.map(stamp).join('|');
    lookup = load();
  } catch (cause) {
    throw new PortcullisError('config.not-found', 'a CRL file of require.clientCertificate.crls cannot be read', { cause });
  }
  let checkedAt = now();
  return (cert, issuer) => {
    if (mode === 'leaf' && basicConstraintsOf(cert)?.ca === true) return 'good';
    const t = now();
    if (t - checkedAt >= RECHECK_MS) {
      checkedAt = t;
      try {
        const next = files.map(stamp).join('|');
        if (next !== stamps) {
          lookup = load();
          stamps = next;
        }
      } catch (e) {
        logger?.warn({ err: String(e) }, 'a CRL file of a caBundle route cannot be read; its certificates are refused');
        stamps = '';
        lookup = () => 'unknown';
      }
    }
    return lookup(cert, issuer);
  };
}
