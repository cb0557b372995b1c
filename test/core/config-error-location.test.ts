/**
 * A configuration error names the key and where its value came from: the line of the
 * YAML file, or the environment variable that overrode it. "tokens.accessTokenTtl: …,
 * got "ten"" alone sent the operator to a file that does not say "ten" when
 * PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL did, and left a long route list to be counted by hand.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/core/config/load.js';
import { PortcullisError } from '../../src/core/errors.js';
import { tempDir } from '../support/portcullis.js';

const dir = tempDir('portcullis-config-location-');
after(() => rmSync(dir, { recursive: true, force: true }));

const FILE = `issuer: https://127.0.0.1:8080
tokens:
  accessTokenTtl: ten
routes:
  - name: orders
    match: { pathPrefix: /orders }
    upstream: http://127.0.0.1:9000
  - name: partner
    match: { pathPrefix: /partner }
    upstrem: http://127.0.0.1:9001
  - name: orders
    match: { pathPrefix: /more }
    upstream: http://127.0.0.1:9002
`;

function messageOf(text: string, env: NodeJS.ProcessEnv = {}): string {
  const file = join(dir, 'portcullis.yaml');
  writeFileSync(file, text);
  try {
    loadConfig(file, env);
  } catch (e) {
    assert.ok(e instanceof PortcullisError, String(e));
    assert.equal(e.code, 'config.invalid');
    return e.message;
  }
  assert.fail('the configuration was accepted');
}

test('every error of the file names its line: the bad value, the unknown key, the key a required one is missing under', () => {
  assert.equal(
    messageOf(FILE),
    [
      'invalid configuration:',
      '  tokens.accessTokenTtl: expected a duration such as "30s", "10m" or "24h", got "ten" (line 3)',
      '  routes[1].upstream: expected an http(s) URL (line 8)',
      '  routes[1]: unknown key "upstrem" (line 10)',
    ].join('\n'),
  );
});

test('a duplicate route name names the line of the second one', () => {
  assert.equal(messageOf(FILE.replace('accessTokenTtl: ten', 'accessTokenTtl: 10m').replace('upstrem', 'upstream')), 'invalid configuration:\n  routes[2].name: duplicate route name "orders" (line 11)');
});

test('a value set by an environment variable names the variable, not the line of the value it replaced', () => {
  assert.equal(
    messageOf(FILE.replace('accessTokenTtl: ten', 'accessTokenTtl: 10m').replace('upstrem', 'upstream').replace('name: orders\n    match: { pathPrefix: /more }', 'name: more\n    match: { pathPrefix: /more }'), { PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL: 'ten' }),
    'invalid configuration:\n  tokens.accessTokenTtl: expected a duration such as "30s", "10m" or "24h", got "ten" (PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL)',
  );
});
