/** The TransitStore contract on the in-memory reference store (the durable adapters run it in test/store). */
import { MemoryTransitStore } from '../../src/crypto/transit/memory-store.js';
import { runTransitStoreSuite } from '../store/encryption-contract.js';

runTransitStoreSuite('memory', async () => {
  const s = new MemoryTransitStore();
  return { open: async () => s, multiNode: false, dispose: async () => undefined };
});
