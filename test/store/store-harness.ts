/**
 * How a contract suite gets at an adapter: `open()` gives another instance on the same
 * data (another node when `multiNode`), `dispose()` closes what was opened and drops
 * the data. One harness per test, so every test starts empty.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PortcullisError, type ErrorCode } from '../../src/core/errors.js';

export interface StoreHarness<S> {
  open(): Promise<S>;
  /** Whether separate `open()` calls are separate instances (nodes) writing at the same time. */
  multiNode: boolean;
  dispose(): Promise<void>;
}

export type StoreTest<S> = (title: string, fn: (open: () => Promise<S>, h: StoreHarness<S>) => Promise<void>) => void;

/** Registers `name: title` tests, each on a fresh harness that is disposed afterwards. */
export function storeTests<S>(name: string, make: () => Promise<StoreHarness<S>>): StoreTest<S> {
  return (title, fn) => {
    test(`${name}: ${title}`, async () => {
      const h = await make();
      try {
        await fn(() => h.open(), h);
      } finally {
        await h.dispose();
      }
    });
  };
}

/** Two handles for a race: two instances when the adapter has nodes, else the same one twice. */
export async function twoNodes<S>(open: () => Promise<S>, h: StoreHarness<S>): Promise<[S, S]> {
  const a = await open();
  return [a, h.multiNode ? await open() : a];
}

/** Asserts a rejection with a PortcullisError of exactly this code. */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PortcullisError, `expected PortcullisError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}
