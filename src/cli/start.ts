/**
 * `portcullis start --dir DIR [--init]`: serves the planes the config names. On SIGTERM,
 * SIGINT or SIGHUP it stops accepting, finishes in-flight requests, flushes the audit
 * trail, closes the stores and exits 0; a second SIGTERM or SIGINT exits at once with
 * status 1.
 */
import type { Command } from 'commander';
import { configFileOf, defaultDir, withDirOptions } from './context.js';
import { action, reportError } from './output.js';

export function registerStart(program: Command): void {
  withDirOptions(program.command('start'))
    .description('start a node (identity, gateway and admin planes as configured)')
    .option('--init', 'initialise the directory first when it is not (never overwrites)')
    .option('--accept-audit-rollback', 'start although the audit trail is behind what this node saw (after a legitimate restore of the database) or its audit anchor cannot be trusted: audited, and the anchor is rewritten')
    .action(
      action(async (o: { dir?: string; config?: string; init?: boolean; acceptAuditRollback?: boolean }) => {
        const { startPortcullis } = await import('../app.js');
        if (o.init) {
          const { initPortcullis } = await import('../init.js');
          const { silentLogger } = await import('../core/logger.js');
          const r = await initPortcullis(o.dir ?? defaultDir(), { logger: silentLogger });
          for (const f of r.created) process.stderr.write(`created ${f}\n`);
        }
        const node = await startPortcullis({ configFile: configFileOf(o), ...(o.acceptAuditRollback ? { acceptAuditRollback: true } : {}) });
        // After a hang-up, stderr is a terminal that is gone: a failed write (EIO) must not end the stop half-way.
        process.stderr.on('error', () => undefined);
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) {
            // a hang-up during the stop, or the SIGHUP a service manager may send along with SIGTERM, asks for nothing more
            if (signal === 'SIGHUP') return;
            process.stderr.write(`portcullis: ${signal} again; exiting without waiting\n`);
            process.exit(1);
          }
          stopping = true;
          const why = signal === 'SIGHUP' ? ' (Portcullis does not reload its configuration: start it again to apply a change)' : '';
          process.stderr.write(`portcullis: ${signal} received; stopping${why}\n`);
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
        // SIGHUP: a terminal that hung up, or someone asking for a reload, which Portcullis does not do
        process.on('SIGHUP', stop);
        // announced only now: a supervisor that stops the node as soon as it reads this line gets a clean stop,
        // where before the handlers were in place its SIGTERM killed the process outright
        process.stderr.write(`portcullis: serving ${Object.entries(node.urls).map(([plane, url]) => `${plane} ${url}`).join(', ')}\n`);
      }),
    );
}
