/** Name constraints against wildcard SANs (CVE-2025-61727): a wildcard that could stand for an excluded name is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { satisfiesNameConstraints } from '../../src/pki/name-constraints.js';
import type { NameConstraints } from '../../src/pki/parse.js';

const dns = (value: string) => ({ type: 'dns' as const, value });
const excluding = (...bases: string[]): NameConstraints => ({ permitted: null, excluded: bases.map((b) => ({ name: dns(b) })) });

test('attack: CVE-2025-61727 — *.example.com under a CA that forbids bar.example.com is refused (the wildcard would match it)', () => {
  assert.equal(satisfiesNameConstraints([dns('*.example.com')], excluding('bar.example.com')), false);
  assert.equal(satisfiesNameConstraints([dns('*.EXAMPLE.com.')], excluding('Bar.Example.Com')), false);
});

test('a wildcard that cannot reach the excluded subtree is accepted', () => {
  // * stands for one label: it never matches a.bar.example.com
  assert.equal(satisfiesNameConstraints([dns('*.example.com')], excluding('a.bar.example.com')), true);
  assert.equal(satisfiesNameConstraints([dns('*.example.com')], excluding('bar.example.org')), true);
  assert.equal(satisfiesNameConstraints([dns('*.foo.example.com')], excluding('bar.example.com')), true);
  // plain names are unchanged
  assert.equal(satisfiesNameConstraints([dns('foo.example.com')], excluding('bar.example.com')), true);
  assert.equal(satisfiesNameConstraints([dns('bar.example.com')], excluding('bar.example.com')), false);
});

test('a wildcard inside an excluded subtree is refused as before', () => {
  assert.equal(satisfiesNameConstraints([dns('*.example.com')], excluding('example.com')), false);
  assert.equal(satisfiesNameConstraints([dns('*.bar.example.com')], excluding('bar.example.com')), false);
});
