/** StampedMap: a value from an older read or write never replaces one from a newer one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StampedMap } from '../../src/core/stamped-map.js';

describe('StampedMap', () => {
  it('a snapshot read before a removal does not bring the entry back', () => {
    const m = new StampedMap<string>();
    m.set('k', 'v', m.stamp());
    const read = m.stamp();
    m.set('k', undefined, m.stamp());
    m.replaceAll(new Map([['k', 'v']]), read);
    assert.equal(m.get('k'), undefined);
  });

  it('a snapshot read before an addition does not drop the new entry', () => {
    const m = new StampedMap<string>();
    const read = m.stamp();
    m.set('new', 'v', m.stamp());
    m.replaceAll(new Map(), read);
    assert.equal(m.get('new'), 'v');
  });

  it('a snapshot read after a change installs its entries and drops what it lacks', () => {
    const m = new StampedMap<string>();
    m.set('gone', 'v', m.stamp());
    m.set('k', 'old', m.stamp());
    m.replaceAll(new Map([['k', 'new']]), m.stamp());
    assert.equal(m.get('gone'), undefined);
    assert.equal(m.get('k'), 'new');
    assert.deepEqual([...m.values()], ['new']);
  });

  it('of two reads of one entry, the one begun later wins whichever installs first', () => {
    const m = new StampedMap<string>();
    const older = m.stamp();
    const newer = m.stamp();
    m.set('k', 'newer', newer);
    m.set('k', 'older', older);
    assert.equal(m.get('k'), 'newer');
  });
});
