/**
 * Why a connect to PostgreSQL failed, as the operator must read it: a server or a network
 * that does not answer (a partition, a restart: it comes back by itself) or a server that
 * answers and refuses this node (wrong or changed password, a role that may not log in, no
 * pg_hba entry, a database that does not exist, no CONNECT privilege, TLS refused or not
 * verified: nothing changes until someone fixes a setting). The breaker (breaker.ts) probes
 * the first at once and backs off on the second, and both the log and `/readyz` name it.
 */

/** A connect failure: `reason` for the operator (`PG_AUTH_FAILED`…), `persistent` when only a fix of a setting ends it. */
export interface StoreFailure {
  reason: string;
  /** The driver's code (SQLSTATE `28P01`, `ECONNREFUSED`…), or none. */
  driverCode: string | undefined;
  persistent: boolean;
  /** What is wrong, in words that name no user, database or password (it may be shown on `/readyz`). */
  summary: string;
}

const BY_SQLSTATE: Record<string, Omit<StoreFailure, 'driverCode'>> = {
  // invalid_password
  '28P01': { reason: 'PG_AUTH_FAILED', persistent: true, summary: 'PostgreSQL refused the credentials of the store URL' },
  // invalid_authorization_specification: role may not log in, does not exist, no pg_hba.conf entry (e.g. TLS required)
  '28000': { reason: 'PG_AUTH_FAILED', persistent: true, summary: 'PostgreSQL refused the login of the store URL' },
  // invalid_catalog_name
  '3D000': { reason: 'PG_DATABASE_MISSING', persistent: true, summary: 'the database of the store URL does not exist' },
  // insufficient_privilege: no CONNECT privilege on the database
  '42501': { reason: 'PG_PERMISSION_DENIED', persistent: true, summary: 'the role of the store URL may not connect to its database' },
  // too_many_connections: others' connections may end any moment
  '53300': { reason: 'PG_TOO_MANY_CONNECTIONS', persistent: false, summary: 'PostgreSQL has no free connection slot' },
};

/** Node's TLS verification codes: the server's certificate is not trusted for the URL's host. */
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$)/;

/**
 * @example
 * classifyPostgresFailure(Object.assign(new Error('password authentication failed for user "portcullis"'), { code: '28P01' }));
 * // { reason: 'PG_AUTH_FAILED', driverCode: '28P01', persistent: true, summary: 'PostgreSQL refused the credentials of the store URL' }
 */
export function classifyPostgresFailure(e: unknown): StoreFailure {
  const raw = (e as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' ? raw : undefined;
  const message = e instanceof Error ? e.message : '';
  const known = code === undefined ? undefined : BY_SQLSTATE[code];
  if (known) return { ...known, driverCode: code };
  if ((code !== undefined && TLS_CODES.test(code)) || /does not support SSL/i.test(message)) {
    return { reason: 'PG_TLS_FAILED', driverCode: code, persistent: true, summary: 'TLS to PostgreSQL failed (refused by the server, or its certificate not trusted)' };
  }
  // node-postgres' own SCRAM checks: no password in the URL, or a server signature that does not match
  if (code === undefined && /^SASL: /.test(message)) {
    return { reason: 'PG_AUTH_FAILED', driverCode: undefined, persistent: true, summary: 'the SCRAM authentication with PostgreSQL failed (no password in the store URL, or the server could not prove it knows it)' };
  }
  return { reason: 'PG_UNREACHABLE', driverCode: code, persistent: false, summary: 'PostgreSQL cannot be reached' };
}
