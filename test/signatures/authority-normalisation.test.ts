/**
 * `@authority` normalisation (RFC 9421 §2.2.3: "normalized according to the rules
 * provided in [HTTP], Section 4.2.3", which follows RFC 3986 §6): the host is
 * case-insensitive and lowercased, but the hex digits of a percent-encoding are
 * uppercased (§6.2.2.1) and an encoded unreserved character is decoded (§6.2.2.2); a
 * port that is empty or the scheme's default, leading zeros or not, is omitted
 * (§6.2.3), and another port is its decimal number. `:0443` had been kept while
 * `:443` was dropped, and `%c3%A9` lowercased, so two spellings of one authority made
 * two signature bases.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { componentValue } from '../../src/signatures/components.js';
import { parseComponentId } from '../../src/signatures/signature-input.js';

const authority = (url: string): string => componentValue(parseComponentId('@authority'), { method: 'GET', url, headers: {} });

const VECTORS: readonly (readonly [string, string])[] = [
  ['https://www.example.com/x', 'www.example.com'],
  ['HTTPS://WWW.Example.COM:443/x', 'www.example.com'],
  ['https://example.com:0443/x', 'example.com'],
  ['https://example.com:00443/x', 'example.com'],
  ['http://example.com:080/x', 'example.com'],
  ['http://example.com:/x', 'example.com'],
  ['http://example.com:443/x', 'example.com:443'],
  ['https://example.com:80/x', 'example.com:80'],
  ['http://example.com:8080/x', 'example.com:8080'],
  ['http://example.com:08080/x', 'example.com:8080'],
  ['http://example.com:0/x', 'example.com:0'],
  ['http://example.com:000/x', 'example.com:0'],
  ['https://caf%c3%a9.example/x', 'caf%C3%A9.example'],
  ['https://CAF%C3%A9.Example/x', 'caf%C3%A9.example'],
  ['https://%41%62c.example/x', 'abc.example'],
  ['https://a%2db%7E%5f%2E.example/x', 'a-b~_..example'],
  ['https://a%2cb.example/x', 'a%2Cb.example'],
  ['https://[2001:DB8::1]:443/x', '[2001:db8::1]'],
  ['http://[2001:db8::1]:8080/x', '[2001:db8::1]:8080'],
  ['https://192.0.2.1:0443/x', '192.0.2.1'],
];

describe('@authority is normalised as RFC 9421 §2.2.3 / RFC 3986 §6.2.2–6.2.3 say', () => {
  for (const [url, want] of VECTORS) {
    it(`${url} → ${want}`, () => assert.equal(authority(url), want));
  }

  it('two spellings of one authority give one signature-base value', () => {
    assert.equal(authority('https://Example.com:0443/'), authority('https://example.com/'));
    assert.equal(authority('https://caf%c3%a9.example/'), authority('https://caf%C3%A9.example/'));
  });
});
