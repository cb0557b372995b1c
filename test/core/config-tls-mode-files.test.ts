/**
 * `tls.certFile` / `tls.keyFile` without `mode: files` (the default mode is `auto`) were
 * accepted and ignored: the operator's certificate was never served, the listeners served
 * one of the built-in CA (or, with `mode: off`, no TLS at all) and `config check` said `ok`.
 * `tls.hosts` outside `mode: auto` was ignored alike. They are now config errors naming the
 * key and its line, as is `mode: files` without both files (it was found only at start,
 * without a line).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

function configError(tls: Record<string, unknown>): string {
  try {
    validateConfig({ tls });
  } catch (e) {
    assert.ok(isPortcullisError(e) && e.code === 'config.invalid', String(e));
    return e.message;
  }
  assert.fail(`accepted: ${JSON.stringify(tls)}`);
}

test('bug: certFile and keyFile under the default mode auto → config.invalid naming both (they would be ignored)', () => {
  assert.equal(
    configError({ certFile: 'cert.pem', keyFile: 'key.pem' }),
    'invalid configuration:\n  tls.certFile: applies to tls.mode files only (the mode is auto): set mode: files to serve this certificate, or remove it\n  tls.keyFile: applies to tls.mode files only (the mode is auto): set mode: files to serve this certificate, or remove it',
  );
});

test('bug: certFile under mode off → config.invalid (no TLS would be served at all)', () => {
  assert.match(configError({ mode: 'off', certFile: 'cert.pem' }), /^invalid configuration:\n {2}tls\.certFile: applies to tls\.mode files only \(the mode is off\)/);
});

test('bug: hosts outside mode auto → config.invalid (only auto certificates carry them)', () => {
  assert.equal(
    configError({ mode: 'files', certFile: 'c.pem', keyFile: 'k.pem', hosts: ['api.example'] }),
    'invalid configuration:\n  tls.hosts: applies to tls.mode auto only (the mode is files): the names come from the certificate in tls.certFile',
  );
});

test('mode files without a key file → config.invalid naming tls.keyFile', () => {
  assert.equal(configError({ mode: 'files', certFile: 'c.pem' }), 'invalid configuration:\n  tls.keyFile: tls.mode files needs tls.certFile and tls.keyFile');
});

test('the error names the line of the ignored key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-tls-'));
  try {
    writeFileSync(join(dir, 'portcullis.yaml'), 'issuer: https://127.0.0.1:8080\ntls:\n  minVersion: TLSv1.3\n  certFile: cert.pem\n  keyFile: key.pem\n');
    assert.throws(
      () => loadConfig(join(dir, 'portcullis.yaml'), {}),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes('tls.certFile: applies to tls.mode files only (the mode is auto): set mode: files to serve this certificate, or remove it (line 4)'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the valid combinations still load', () => {
  assert.equal(validateConfig({ tls: { mode: 'files', certFile: 'c.pem', keyFile: 'k.pem' } }).tls.certFile, 'c.pem');
  assert.deepEqual(validateConfig({ tls: { hosts: ['api.example'] } }).tls.hosts, ['api.example']);
  assert.equal(validateConfig({ tls: { mode: 'off' } }).tls.mode, 'off');
});
