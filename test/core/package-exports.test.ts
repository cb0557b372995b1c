/**
 * The package's entry points (package.json `exports` and `bin`) name files the build
 * produces: each `./dist/X.js` comes from `src/X.ts` (tsconfig.build.json), which
 * exists and exports what the docs tell users to import. The main entry once named a
 * `dist/index.js` that no source produced, so `import 'portcullis'` failed.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, string>; bin: Record<string, string> };

function sourceOf(distPath: string): URL {
  const m = /^\.\/dist\/(.+)\.js$/.exec(distPath);
  assert.ok(m, `${distPath} is a file under ./dist`);
  return new URL(`../../src/${m[1]}.ts`, import.meta.url);
}

const expected: Record<string, string[]> = {
  '.': ['startPortcullis', 'initPortcullis', 'CONFIG_FILE', 'PortcullisError', 'isPortcullisError', 'signMessage', 'verifyMessage', 'registerStructuredField', 'contentDigest'],
  './sdk': ['createSignedFetch', 'verifyResponse', 'verifyWebhook', 'getToken', 'encryptForPortcullis', 'createTransitClient', 'PortcullisError'],
};

for (const [entry, file] of Object.entries(pkg.exports)) {
  test(`package entry ${entry} (${file}) is built from a source that exports what the docs name`, async () => {
    const src = sourceOf(file);
    assert.ok(existsSync(src), `${src.pathname} exists`);
    const mod = (await import(src.href)) as Record<string, unknown>;
    const names = expected[entry];
    assert.ok(names, `the test lists what ${entry} must export`);
    for (const name of names) assert.notEqual(mod[name], undefined, `${entry} exports ${name}`);
  });
}

test('the portcullis command is built from a source file', () => {
  for (const file of Object.values(pkg.bin)) assert.ok(existsSync(sourceOf(file.startsWith('./') ? file : `./${file}`)), file);
});
