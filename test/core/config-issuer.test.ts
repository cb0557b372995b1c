/**
 * `issuer` must be an issuer identifier (RFC 8414 §2, OpenID Connect Discovery §3): no
 * query, no fragment. Endpoints are the issuer plus a path, so `https://id.example/?t=a`
 * published `https://id.example/?t=a/oauth2/token` in discovery and in invite links; a
 * `user:password@` in it was published to every client. Refused at load, naming the key
 * and never echoing the password.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

test('attack: an issuer with a query, a fragment or user:password → config.invalid naming issuer, the password not echoed', () => {
  for (const issuer of ['https://id.example/?tenant=a', 'https://id.example/#x', 'https://id.example?', 'https://admin:hunter2@id.example', 'https://admin@id.example']) {
    assert.throws(
      () => validateConfig({ issuer }),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && /\n {2}issuer: /.test(e.message) && !e.message.includes('hunter2'),
      issuer,
    );
  }
});

test('issuer URLs with a path, a port or a trailing slash are accepted', () => {
  for (const issuer of ['https://id.example', 'https://id.example/', 'https://id.example:8443/tenant-a', 'http://127.0.0.1:8080']) {
    assert.equal(validateConfig({ issuer }).issuer, issuer);
  }
});
