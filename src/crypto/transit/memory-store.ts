/** An in-memory TransitStore for tests and single-process use (records are copied in and out). */
import { PortcullisError } from '../../core/errors.js';
import type { PageRequest } from '../../core/page.js';
import type { TransitKeyConfigPatch, TransitKeyRecord, TransitKeyVersion, TransitStore } from './store.js';

export class MemoryTransitStore implements TransitStore {
  private readonly keys = new Map<string, TransitKeyRecord>();

  async createTransitKey(key: TransitKeyRecord): Promise<void> {
    if (this.keys.has(key.name)) throw new PortcullisError('conflict', `a transit key named ${key.name} exists`);
    this.keys.set(key.name, structuredClone(key));
  }

  async getTransitKey(name: string): Promise<TransitKeyRecord | undefined> {
    const k = this.keys.get(name);
    return k && structuredClone(k);
  }

  async listTransitKeys(page?: PageRequest<string>): Promise<string[]> {
    const names = [...this.keys.keys()].sort();
    if (page === undefined) return names;
    const after = page.after;
    return (after === undefined ? names : names.filter((n) => n > after)).slice(0, page.limit);
  }

  async addTransitKeyVersion(name: string, v: TransitKeyVersion): Promise<boolean> {
    const k = this.keys.get(name);
    if (!k) throw new PortcullisError('transit.key-not-found', `no transit key named ${name}`);
    if (k.versions.length !== v.version - 1) return false;
    k.versions.push(structuredClone(v));
    return true;
  }

  async updateTransitKeyConfig(name: string, patch: TransitKeyConfigPatch): Promise<void> {
    const k = this.keys.get(name);
    if (!k) throw new PortcullisError('transit.key-not-found', `no transit key named ${name}`);
    if (patch.minDecryptionVersion !== undefined) k.minDecryptionVersion = patch.minDecryptionVersion;
    if (patch.minEncryptionVersion !== undefined) k.minEncryptionVersion = patch.minEncryptionVersion;
    if (patch.autoRotate !== undefined) k.autoRotate = patch.autoRotate;
  }
}
