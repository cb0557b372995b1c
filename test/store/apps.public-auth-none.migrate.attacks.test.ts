/**
 * Migration 0021: a public app (no client authentication, PKCE only) stored before public apps
 * were given `token_endpoint_auth_method` `none` kept the method it was registered with. Client
 * authentication at the revocation and introspection endpoints reads that column, so a public
 * app stored as `tls_client_auth` authenticated with a Portcullis client certificate bound to
 * it. After the upgrade every public app reads back as `none`, and the certificate gets it
 * nothing (`oauth.invalid-client`); a confidential app keeps its method. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { FrozenClock } from '../../src/core/clock.js';
import { PortcullisError } from '../../src/core/errors.js';
import { openDurableStore } from '../../src/store/index.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';
import { portcullisMigrator } from '../../src/store/migrations/index.js';
import { authenticateClient } from '../../src/tokens/client-auth.js';
import { viewApp } from '../../src/tokens/apps.js';
import type { AppRecord } from '../../src/tokens/store.js';
import { createTempPostgresDatabase, serviceDescribe } from '../support/services.js';

const T0 = 1_700_000_000_000;

/** Brings `older` to 0020 and writes apps as that version could hold them. */
async function olderDatabaseWithApps(older: Kysely<any>): Promise<void> {
  assert.equal((await portcullisMigrator(older).migrateTo('0020-webauthn-suspended')).error, undefined);
  const row = (id: string, method: string, type: string) => sql`insert into apps (client_id, name, audiences, scopes, token_endpoint_auth_method, secret_verifier, jwks, status, tokens_revoked_before, created_at, updated_at, redirect_uris, app_type, grant_types)
    values (${id}, ${id}, '["orders-api"]', '["read"]', ${method}, null, null, 'active', 0, ${T0}, ${T0}, '["https://spa.example/cb"]', ${type}, '["authorization_code","refresh_token"]')`;
  await row('app_oldpublicmtls', 'tls_client_auth', 'public').execute(older);
  await row('app_oldpublicbasic', 'client_secret_basic', 'public').execute(older);
  await row('app_confidentialmtls', 'tls_client_auth', 'confidential').execute(older);
  await older.destroy();
}

/** Client authentication at /oauth2/revoke as TokenService runs it, with a client certificate the Portcullis CA bound to `app`. */
async function revokeWithBoundCertificate(app: AppRecord): Promise<AppRecord> {
  const clock = new FrozenClock(T0);
  const ephemeral = new MemoryEphemeralStore({ clock });
  try {
    return await authenticateClient(
      { authorization: undefined, params: { token: 'a.b.c', client_id: app.clientId }, clientCertificate: [new Uint8Array([0x30, 0x00])] },
      { findApp: (id) => (id === app.clientId ? app : undefined), ephemeral, clock, assertionAudiences: ['https://id.example'], issuer: 'https://id.example', verifyTlsClient: async () => app.clientId },
    );
  } finally {
    await ephemeral.close();
  }
}

async function publicAppsHaveNone(url: string): Promise<void> {
  const store = await openDurableStore(url);
  try {
    for (const id of ['app_oldpublicmtls', 'app_oldpublicbasic']) {
      const app = (await store.getApp(id))!;
      assert.equal(app.appType, 'public');
      assert.equal(app.tokenEndpointAuthMethod, 'none', `${id}: a public app stored before 0021 reads back as none`);
      assert.equal(viewApp(app).token_endpoint_auth_method, 'none');
    }
    await assert.rejects(revokeWithBoundCertificate((await store.getApp('app_oldpublicmtls'))!), (e) => e instanceof PortcullisError && e.code === 'oauth.invalid-client' && /required/.test(e.message));
    const confidential = (await store.getApp('app_confidentialmtls'))!;
    assert.equal(confidential.tokenEndpointAuthMethod, 'tls_client_auth', 'a confidential app keeps its method');
    assert.equal((await revokeWithBoundCertificate(confidential)).clientId, 'app_confidentialmtls');
  } finally {
    await store.close();
  }
}

describe('sqlite', () => {
  test('attack: a public app stored as tls_client_auth before migration 0021 authenticates with a certificate → none after the upgrade, oauth.invalid-client', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-public-none-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'a.db');
    await olderDatabaseWithApps(new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) }));
    await publicAppsHaveNone(`sqlite:${file}`);
  });
});

await serviceDescribe('postgres', 'postgres', () => {
  test('attack: a public app stored as tls_client_auth before migration 0021 authenticates with a certificate → none after the upgrade, oauth.invalid-client', async (t) => {
    const db = await createTempPostgresDatabase();
    t.after(() => db.drop());
    await olderDatabaseWithApps(new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: db.url, max: 1 }) }) }));
    await publicAppsHaveNone(db.url);
  });
});
