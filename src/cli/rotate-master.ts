/**
 * `portcullis keys rotate-master`: rewraps every data key under a new master key, against
 * the store directly (the node may keep serving: its data keys do not change), verifies
 * every sealed value, then swaps the master key file atomically; the run is in the audit
 * trail (actor `cli`) before it answers. See docs/operations.md.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { resolveIn } from '../core/config/load.js';
import type { DurableStore } from '../store/types.js';
import { loadFor, withDirOptions, type NodeOptions } from './context.js';
import { action, printJson } from './output.js';

/**
 * Opens the audit key with the current master key (and the new one an interrupted run left,
 * under which some data keys may be wrapped already) and sets it on the store, so that the
 * run's audit events record an authenticated head, as a node's do (audit/head-key.ts). A
 * store no node has started yet holds no data key: nothing to open (the rotation refuses it).
 */
async function useAuditHeadKey(store: DurableStore, masterKeyFile: string, gcm: { invocationLimit: number; reserveBlock: number }): Promise<void> {
  const { DEK_PREFIX, Envelope } = await import('../crypto/envelope.js');
  if ((await store.listSettings(DEK_PREFIX)).length === 0) return;
  const { readMasterKeyFile } = await import('../crypto/master-key.js');
  const { GcmMeter } = await import('../crypto/gcm-usage.js');
  const { openAuditHeadKey } = await import('../audit/head-key.js');
  const masterKey = readMasterKeyFile(masterKeyFile);
  const pending = existsSync(`${masterKeyFile}.new`) ? readMasterKeyFile(`${masterKeyFile}.new`) : undefined;
  try {
    const usage = new GcmMeter(store, { limit: gcm.invocationLimit, block: gcm.reserveBlock });
    const envelope = await Envelope.open(store, masterKey, pending ? { usage, alsoUnder: pending } : { usage });
    store.useAuditHeadKey(await openAuditHeadKey(store, envelope));
  } finally {
    masterKey.fill(0);
    pending?.fill(0);
  }
}

export function registerRotateMaster(keys: Command): void {
  withDirOptions(keys.command('rotate-master'))
    .description('rotate the master key online: rewrap every data key, verify every sealed value, swap the key file')
    .option('--keep-old', 'keep the previous key as <masterKeyFile>.old (needed to read backups made before the rotation)')
    .option('--json', 'print JSON')
    .action(
      action(async (o: NodeOptions & { keepOld?: boolean; json?: boolean }) => {
        const { openDurableStore } = await import('../store/index.js');
        const { rotateMasterKey } = await import('../crypto/rotate-master.js');
        const { AuditTrail } = await import('../audit/trail.js');
        const { silentLogger } = await import('../core/logger.js');
        const loaded = loadFor(o);
        const store = await openDurableStore(loaded.config.store, { baseDir: loaded.dir, statementTimeoutMs: loaded.config.postgres.statementTimeout });
        try {
          const file = resolveIn(loaded.dir, loaded.config.masterKeyFile);
          await useAuditHeadKey(store, file, loaded.config.encryption.aesGcm);
          const r = await rotateMasterKey(store, file, { keepOld: o.keepOld ?? false, audit: new AuditTrail(store, silentLogger), actor: 'cli' });
          if (o.json) {
            return printJson({
              master_key_file: file,
              old_master_key_id: r.oldMasterKeyId,
              new_master_key_id: r.newMasterKeyId,
              data_keys: r.dataKeys,
              sealed_values: r.sealedValues,
              verified: r.verified,
              old_key_file: r.oldKeyFile,
              resumed: r.resumed,
            });
          }
          process.stdout.write(`${r.resumed ? 'resumed and ' : ''}rewrapped ${r.dataKeys.length} data key(s); ${r.sealedValues} sealed value(s) in the store, ${r.verified} decrypted with the new key\n`);
          process.stdout.write(`new master key ${r.newMasterKeyId} (was ${r.oldMasterKeyId}) in ${file}${r.oldKeyFile ? `; previous key kept in ${r.oldKeyFile}` : ''}\n`);
          process.stderr.write('Copy the new master key file to every other node before it next restarts (running nodes need no restart).\n');
        } finally {
          await store.close();
        }
      }),
    );
}
