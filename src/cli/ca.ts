/**
 * `portcullis ca export|import`: the CA read from and written to the durable store
 * directly (no running node needed). `export` prints the root to trust
 * (`curl --cacert`); `import` installs an existing root or intermediate (its key
 * sealed with the master key) — running nodes use it after a restart.
 */
import type { Command } from 'commander';
import { withDirOptions, loadFor, type NodeOptions } from './context.js';
import { action, readOptionFile, writeOptionFile } from './output.js';

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('the built-in certificate authority');
  withDirOptions(ca.command('export'))
    .description('print the root CA certificate (PEM), the trust anchor for clients')
    .option('--out <file>', 'write it to this file instead (replaced whole; never through a symlink)')
    .option('--chain', 'the issuing intermediate followed by the root')
    .action(
      action(async (o: NodeOptions & { out?: string; chain?: boolean }) => {
        const { openCoreServices } = await import('../app.js');
        const { silentLogger } = await import('../core/logger.js');
        const s = await openCoreServices(loadFor(o), { logger: silentLogger });
        try {
          const pem = o.chain ? s.pki.issuing().chainPem : s.pki.rootPem();
          if (o.out) writeOptionFile('--out', o.out, pem, 0o644);
          else process.stdout.write(pem);
        } finally {
          await s.ephemeral.close();
          await s.store.close();
        }
      }),
    );
  withDirOptions(ca.command('import'))
    .description('import an existing root or issuing intermediate (EC P-256/P-384) and make it active')
    .requiredOption('--cert <file>', 'the CA certificate (PEM)')
    .option('--key <file>', 'its PKCS#8 private key (PEM); optional for a root kept offline, required for an intermediate')
    .requiredOption('--role <role>', 'root or intermediate')
    .action(
      action(async (o: NodeOptions & { cert: string; key?: string; role: string }) => {
        const { CliError } = await import('./output.js');
        if (o.role !== 'root' && o.role !== 'intermediate') throw new CliError('request.invalid', '--role must be root or intermediate');
        const { openCoreServices } = await import('../app.js');
        const { silentLogger } = await import('../core/logger.js');
        const { importCa } = await import('../pki/hierarchy.js');
        const { fileSignerKind } = await import('../pki/signer.js');
        const { envelopeSecretBox } = await import('../crypto/secret-box.js');
        const s = await openCoreServices(loadFor(o), { logger: silentLogger });
        try {
          const rec = await importCa({
            store: s.store,
            signerKind: fileSignerKind(envelopeSecretBox(s.envelope)),
            clock: s.clock,
            role: o.role,
            certPem: readOptionFile('--cert', o.cert),
            ...(o.key ? { keyPem: readOptionFile('--key', o.key) } : {}),
          });
          s.audit.record({ time: s.clock.now(), type: 'ca.imported', actor: 'cli', data: { id: rec.id, role: rec.role, key: rec.keyRef ? 'stored' : 'offline' } });
          await s.audit.flush();
          process.stdout.write(`imported ${rec.role} ${rec.id} (active; restart running nodes to use it)\n`);
        } finally {
          await s.ephemeral.close();
          await s.store.close();
        }
      }),
    );
}
