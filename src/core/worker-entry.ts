/**
 * Where a worker thread's module is: the compiled `.js` beside the caller, or (tests,
 * `tsx`) the `.ts` source behind tsx's loader, which Node 20 does not pass on to workers.
 *
 * @example
 * const e = workerEntry(new URL('./thread-entry.js', import.meta.url));
 * new Worker(e.file, { eval: e.eval, workerData });
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function workerEntry(js: URL): { file: URL | string; eval: boolean } {
  if (existsSync(fileURLToPath(js))) return { file: js, eval: false };
  const ts = new URL(js.href.replace(/\.js$/, '.ts')).href;
  // tsx as this package resolves it: a worker's `eval` resolves bare names from the working directory
  return { file: `import(${JSON.stringify(tsxApi())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts)}); });`, eval: true };
}

function tsxApi(): string {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return 'tsx/esm/api';
  }
}
