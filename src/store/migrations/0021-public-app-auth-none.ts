/**
 * A public app has no client authentication (RFC 7591 §2, "none": "The client is a public
 * client as defined in OAuth 2.0, Section 2.1, and does not have a client secret"), and new
 * ones are stored with `token_endpoint_auth_method` `none`. A public app stored before that
 * kept the method it was registered with (`client_secret_basic`, the default then, or
 * `tls_client_auth`), which client authentication at the token, revocation and introspection
 * endpoints reads: such an app could authenticate with a client certificate bound to it.
 * Every public app's method becomes `none`, so every reader can trust the column.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const publicAppAuthNone: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await sql`update apps set token_endpoint_auth_method = 'none' where app_type = 'public' and token_endpoint_auth_method <> 'none'`.execute(db);
  },

  // The method a public app was stored with gave it nothing it should have: there is none to restore.
  async down(): Promise<void> {},
};
