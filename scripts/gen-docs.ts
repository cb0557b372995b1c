/**
 * Generates docs/configuration.md from the config schema and docs/errors.md from
 * the error catalogue (`npm run docs`). A test fails when the committed files differ.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigReference, renderErrorCatalogue } from '../src/core/docs.js';

const root = fileURLToPath(new URL('..', import.meta.url));
writeFileSync(`${root}docs/configuration.md`, renderConfigReference());
writeFileSync(`${root}docs/errors.md`, renderErrorCatalogue());
console.log('wrote docs/configuration.md and docs/errors.md');
