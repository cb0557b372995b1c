/**
 * Versioned schema migrations, kept in code (no files to ship) and run on open.
 * The pending migrations run in one transaction on every dialect (SQLite DDL is
 * transactional: see `TransactionalDdlSqliteAdapter`), under a lock that serialises
 * concurrent runs (PostgreSQL: Kysely's advisory lock; SQLite: the write lock that
 * `BEGIN IMMEDIATE` takes), so two nodes opening the same fresh database at once apply
 * each migration once, and a crash in the middle leaves the schema as it was.
 */
import { Migrator, type Kysely, type Migration } from 'kysely';
import { PortcullisError } from '../../core/errors.js';
import { initial } from './0001-initial.js';
import { pki } from './0002-pki.js';
import { identityMfa } from './0003-identity-mfa.js';
import { usersOidc } from './0004-users-oidc.js';
import { appSigningKeys } from './0005-app-signing-keys.js';
import { webhooks } from './0006-webhooks.js';
import { encryption } from './0007-encryption.js';
import { oidcHashedIds } from './0008-oidc-hashed-ids.js';
import { auditHead } from './0009-audit-head.js';
import { certificateLineage } from './0010-certificate-lineage.js';
import { gcmKeyUsage } from './0011-gcm-key-usage.js';
import { auditGenesisHead } from './0012-audit-genesis-head.js';
import { listOrderIndexes } from './0013-list-order-indexes.js';
import { mfaLastStep } from './0014-mfa-last-step.js';
import { auditHeadMac } from './0015-audit-head-mac.js';
import { webhookDeliveryPerSubscription } from './0016-webhook-delivery-per-subscription.js';
import { appServedAudiences } from './0017-app-served-audiences.js';
import { lockoutState } from './0018-lockout-state.js';
import { publishedCrls } from './0019-published-crls.js';
import { webauthnSuspended } from './0020-webauthn-suspended.js';
import { publicAppAuthNone } from './0021-public-app-auth-none.js';
import { webhookDisabled } from './0022-webhook-disabled.js';

/** Names sort in the order they apply; never rename or edit one that shipped. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-pki': pki,
  '0003-identity-mfa': identityMfa,
  '0004-users-oidc': usersOidc,
  '0005-app-signing-keys': appSigningKeys,
  '0006-webhooks': webhooks,
  '0007-encryption': encryption,
  '0008-oidc-hashed-ids': oidcHashedIds,
  '0009-audit-head': auditHead,
  '0010-certificate-lineage': certificateLineage,
  '0011-gcm-key-usage': gcmKeyUsage,
  '0012-audit-genesis-head': auditGenesisHead,
  '0013-list-order-indexes': listOrderIndexes,
  '0014-mfa-last-step': mfaLastStep,
  '0015-audit-head-mac': auditHeadMac,
  '0016-webhook-delivery-per-subscription': webhookDeliveryPerSubscription,
  '0017-app-served-audiences': appServedAudiences,
  '0018-lockout-state': lockoutState,
  '0019-published-crls': publishedCrls,
  '0020-webauthn-suspended': webauthnSuspended,
  '0021-public-app-auth-none': publicAppAuthNone,
  '0022-webhook-disabled': webhookDisabled,
};

/**
 * The migrator over Portcullis's migration tables (an upgrade test brings a database to
 * an older version with `migrateTo`).
 */
export function portcullisMigrator(db: Kysely<any>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
    migrationTableName: 'portcullis_migration',
    migrationLockTableName: 'portcullis_migration_lock',
  });
}

/** Brings the schema to the newest version; returns the names applied now. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const { error, results } = await portcullisMigrator(db).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new PortcullisError('store.migration', failed ? `schema migration ${failed} failed` : 'schema migration failed', { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
