/**
 * The domain store contracts on the in-memory adapters the domain tests use, so
 * memory, SQLite and PostgreSQL are held to one suite. Memory has one instance (no nodes).
 */
import { MemoryCertificateStore } from '../../src/pki/memory-store.js';
import { MemoryMfaStore, MemoryPasswordStore } from '../support/mfa-memory-stores.js';
import { runMfaStoreSuite, runPasswordStoreSuite } from './mfa-contract.js';
import { runCertificateStoreSuite } from './pki-contract.js';
import type { StoreHarness } from './store-harness.js';

function single<S>(make: () => S): () => Promise<StoreHarness<S>> {
  return async () => {
    const s = make();
    return { open: async () => s, multiNode: false, dispose: async () => undefined };
  };
}

runCertificateStoreSuite('memory', single(() => new MemoryCertificateStore()));
runMfaStoreSuite('memory', single(() => new MemoryMfaStore()));
runPasswordStoreSuite('memory', single(() => new MemoryPasswordStore()));
