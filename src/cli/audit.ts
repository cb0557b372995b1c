/** `portcullis audit …`: read and verify the hash-chained audit trail of the running node. */
import type { Command } from 'commander';
import type { AuditRow } from '../audit/store.js';
import { adminClient, withNodeOptions, type NodeOptions } from './context.js';
import { CliError, action, escapeControls, jsonText, printLine } from './output.js';

function line(r: AuditRow, json: boolean | undefined): string {
  if (json) return jsonText(r);
  const parts = [`#${r.seq}`, new Date(r.time).toISOString(), r.type, r.actor];
  if (r.clientId) parts.push(`app=${r.clientId}`);
  if (r.route) parts.push(`route=${r.route}`);
  if (r.reason) parts.push(`reason=${r.reason}`);
  if (r.data) parts.push(jsonText(r.data));
  return escapeControls(parts.join(' '));
}

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new CliError('request.invalid', `-n: expected 1..1000, got ${v}`);
  return n;
};

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit trail');
  withNodeOptions(audit.command('tail'))
    .description('print the newest audit rows (oldest first)')
    .option('-n, --lines <n>', 'how many rows', '20')
    .option('-f, --follow', 'keep printing new rows until interrupted')
    .option('--json', 'one JSON row per line')
    .action(
      action(async (o: NodeOptions & { lines: string; follow?: boolean; json?: boolean }) => {
        const client = adminClient(o);
        const { rows } = await client.call<{ rows: AuditRow[] }>('GET', `/v1/audit/tail?limit=${positive(o.lines)}`);
        for (const r of rows) process.stdout.write(`${line(r, o.json)}\n`);
        if (!o.follow) return;
        let after = rows.at(-1)?.seq ?? 0;
        let stopped = false;
        const stop = () => {
          stopped = true;
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        while (!stopped) {
          const page = await client.call<{ rows: AuditRow[]; next_after: number }>('GET', `/v1/audit?after=${after}&limit=500`);
          for (const r of page.rows) process.stdout.write(`${line(r, o.json)}\n`);
          after = page.next_after;
          if (page.rows.length < 500) await new Promise((res) => setTimeout(res, 1000));
        }
      }),
    );
  withNodeOptions(audit.command('verify'))
    .description('verify the hash chain, and that it still holds the newest event the node saw; exits 1 and names the first broken row')
    .option('--json', 'print JSON')
    .action(
      action(async (o: NodeOptions & { json?: boolean }) => {
        const r = await adminClient(o).call<{ ok: boolean; rows: number; code?: 'audit.chain-broken' | 'audit.trail-missing' | 'audit.head-forged' | 'audit.rolled-back' | 'audit.anchor-invalid'; brokenAt?: number; reason?: string; head?: { seq: number; hash: string } }>('GET', '/v1/audit/verify');
        if (o.json) process.stdout.write(`${jsonText(r)}\n`);
        if (!r.ok && (r.code === 'audit.rolled-back' || r.code === 'audit.anchor-invalid')) throw new CliError(r.code, `${r.reason ?? 'the trail is not what this node saw'} (the chain itself verifies: ${r.rows} rows)`);
        if (!r.ok) throw new CliError(r.code ?? 'audit.chain-broken', `${r.reason ?? 'the chain does not verify'} (first broken row: ${r.brokenAt}; ${r.rows} rows before it verify)`);
        if (!o.json) printLine`ok: ${r.rows} rows verified${r.head ? `; head: row ${r.head.seq}, hash ${r.head.hash}` : ''}`;
      }),
    );
}
