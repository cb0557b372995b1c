import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterResponseHeaders, scanRequestHeaders } from '../../src/gateway/headers.js';

const raw = (...xs: string[]): Buffer[] => xs.map((x) => Buffer.from(x, 'latin1'));

describe('filterResponseHeaders (unit)', () => {
  it('returns exactly the bytes received when names and values repeat, change, or share length and edges', () => {
    // same length, same first/middle/last byte: the decode cache must compare every byte
    const pairs = [
      ['Date', 'Wed, 02 Dec 2026 16:00:00 GMT'],
      ['Date', 'Wed, 02 Dec 2026 16:00:01 GMT'],
      ['Date', 'Wed, 02 Dec 2026 16:00:00 GMT'],
      ['content-type', 'application/json'],
      ['content-type', 'applicatiXn/json'],
      ['Content-Type', 'text/plain; charset=\xe9'],
      ['x-a', '1'],
      ['x-b', '1'],
      ['x-a', '2'],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [n, v] of pairs) assert.deepEqual(filterResponseHeaders(raw(n!, v!)), [n, v]);
    }
    const long = 'x'.repeat(300);
    assert.deepEqual(filterResponseHeaders(raw('x-long', long, 'x-empty', '')), ['x-long', long, 'x-empty', '']);
  });

  it('drops hop-by-hop fields in any case and the fields Connection names', () => {
    const out = filterResponseHeaders(
      raw('Connection', 'keep-alive, X-Secret', 'KEEP-ALIVE', 'timeout=5', 'Transfer-Encoding', 'chunked', 'x-secret', 's', 'Upgrade', 'h2c', 'Trailer', 'x', 'TE', 'trailers', 'x-ok', '1'),
    );
    assert.deepEqual(out, ['x-ok', '1']);
    assert.deepEqual(filterResponseHeaders(raw('connection', 'close', 'x-ok', '1')), ['x-ok', '1']);
    // two Connection fields: the options of both are removed
    assert.deepEqual(filterResponseHeaders(raw('Connection', 'x-one', 'x-one', '1', 'Connection', 'x-two', 'x-two', '2', 'x-ok', '1')), ['x-ok', '1']);
  });

  it('accepts string arrays (a buffered response re-filtered)', () => {
    assert.deepEqual(filterResponseHeaders(['Connection', 'close', 'Content-Length', '2']), ['Content-Length', '2']);
  });
});

describe('scanRequestHeaders (unit)', () => {
  it('classifies a name the same in any spelling, the first time and every time after', () => {
    for (let round = 0; round < 3; round++) {
      for (const [host, auth, xp] of [
        ['Host', 'Authorization', 'X-Portcullis-Client-Id'],
        ['host', 'authorization', 'x-portcullis-client-id'],
        ['HOST', 'AUTHORIZATION', 'X-PORTCULLIS-SUBJECT'],
      ]) {
        const s = scanRequestHeaders([host!, 'a.example', auth!, 'Bearer t', xp!, 'forged', 'Keep-Alive', '5', 'X-Other', '1']);
        assert.equal(s.host, 'a.example');
        assert.equal(s.authCount, 1);
        assert.equal(s.authValue, 'Bearer t');
        assert.deepEqual(s.forward, ['X-Other', '1']);
      }
    }
  });
});
