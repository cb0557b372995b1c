/** `portcullis keys …`: the signing key ring of the running node. */
import type { Command } from 'commander';
import { adminClient, withNodeOptions, type NodeOptions } from './context.js';
import { action, printJson, printLine, printTable } from './output.js';
import { registerRotateMaster } from './rotate-master.js';

interface KeyView {
  kid: string;
  alg: string;
  state: string;
  activates_at: string;
  expires_at: string | null;
}

function printKeys(keys: KeyView[]): void {
  printTable([['KID', 'STATE', 'ALG', 'SIGNS FROM', 'PUBLISHED UNTIL'], ...keys.map((k) => [k.kid, k.state, k.alg, k.activates_at, k.expires_at ?? '-'])]);
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('signing keys');
  registerRotateMaster(keys);
  withNodeOptions(keys.command('list'))
    .description('list signing keys and their state')
    .option('--json', 'print JSON')
    .action(
      action(async (o: NodeOptions & { json?: boolean }) => {
        const r = await adminClient(o).call<{ signing_kid: string | null; keys: KeyView[] }>('GET', '/v1/keys');
        if (o.json) printJson(r);
        else printKeys(r.keys);
      }),
    );
  withNodeOptions(keys.command('rotate'))
    .description('rotate now: the next key signs, the old one stays published until its tokens expire')
    .option('--json', 'print JSON')
    .action(
      action(async (o: NodeOptions & { json?: boolean }) => {
        const r = await adminClient(o).call<{ activated: string; next: string; keys: KeyView[] }>('POST', '/v1/keys/rotate');
        if (o.json) printJson(r);
        else printLine`signing key is now ${r.activated} (next: ${r.next})`;
      }),
    );
}
