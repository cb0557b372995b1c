/** `portcullis init --dir DIR`: creates what a node needs; never overwrites anything. */
import type { Command } from 'commander';
import { defaultDir } from './context.js';
import { action } from './output.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create the config, master key, admin token, database and first signing key (never overwrites)')
    .option('--dir <dir>', 'Portcullis directory (default: $PORTCULLIS_DIR or ./.portcullis)')
    .option('--root-key-offline <file>', 'write the root CA key to this file once (keep it offline) instead of storing it')
    .action(
      action(async (o: { dir?: string; rootKeyOffline?: string }) => {
        const { initPortcullis } = await import('../init.js');
        const { silentLogger } = await import('../core/logger.js');
        const dir = o.dir ?? defaultDir();
        const r = await initPortcullis(dir, { logger: silentLogger, ...(o.rootKeyOffline ? { rootKeyOfflineFile: o.rootKeyOffline } : {}) });
        if (r.created.length === 0) process.stdout.write(`${dir} is already initialised; nothing changed\n`);
        for (const f of r.created) process.stdout.write(`created ${f}\n`);
      }),
    );
}
