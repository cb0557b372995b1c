/**
 * Revocation of `caBundle` certificates (a partner CA's): the CRLs a route names in
 * `crls`, read at start and re-read when a file changes. RFC 5280 §6.3 with complete
 * CRLs only (revocation-lookup.ts); a certificate whose issuer has no current, valid
 * CRL is `unknown`, which the verifier refuses (fail closed).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { fsErrorText, PortcullisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { basicConstraintsOf } from '../pki/parse.js';
import { fromPemAll } from '../pki/pem.js';
import { crlRevocationLookup, crlUnusable, isCrl } from '../pki/revocation-lookup.js';
import type { RevocationLookup } from '../pki/verify-chain.js';

/** How often the files' modification times are compared, at most (on new connections only). */
const RECHECK_MS = 10_000;

/** A CRL file of a route: its name as configured (for messages) and its resolved path. */
export interface CrlFile {
  readonly name: string;
  readonly path: string;
}

/** The CRLs of a file (PEM `X509 CRL` blocks, or one DER CRL); errors name the setting (`where`) and the file. */
function readCrls(f: CrlFile, where: string): Uint8Array[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(f.path);
  } catch (cause) {
    throw new PortcullisError('config.not-found', `${where}: file ${f.name} cannot be read: ${fsErrorText(cause)}`, { cause });
  }
  const crls = bytes.subarray(0, 10).toString('latin1') === '-----BEGIN' ? fromPemAll(bytes.toString('utf8'), 'X509 CRL') : [new Uint8Array(bytes)];
  // a file without a CRL would leave every certificate of its issuer `unknown`: refused, with nothing said at start
  if (crls.length === 0 || !crls.every(isCrl)) throw new PortcullisError('config.invalid', `${where}: ${f.name} holds no X.509 CRL (PEM "X509 CRL" blocks, or one DER CRL)`);
  return crls;
}

function stamp(f: CrlFile): string {
  const s = statSync(f.path);
  return `${s.mtimeMs}:${s.size}`;
}

/**
 * The revocation lookup of a route's `caBundle`: `chain` checks every certificate below
 * the anchor, `leaf` only the end-entity certificate. At start, a file that cannot be read
 * throws `config.not-found` and one that holds no CRL `config.invalid`, naming `where`
 * (the setting) and the file; a file that becomes so later makes every status `unknown`.
 * A CRL past its nextUpdate leaves its issuer's certificates `unknown` (refused); the
 * first lookup that meets it logs a warning and calls `onStale` with the file's name,
 * once per CRL (by its bytes), however many requests it refuses.
 * @example crlFilesRevocationLookup([{ name: 'partner.crl', path: '/etc/portcullis/partner.crl' }], 'chain', () => clock.now())
 */
export function crlFilesRevocationLookup(
  files: readonly CrlFile[],
  mode: 'chain' | 'leaf',
  now: () => number,
  logger?: Logger,
  where = 'require.clientCertificate.crls',
  onStale?: (file: string, nextUpdate: number) => void,
): RevocationLookup {
  // SHA-256 of every stale CRL reported (a file re-read with the same CRL is not reported again)
  const reported = new Set<string>();
  const load = (): RevocationLookup => {
    const read = files.flatMap((f) => {
      const crls = readCrls(f, where);
      // a CRL that vouches for nothing leaves its issuer's certificates `unknown` (refused): the operator is told which and why
      for (const reason of crls.map(crlUnusable)) if (reason !== null) logger?.warn({ file: f.name, reason }, `${where}: a CRL in ${f.name} cannot be used (${reason}); its issuer's certificates are refused`);
      return crls.map((der) => ({ file: f.name, der }));
    });
    return crlRevocationLookup(
      read.map((c) => c.der),
      now,
      (i, nextUpdate) => {
        const { file, der } = read[i]!;
        const id = createHash('sha256').update(der).digest('hex');
        if (reported.has(id)) return;
        reported.add(id);
        const at = new Date(nextUpdate).toISOString();
        logger?.warn({ file, nextUpdate: at }, `${where}: a CRL in ${file} is past its nextUpdate (${at}); its issuer's certificates are refused until the file holds a current CRL`);
        onStale?.(file, nextUpdate);
      },
    );
  };
  let stamps: string;
  try {
    stamps = files.map(stamp).join('|');
  } catch {
    stamps = '';
  }
  // (stamped before it is read: a change in between is read again at the next check)
  let lookup = load();
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
