#!/usr/bin/env node
/**
 * The `portcullis` command: init, start, config check, and management commands that
 * call the admin API of the running node (app, keys, audit). Heavy modules load only
 * in the commands that need them, so management commands start fast.
 */
import { Command } from 'commander';
import { registerApp } from './app.js';
import { registerAudit } from './audit.js';
import { registerConfig } from './config.js';
import { registerInit } from './init.js';
import { registerKeys } from './keys.js';
import { registerStart } from './start.js';
import { registerLockout, registerUser } from './user.js';
import { registerWebhooks } from './webhooks.js';
import { registerCert } from './cert.js';
import { registerCa } from './ca.js';
import { registerTransit } from './transit.js';
import { refuseRepeatedOptions } from './options.js';
import { escapeControls } from './output.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('portcullis')
    .description('API security platform: tokens, MFA, HTTP message signatures, encryption and a built-in CA')
    .version('0.1.0')
    // program options only before the command: `transit encrypt … --version 2` is the command's own option
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    // a usage error echoes the argument it refuses: with its control characters escaped
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'error: usage: ').split('\n').map(escapeControls).join('\n')) });
  registerInit(program);
  registerStart(program);
  registerConfig(program);
  registerApp(program);
  registerUser(program);
  registerLockout(program);
  registerKeys(program);
  registerAudit(program);
  registerWebhooks(program);
  registerCert(program);
  registerCa(program);
  registerTransit(program);
  // after every command is registered: a single-valued option given twice is a usage error
  refuseRepeatedOptions(program);
  return program;
}

// A reader that stops early (`portcullis audit tail | head`) closes the pipe: stop quietly
// with the status a SIGPIPE gives Unix tools (128 + 13), never an unhandled 'error' event.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(141);
});

await buildProgram().parseAsync(process.argv);
