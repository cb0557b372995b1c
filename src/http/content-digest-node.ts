/**
 * The node:crypto `HasherFactory` for RFC 9530 Content-Digest, so the gateway
 * hashes a body incrementally while it streams (WebCrypto cannot).
 */
import { createHash } from 'node:crypto';
import type { HasherFactory } from '../signatures/content-digest.js';

/**
 * @example
 * const check = contentDigestChecker(req.headers['content-digest'], nodeHasherFactory);
 */
export const nodeHasherFactory: HasherFactory = (alg) => {
  const h = createHash(alg === 'sha-256' ? 'sha256' : 'sha512');
  return {
    update(chunk) {
      h.update(chunk);
    },
    digest() {
      return new Uint8Array(h.digest());
    },
  };
};
