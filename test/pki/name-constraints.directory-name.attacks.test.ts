/**
 * Directory-name constraints (RFC 5280 §4.2.1.10, §7.1): attribute values are compared as
 * normalised names, not bytes — case-insensitive, internal whitespace collapsed,
 * leading and trailing whitespace trimmed, and a PrintableString equal to a UTF8String
 * of the same text. Otherwise a name re-encoded (other case, other string type, padded)
 * slips past an excluded subtree, and a legitimate name is refused by a permitted one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { satisfiesNameConstraints } from '../../src/pki/name-constraints.js';
import type { NameConstraints } from '../../src/pki/parse.js';

const C = '2.5.4.6';
const O = '2.5.4.10';
const CN = '2.5.4.3';
type Attr = [type: string, kind: 'printableString' | 'utf8String' | 'bmpString', text: string];

const dn = (...attrs: Attr[]) => ({
  type: 'dn' as const,
  value: new Uint8Array(AsnConvert.serialize(new Name(attrs.map(([type, kind, text]) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ [kind]: text }) })]))))),
});
const excluding = (base: ReturnType<typeof dn>): NameConstraints => ({ permitted: null, excluded: [{ name: base }] });
const permitting = (base: ReturnType<typeof dn>): NameConstraints => ({ permitted: [{ name: base }], excluded: [] });

test('attack: a subject re-encoded (other case, other string type, extra whitespace) slips past an excluded directory subtree → refused', () => {
  const nc = excluding(dn([C, 'printableString', 'US'], [O, 'utf8String', 'Evil Corp']));
  assert.equal(satisfiesNameConstraints([dn([C, 'printableString', 'US'], [O, 'utf8String', 'Evil Corp'], [CN, 'utf8String', 'x'])], nc), false, 'the same bytes');
  assert.equal(satisfiesNameConstraints([dn([C, 'printableString', 'us'], [O, 'utf8String', 'evil corp'], [CN, 'utf8String', 'x'])], nc), false, 'other case');
  assert.equal(satisfiesNameConstraints([dn([C, 'utf8String', 'US'], [O, 'printableString', 'Evil Corp'], [CN, 'utf8String', 'x'])], nc), false, 'other string types');
  assert.equal(satisfiesNameConstraints([dn([C, 'printableString', 'US'], [O, 'utf8String', '  Evil   Corp '], [CN, 'utf8String', 'x'])], nc), false, 'whitespace');
  assert.equal(satisfiesNameConstraints([dn([C, 'printableString', 'US'], [O, 'bmpString', 'EVIL CORP'], [CN, 'utf8String', 'x'])], nc), false, 'a BMPString');
  assert.equal(satisfiesNameConstraints([dn([C, 'printableString', 'US'], [O, 'utf8String', 'Evil Corps'], [CN, 'utf8String', 'x'])], nc), true, 'another organisation');
});

test('a legitimate subject encoded differently from a permitted directory subtree is accepted; one outside it is still refused', () => {
  const nc = permitting(dn([O, 'printableString', 'Example']));
  assert.equal(satisfiesNameConstraints([dn([O, 'utf8String', 'example'], [CN, 'utf8String', 'app1'])], nc), true);
  assert.equal(satisfiesNameConstraints([dn([O, 'printableString', ' EXAMPLE '], [CN, 'utf8String', 'app1'])], nc), true);
  assert.equal(satisfiesNameConstraints([dn([O, 'utf8String', 'Examples'], [CN, 'utf8String', 'app1'])], nc), false);
  assert.equal(satisfiesNameConstraints([dn([C, 'printableString', 'US'], [O, 'utf8String', 'Example'])], nc), false, 'the base must be a prefix');
});
