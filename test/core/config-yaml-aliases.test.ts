/**
 * YAML aliases in portcullis.yaml: a "billion laughs" alias bomb and an alias to an anchor
 * that is not (yet) set are refused as config.parse naming the file, like any other YAML
 * error; they escaped as an untyped ReferenceError (`error: internal:` from the CLI).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText } from '../../src/core/config/load.js';
import { isPortcullisError } from '../../src/core/errors.js';

const row = (name: string, item: string) => `${name}: &${name} [${Array(9).fill(item).join(', ')}]`;
const BOMB = [row('a', '"lol"'), row('b', '*a'), row('c', '*b'), row('d', '*c'), row('e', '*d'), row('f', '*e')].join('\n');

test('attack: a YAML alias bomb → config.parse naming the file, not an untyped error', () => {
  assert.throws(
    () => parseConfigText(BOMB, 'bomb.yaml'),
    (e: unknown) => isPortcullisError(e) && e.code === 'config.parse' && e.message.startsWith('bomb.yaml: YAML error') && /alias/i.test(e.message),
  );
});

test('an alias to an anchor that is not set → config.parse naming the file', () => {
  assert.throws(
    () => parseConfigText('issuer: *nowhere\n', 'alias.yaml'),
    (e: unknown) => isPortcullisError(e) && e.code === 'config.parse' && e.message.startsWith('alias.yaml: YAML error') && /alias/i.test(e.message),
  );
});

test('a few ordinary aliases still load', () => {
  assert.deepEqual(parseConfigText('x: &s [a, b]\ny: *s\n'), { x: ['a', 'b'], y: ['a', 'b'] });
});
