/**
 * `portcullis start --dir DIR [--init]`: serves the planes the config names. On SIGTERM
 * or SIGINT it stops accepting, finishes in-flight requests, flushes the audit trail,
 * closes the stores and exits 0; a second signal exits at once with status 1.
 */
import type { Command } from 'commander';
import { configFileOf, defaultDir, withDirOptions } from './context.js';
import { action, reportError } from './output.js';

export function registerStart(program: Command): void {
  withDirOptions(program.command('start'))
    .description('start a node (identity, gateway and admin planes as configured)')
    .option('--init', 'initialise the directory first when it is not (never overwrites)')
    .action(
      action(async (o: { dir?: string; config?: string; init?: boolean }) => {
        const { startPortcullis } = await import('../app.js');
        if (o.init) {
          const { initPortcullis } = await import('../init.js');
          const { silentLogger } = await import('../core/logger.js');
          const r = await initPortcullis(o.dir ?? defaultDir(), { logger: silentLogger });
          for (const f of r.created) process.stderr.write(`created ${f}\n`);
        }
        const node = await startPortcullis({ configFile: configFileOf(o) });
        process.stderr.write(`portcullis: serving ${Object.entries(node.urls).map(([plane, url]) => `${plane} ${url}`).join(', ')}\n`);
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) {
            process.stderr.write(`portcullis: ${signal} again; exiting without waiting\n`);
            process.exit(1);
          }
          stopping = true;
          process.stderr.write(`portcullis: ${signal} received; stopping\n`);
          node.close().then(
            () => process.exit(0),
            (e: unknown) => {
              reportError(e);
              process.exit(1);
            },
          );
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      }),
    );
}
