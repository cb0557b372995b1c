/** A Transit over the memory store, an envelope with a fresh master key and a frozen clock. */
import { randomBytes } from 'node:crypto';
import { FrozenClock } from '../../src/core/clock.js';
import { Envelope } from '../../src/crypto/envelope.js';
import type { EnvelopeStore } from '../../src/crypto/envelope.js';
import { MemoryTransitStore, Transit } from '../../src/crypto/transit/index.js';

export function memorySettings(): EnvelopeStore {
  const m = new Map<string, string>();
  return {
    listSettings: async (prefix) => [...m].filter(([n]) => n.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, value]) => ({ name, value })),
    getSetting: async (n) => m.get(n),
    setSettingIfAbsent: async (n, v) => {
      if (!m.has(n)) m.set(n, v);
      return m.get(n)!;
    },
    putSetting: async (n, v) => void m.set(n, v),
  };
}

export async function transitFixture() {
  const store = new MemoryTransitStore();
  const envelope = await Envelope.open(memorySettings(), randomBytes(32));
  const clock = new FrozenClock(Date.UTC(2026, 0, 1));
  const transit = new Transit(store, envelope, clock);
  return { store, envelope, clock, transit, node: () => new Transit(store, envelope, clock) };
}
