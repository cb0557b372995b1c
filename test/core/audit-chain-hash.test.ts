/**
 * The audit chain hash is pinned: trails written by earlier releases must keep verifying
 * (`portcullis audit verify`), so the canonical JSON and the SHA-256 over
 * prevHash ‖ '\n' ‖ canonical row may be made faster but never produce other bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainHash, GENESIS } from '../../src/audit/trail.js';
import type { AuditEventInput } from '../../src/audit/store.js';

test('audit chain hash: three rows (flat data, nested and unicode keys, null data) hash to the values earlier releases wrote', () => {
  const events: AuditEventInput[] = [
    { time: 1764000000000, type: 'transit.encrypt', actor: 'admin', data: { key: 'orders-db', items: 1, failed: 0 } },
    { time: 1764000000001, type: 'token.issued', actor: 'client:app-1', clientId: 'app-1', route: 'orders', reason: null, data: { scopes: ['a', 'b'], nested: { z: 1, a: [1, { y: 'é€', b: null }], ü: true }, empty: {}, list: [] } },
    { time: 1764000000002, type: 'admin.denied', actor: 'anonymous', reason: 'admin.unauthorized', data: null },
  ];
  const hashes: string[] = [];
  let prev = GENESIS;
  events.forEach((e, i) => hashes.push((prev = chainHash(prev, i + 1, e))));
  assert.deepEqual(hashes, [
    '82c6b7d74a70877d842fdecddc72d54f8b9161a2e0789e328e8961b759e15c69',
    '321b3080eb0d1a0886a6889f7b48c735c6ebdbd05546234bef762e29c87f689e',
    '450297ff6199867a5cedb3107aa2713b20b9dff496dd78a3e57d26a8fd17a855',
  ]);
});

test('audit chain hash: members whose value is undefined are left out, key order of the input does not matter', () => {
  const a = chainHash(GENESIS, 1, { time: 1, type: 't', actor: 'a', data: { b: 1, a: 2, c: undefined } });
  const b = chainHash(GENESIS, 1, { time: 1, type: 't', actor: 'a', data: { a: 2, b: 1 } });
  assert.equal(a, b);
  assert.notEqual(a, chainHash(GENESIS, 1, { time: 1, type: 't', actor: 'a', data: { a: 2, b: 2 } }));
});

test('audit chain hash: the written-out row equals the generic canonical form for varied events (random strings, absent optionals)', async () => {
  const { createHash, randomBytes } = await import('node:crypto');
  const { canonical } = await import('../../src/audit/trail.js');
  const str = () => randomBytes(6).toString('base64') + ['"', '\\', 'é', '\u2028', ''][randomBytes(1)[0]! % 5];
  for (let i = 0; i < 300; i++) {
    const e: AuditEventInput = { time: 1764000000000 + i, type: str(), actor: str() };
    if (i % 2) e.clientId = str();
    if (i % 3) e.route = i % 6 === 1 ? null : str();
    if (i % 5) e.reason = str();
    if (i % 4) e.data = { [str()]: str(), n: i, nested: { [str()]: [i, str(), null] } };
    const generic = canonical({ seq: i + 1, time: e.time, type: e.type, actor: e.actor, clientId: e.clientId ?? null, route: e.route ?? null, reason: e.reason ?? null, data: e.data ?? null });
    assert.equal(chainHash(GENESIS, i + 1, e), createHash('sha256').update(`${GENESIS}\n${generic}`).digest('hex'));
  }
});
