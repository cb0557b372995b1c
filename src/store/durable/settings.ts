/** Queries on the `settings` table (SettingsStore). */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function getSetting(db: Kysely<Database>, name: string): Promise<string | undefined> {
  const r = await db.selectFrom('settings').select('value').where('name', '=', name).executeTakeFirst();
  return r?.value;
}

/** Insert-or-nothing, then read: every concurrent caller, on any node, sees the one value that won. */
export async function setSettingIfAbsent(db: Kysely<Database>, name: string, value: string): Promise<string> {
  await db
    .insertInto('settings')
    .values({ name, value })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const stored = await getSetting(db, name);
  // Settings are never deleted, so a row that conflicted is still there.
  if (stored === undefined) throw new Error(`setting ${name} vanished after insert`);
  return stored;
}

export async function putSetting(db: Kysely<Database>, name: string, value: string): Promise<void> {
  await db
    .insertInto('settings')
    .values({ name, value })
    .onConflict((oc) => oc.column('name').doUpdateSet({ value }))
    .execute();
}
