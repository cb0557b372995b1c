/**
 * Envelope encryption of secrets at rest (AES-256-GCM).
 *
 * A data key (DEK) encrypts secrets; the master key wraps the DEK, and only the
 * wrapped DEK is stored (setting `envelope.dek.<id>`). Ciphertext format:
 * `pc1.<dekId>.<iv>.<ciphertext+tag>` (base64url), with the caller's context string
 * as additional authenticated data so a ciphertext cannot be moved to another row.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PortcullisError } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import type { SettingsStore } from './store.js';

const PREFIX = 'pc1';
const CURRENT = 'envelope.current';
const dekSetting = (id: string) => `envelope.dek.${id}`;

function seal(key: Buffer, plain: Buffer, aad: string): { iv: Buffer; ct: Buffer } {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  return { iv, ct };
}

function open(key: Buffer, iv: Buffer, ct: Buffer, aad: string): Buffer {
  if (iv.length !== 12 || ct.length < 16) throw new PortcullisError('crypto.decrypt-failed', 'ciphertext is malformed');
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(ct.subarray(ct.length - 16));
  try {
    return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  } catch (cause) {
    throw new PortcullisError('crypto.decrypt-failed', 'secret failed to decrypt (wrong master key or tampered data)', { cause });
  }
}

export class Envelope {
  private constructor(
    private readonly deks: Map<string, Buffer>,
    private readonly currentId: string,
  ) {}

  /**
   * Loads (or, on first use, creates) the data key from the settings store, unwrapping
   * it with the master key. Race-safe across nodes: the first node's data key wins.
   */
  static async open(settings: SettingsStore, masterKey: Buffer): Promise<Envelope> {
    let currentId = await settings.getSetting(CURRENT);
    if (!currentId) {
      const id = randomId(6);
      const dek = randomBytes(32);
      const w = seal(masterKey, dek, dekSetting(id));
      await settings.setSettingIfAbsent(dekSetting(id), `${w.iv.toString('base64url')}.${w.ct.toString('base64url')}`);
      currentId = await settings.setSettingIfAbsent(CURRENT, id);
    }
    const deks = new Map<string, Buffer>();
    const wrapped = await settings.getSetting(dekSetting(currentId));
    if (!wrapped) throw new PortcullisError('crypto.decrypt-failed', 'the current data key is missing from the store');
    deks.set(currentId, Envelope.unwrap(masterKey, currentId, wrapped));
    return new Envelope(deks, currentId);
  }

  private static unwrap(masterKey: Buffer, id: string, wrapped: string): Buffer {
    const [iv, ct] = wrapped.split('.');
    if (!iv || !ct) throw new PortcullisError('crypto.decrypt-failed', 'wrapped data key is malformed');
    return open(masterKey, Buffer.from(iv, 'base64url'), Buffer.from(ct, 'base64url'), dekSetting(id));
  }

  /** Encrypts `plain`, bound to `context` (e.g. `key:<kid>`). */
  encrypt(plain: Buffer | string, context: string): string {
    const { iv, ct } = seal(this.deks.get(this.currentId)!, Buffer.isBuffer(plain) ? plain : Buffer.from(plain, 'utf8'), context);
    return `${PREFIX}.${this.currentId}.${iv.toString('base64url')}.${ct.toString('base64url')}`;
  }

  decrypt(sealed: string, context: string): Buffer {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== PREFIX) throw new PortcullisError('crypto.decrypt-failed', 'ciphertext is malformed');
    const dek = this.deks.get(parts[1]!);
    if (!dek) throw new PortcullisError('crypto.decrypt-failed', 'ciphertext names an unknown data key');
    return open(dek, Buffer.from(parts[2]!, 'base64url'), Buffer.from(parts[3]!, 'base64url'), context);
  }

  decryptString(sealed: string, context: string): string {
    return this.decrypt(sealed, context).toString('utf8');
  }
}
