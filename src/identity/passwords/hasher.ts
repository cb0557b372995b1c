/**
 * Password hashers as strategies keyed by id, and the registry that picks one.
 *
 * New hashes use the preferred hasher (Argon2id). A stored hash made by an older
 * hasher is still verified by the hasher that `understands` it, and on a successful
 * sign-in it is replaced by a hash from the preferred one (the upgrade path Kratos
 * follows). Passwords are normalised to Unicode NFKC first, as NIST SP 800-63B
 * §5.1.1.2 asks, so the same passphrase typed on two keyboards verifies.
 */
import { PortcullisError } from '../../core/errors.js';

export interface PasswordHasher {
  /** Stable id, e.g. `argon2id`, `pbkdf2-sha256`. */
  readonly id: string;
  /** Whether `hash` is in this hasher's format. */
  understands(hash: string): boolean;
  /** Hashes a (normalised) password; never blocks the event loop. */
  hash(password: string): Promise<string>;
  /** Verifies in constant time with respect to the stored hash. False on mismatch. */
  verify(hash: string, password: string): Promise<boolean>;
  /** Whether `hash` was made with weaker parameters than this hasher uses now. */
  needsRehash(hash: string): boolean;
}

export interface PasswordCheck {
  ok: boolean;
  /** When ok and the stored hash is outdated: the new hash to store in its place. */
  rehash?: string;
}

/** Unicode NFKC (NIST SP 800-63B §5.1.1.2). */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * The set of hashers a deployment knows: one preferred, any number of legacy ones.
 *
 * @example
 * const hashers = new PasswordHashers(new Argon2idHasher(), [new Pbkdf2Hasher()]);
 * const stored = await hashers.hash('correct horse battery staple');
 * const { ok, rehash } = await hashers.verify(stored, input);
 */
export class PasswordHashers {
  private readonly all: PasswordHasher[];
  private dummy: Promise<string> | undefined;

  constructor(
    readonly preferred: PasswordHasher,
    legacy: PasswordHasher[] = [],
  ) {
    this.all = [preferred, ...legacy];
  }

  /** The hasher that understands `hash`, or undefined. */
  find(hash: string): PasswordHasher | undefined {
    return this.all.find((h) => h.understands(hash));
  }

  hash(password: string): Promise<string> {
    return this.preferred.hash(normalizePassword(password));
  }

  /**
   * Verifies `password` against `stored`. With `stored` undefined (no such user) it
   * still spends one verification against a dummy hash at today's parameters, so timing
   * does not tell whether the account exists, and answers `{ ok: false }`. A stored hash
   * that is not at today's parameters (legacy PBKDF2, weaker Argon2id) costs that dummy
   * verification too, beside its own: else it would answer faster (or otherwise) than an
   * unknown user and tell such accounts apart.
   */
  async verify(stored: string | undefined, password: string): Promise<PasswordCheck> {
    const normalized = normalizePassword(password);
    if (stored === undefined) {
      await this.verifyDummy(normalized);
      return { ok: false };
    }
    const hasher = this.find(stored);
    if (!hasher) throw new PortcullisError('password.hash-unknown', 'the stored password hash is in an unknown format');
    const outdated = hasher !== this.preferred || this.preferred.needsRehash(stored);
    // side by side on the hashing threads: a weaker hash then takes as long as the dummy's
    const [ok] = await Promise.all([hasher.verify(stored, normalized), outdated ? this.verifyDummy(normalized) : undefined]);
    if (!ok) return { ok: false };
    return outdated ? { ok: true, rehash: await this.preferred.hash(normalized) } : { ok: true };
  }

  private async verifyDummy(normalized: string): Promise<void> {
    // a failed hash (the pool full or shut down) is not kept: the next check makes it again
    this.dummy ??= this.preferred.hash('portcullis-dummy-password').catch((e: unknown) => {
      this.dummy = undefined;
      throw e;
    });
    await this.preferred.verify(await this.dummy, normalized);
  }
}
