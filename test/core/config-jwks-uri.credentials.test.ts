/**
 * An external issuer's `jwksUri` with `user:password@` was accepted, and the key set was
 * never fetched (fetch refuses a URL that holds credentials), while the node logged the
 * URL on each failed retrieval, and fetch's error quoting it, password included:
 * `JWKS prefetch failed {"jwksUri":"https://idp:hunter2@…","err":"TypeError: Request
 * cannot be constructed from a URL that includes credentials: https://idp:hunter2@…"}`.
 * Refused at load, naming the key, never echoing the password.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';
import { initDir } from '../admin/node.js';
import { runCli } from '../cli/run.js';

const PATH = 'routes[0].require.token.issuers[0].jwksUri';

function routeWith(jwksUri: string): Record<string, unknown> {
  return { routes: [{ name: 'partner', match: {}, upstream: 'http://127.0.0.1:9', require: { token: { audience: 'orders-api', issuers: [{ issuer: 'https://partner.example', jwksUri }] } } }] };
}

test('attack: a jwksUri with user:password → config.invalid naming the key, the password not echoed', () => {
  for (const jwksUri of ['https://idp:hunter2@partner.example/jwks.json', 'https://idp@partner.example/jwks.json', 'https://:hunter2@partner.example/jwks.json']) {
    assert.throws(
      () => validateConfig(routeWith(jwksUri)),
      (e: unknown) => isPortcullisError(e) && e.code === 'config.invalid' && e.message.includes(`\n  ${PATH}: `) && !e.message.includes('hunter2'),
      jwksUri,
    );
  }
});

test('jwksUri without credentials, with a port, a path or a query, is accepted', () => {
  for (const jwksUri of ['https://partner.example/.well-known/jwks.json', 'http://127.0.0.1:8443/jwks', 'https://partner.example/jwks?tenant=a']) {
    const cfg = validateConfig(routeWith(jwksUri));
    const issuer = cfg.routes[0]!.require.token!.issuers[0] as { jwksUri: string };
    assert.equal(issuer.jwksUri, jwksUri);
  }
});

test('attack: `portcullis config check` on a jwksUri with user:password → exit 1, error: config.invalid with the line, no password', async () => {
  const { dir } = await initDir();
  try {
    const config = join(dir, 'jwks.yaml');
    writeFileSync(
      config,
      `routes:
  - name: partner
    match: { pathPrefix: /partner }
    upstream: http://127.0.0.1:9
    require:
      token:
        audience: orders-api
        issuers:
          - issuer: https://partner.example
            jwksUri: https://idp:hunter2@partner.example/jwks.json
`,
    );
    const r = await runCli(['config', 'check', '--config', config], {}, 60_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: config\\.invalid: invalid configuration:\\n  ${PATH.replace(/[[\].]/g, '\\$&')}: .* \\(line 10\\)\\n$`));
    assert.ok(!(r.stdout + r.stderr).includes('hunter2'), 'the password was printed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
