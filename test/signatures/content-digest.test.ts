/** RFC 9530 Content-Digest: the RFC examples, parsing rules, and a body checked while it streams. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortcullisError } from '../../src/core/errors.js';
import { nodeHasherFactory } from '../../src/http/content-digest-node.js';
import {
  bufferingHasherFactory,
  contentDigest,
  contentDigestChecker,
  contentDigester,
  contentDigestVerifyStream,
  parseContentDigest,
  type HasherFactory,
} from '../../src/signatures/content-digest.js';

const HELLO = new TextEncoder().encode('{"hello": "world"}');
const SHA256 = 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:';
const SHA512 = 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:';
const code = (c: string) => (e: unknown) => e instanceof PortcullisError && e.code === c;

function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function drain(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

describe('Content-Digest (RFC 9530)', () => {
  it('reproduces the RFC example digests of {"hello": "world"}', async () => {
    assert.equal(await contentDigest(HELLO, ['sha-256']), SHA256);
    assert.equal(await contentDigest(HELLO, ['sha-512']), SHA512);
    assert.equal(await contentDigest(HELLO, ['sha-256', 'sha-512']), `${SHA256}, ${SHA512}`);
  });

  it('ignores algorithms it does not accept, rejects a wrong length, a repeat and a non-byte-sequence', () => {
    assert.deepEqual([...parseContentDigest(`md5=:AAAA:, ${SHA256}`).keys()], ['sha-256']);
    assert.throws(() => parseContentDigest('sha-256=:AAAA:'), code('digest.malformed'));
    assert.throws(() => parseContentDigest(`${SHA256}, ${SHA256}`), code('digest.malformed'));
    assert.throws(() => parseContentDigest('sha-256="X48E9q"'), code('digest.malformed'));
    assert.throws(() => parseContentDigest('sha-256=:not base64'), code('digest.malformed'));
  });

  it('a header with no accepted algorithm, or none at all, is digest.missing', () => {
    assert.throws(() => contentDigestChecker('md5=:AAAA:, unixsum=:AAAA:', nodeHasherFactory), code('digest.missing'));
    assert.throws(() => contentDigestChecker(null, nodeHasherFactory), code('digest.missing'));
  });

  for (const [name, factory] of [['node:crypto', nodeHasherFactory], ['buffering WebCrypto', bufferingHasherFactory]] as [string, HasherFactory][]) {
    it(`${name}: a body streamed in 3-byte chunks passes through unchanged and matches sha-256 and sha-512`, async () => {
      const out = await drain(chunked(HELLO, 3).pipeThrough(contentDigestVerifyStream(`${SHA256}, ${SHA512}`, factory)));
      assert.deepEqual(out, HELLO);
    });

    it(`${name}: tampered streamed body → the stream errors with digest.mismatch`, async () => {
      const tampered = new TextEncoder().encode('{"hello": "World"}');
      await assert.rejects(drain(chunked(tampered, 4).pipeThrough(contentDigestVerifyStream(SHA512, factory))), code('digest.mismatch'));
    });

    it(`${name}: truncated streamed body → digest.mismatch`, async () => {
      const check = contentDigestChecker(SHA256, factory);
      check.update(HELLO.slice(0, 10));
      await assert.rejects(check.finish(), code('digest.mismatch'));
    });

    it(`${name}: contentDigester computes the header over a streamed body`, async () => {
      const d = contentDigester(factory, ['sha-256', 'sha-512']);
      for (let i = 0; i < HELLO.length; i += 5) d.update(HELLO.slice(i, i + 5));
      assert.equal(await d.finish(), `${SHA256}, ${SHA512}`);
    });
  }
});
