/**
 * `portcullis config check`: validates the configuration and the files it names (as
 * `start` reads them) without starting; prints `ok` or the errors. On stderr, what start
 * would log about the one-time-code sender (`note:` the factor is off, `warning:` a
 * development sender).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { resolveIn } from '../core/config/load.js';
import { readMasterKeyFile } from '../crypto/master-key.js';
import { readAdminToken } from '../http/admin-auth.js';
import { readTlsFiles, tlsFilesOf } from '../http/tls.js';
import { clientCertificateFiles } from '../gateway/client-certificate-policy.js';
import { otpSenderNotice } from '../mfa/otp/sender-notice.js';
import { CliError, action } from './output.js';
import { loadFor, withDirOptions } from './context.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration tools');
  withDirOptions(config.command('check'))
    .description('validate the configuration (schema, environment overrides, referenced files)')
    .action(
      action(async (o: { dir?: string; config?: string }) => {
        const { config: cfg, dir } = loadFor(o);
        const missing = (['masterKeyFile', 'adminTokenFile'] as const)
          .filter((k) => !existsSync(resolveIn(dir, cfg[k])))
          .map((k) => `  ${k}: file ${cfg[k]} does not exist (run \`portcullis init\`)`);
        if (missing.length) throw new CliError('config.not-found', `configuration refers to missing files:\n${missing.join('\n')}`);
        // read as start reads them: a file of the wrong kind, mode or content is refused here too
        readMasterKeyFile(resolveIn(dir, cfg.masterKeyFile));
        readAdminToken(resolveIn(dir, cfg.adminTokenFile));
        // what start would refuse: the certificate and key of tls.mode files, the caBundle and crls of routes
        const tlsFiles = tlsFilesOf(cfg, (f) => resolveIn(dir, f));
        if (tlsFiles !== undefined) readTlsFiles(tlsFiles);
        for (const r of cfg.routes) {
          if (r.require.clientCertificate !== undefined) clientCertificateFiles(r.name, r.require.clientCertificate, (f) => resolveIn(dir, f), Date.now);
        }
        // what start logs about the code factor: off without a sender, a warning for a development sender
        const otp = otpSenderNotice(cfg.identity.otp, resolveIn(dir, cfg.identity.otp.file));
        if (otp) process.stderr.write(`${otp.level === 'warn' ? 'warning' : 'note'}: ${otp.message}\n`);
        process.stdout.write('ok\n');
      }),
    );
}
