/**
 * Durable writes on the embedded SQLite store, many requests at once: what the group
 * commit of `src/store/durable/sqlite-driver.ts` buys.
 *
 * Each flow does what a sign-in step does to the store: upsert a session, read it back,
 * upsert a grant (`upsertOidcModel` / `findOidcModel`, payload ~0.9 KB, every index of
 * the table touched). Measured at 1 and at CONCURRENCY (default 16) flows in flight,
 * beside the baseline in the same run: the same upsert SQL on a raw better-sqlite3
 * connection to a file with the same pragmas (WAL, `synchronous=FULL`), one autocommit
 * statement (one fsync) per write, which is what the store did before group commit.
 * Rounds interleave (ROUNDS, default 3); prints medians of writes/s and CPU µs/write.
 *
 *   node --import tsx bench/durable-writes.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openSqlite, sqliteCommitStats } from '../src/store/durable/sqlite.js';
import { KyselyDurableStore } from '../src/store/durable/store.js';

const WRITES = Number(process.env['WRITES'] ?? 3000);
const CONCURRENCY = Number(process.env['CONCURRENCY'] ?? 16);
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const payload = { accountId: 'acc', exp: 0, kind: 'Session', authorizations: { app: { sid: 'x'.repeat(24), grantId: 'g'.repeat(43) } }, pad: 'p'.repeat(700) };

const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-writes-'));
const dialect = openSqlite(join(dir, 'store.db'));
const store = new KyselyDurableStore(dialect);
await store.migrate();
const stats = () => ({ ...sqliteCommitStats(dialect.db)! });

const raw = new BetterSqlite3(join(dir, 'raw.db'));
raw.pragma('journal_mode = WAL');
raw.pragma('synchronous = FULL');
raw.exec(`create table oidc_models (model text not null, id text not null, payload text not null, expires_at integer, grant_id text, user_code text, uid text, account_id text, consumed_at integer, primary key (model, id));
create index oidc_models_grant_id on oidc_models (grant_id);
create index oidc_models_uid on oidc_models (model, uid);
create index oidc_models_account on oidc_models (model, account_id);`);
const rawUpsert = raw.prepare(
  'insert into oidc_models (model, id, payload, expires_at, grant_id, user_code, uid, account_id, consumed_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (model, id) do update set payload = excluded.payload, expires_at = excluded.expires_at',
);
const rawFind = raw.prepare('select * from oidc_models where model = ? and id = ?');

let seq = 0;
async function storeFlow(n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    const id = `s${seq++}`;
    await store.upsertOidcModel({ model: 'Session', id, payload, expiresAt: Date.now() + 3600_000, grantId: null, userCode: null, uid: `u${id}`, accountId: 'acc', consumedAt: null });
    await store.findOidcModel('Session', id);
    await store.upsertOidcModel({ model: 'Grant', id: `g${id}`, payload, expiresAt: null, grantId: null, userCode: null, uid: null, accountId: 'acc', consumedAt: null });
  }
}

function rawFlow(n: number): void {
  const text = JSON.stringify(payload);
  for (let k = 0; k < n; k++) {
    const id = `s${seq++}`;
    rawUpsert.run('Session', id, text, Date.now() + 3600_000, null, null, `u${id}`, 'acc', null);
    rawFind.get('Session', id);
    rawUpsert.run('Grant', `g${id}`, text, null, null, null, null, 'acc', null);
  }
}

async function measure(run: () => Promise<void> | void): Promise<{ perSecond: number; cpuUs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: WRITES / (ms / 1000), cpuUs: (cpu.user + cpu.system) / WRITES };
}

const flows = (c: number) => () => Promise.all(Array.from({ length: c }, () => storeFlow(WRITES / 2 / c))).then(() => undefined);
const results: Record<string, Array<{ perSecond: number; cpuUs: number }>> = { raw: [], one: [], many: [] };
let perCommit: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  results.raw!.push(await measure(() => rawFlow(WRITES / 2)));
  results.one!.push(await measure(flows(1)));
  const before = stats();
  results.many!.push(await measure(flows(CONCURRENCY)));
  const after = stats();
  perCommit.push((after.statements - before.statements) / (after.groups - before.groups));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const row = (name: string, k: string) => {
  const rs = results[k]!;
  const ps = median(rs.map((x) => x.perSecond));
  return `| ${name} | ${ps.toFixed(0)} | ${(ps / median(results.raw!.map((x) => x.perSecond))).toFixed(2)}× | ${median(rs.map((x) => x.cpuUs)).toFixed(0)} |`;
};
process.stdout.write(`Durable writes, SQLite (WAL, synchronous=FULL), ${WRITES} writes per measurement, medians of ${ROUNDS} interleaved rounds

| writer | writes/s | × raw autocommit | CPU µs/write |
|---|---:|---:|---:|
${row('raw better-sqlite3, one autocommit per write (baseline)', 'raw')}
${row('store, 1 flow at a time', 'one')}
${row(`store, ${CONCURRENCY} flows at once (group commit)`, 'many')}

Statements per commit with ${CONCURRENCY} flows (reads queued behind writes included): ${median(perCommit).toFixed(1)}
`);
raw.close();
await store.close();
rmSync(dir, { recursive: true, force: true });
