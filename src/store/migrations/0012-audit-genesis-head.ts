/**
 * The audit chain's head recorded from the start: an empty trail gets the head of the
 * empty chain (seq 0, the genesis hash). Appends only move a recorded head, so a trail
 * whose rows and head were both deleted is never taken for a new one, and the appends
 * that follow start no new chain (`audit verify`: `audit.trail-missing`).
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const auditGenesisHead: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await sql`insert into audit_head (id, seq, hash) select 1, 0, ${'0'.repeat(64)} where not exists (select 1 from audit_head) and not exists (select 1 from audit_log)`.execute(db);
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await sql`delete from audit_head where seq = 0`.execute(db);
  },
};
