/**
 * The real PostgreSQL and Redis of the machine, for tests. Tests that need one call
 * `serviceDescribe`/`serviceTest`: when the service is unreachable the test is
 * registered as skipped WITH THE REASON IN ITS NAME — unless PORTCULLIS_REQUIRE_SERVICES=1
 * (CI), where an unreachable service fails the test instead.
 */
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import pg from 'pg';
import { Redis } from 'ioredis';

export type Service = 'postgres' | 'redis';

export function postgresUrl(): string {
  return process.env.PORTCULLIS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export function redisUrl(): string {
  return process.env.PORTCULLIS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export function servicesRequired(): boolean {
  return process.env.PORTCULLIS_REQUIRE_SERVICES === '1';
}

const LABEL: Record<Service, string> = { postgres: 'PostgreSQL', redis: 'Redis' };

/** host:port only: a URL may carry a password, which must not reach a test name. */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol.startsWith('redis') ? '6379' : '5432')}`;
  } catch {
    return '(unparseable URL)';
  }
}

async function probePostgres(): Promise<void> {
  const c = new pg.Client({ connectionString: postgresUrl(), connectionTimeoutMillis: 10_000 });
  try {
    await c.connect();
    await c.query('select 1');
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function probeRedis(): Promise<void> {
  const r = new Redis(redisUrl(), { lazyConnect: true, connectTimeout: 10_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
  } finally {
    r.disconnect();
  }
}

const probes = new Map<Service, Promise<string | undefined>>();

/** Why the service is unusable, or undefined when it answered. Probed once per process. */
export function serviceProblem(service: Service): Promise<string | undefined> {
  let p = probes.get(service);
  if (p === undefined) {
    const url = service === 'postgres' ? postgresUrl() : redisUrl();
    p = (service === 'postgres' ? probePostgres() : probeRedis()).then(
      () => undefined,
      () => `${LABEL[service]} not reachable at ${where(url)}`,
    );
    probes.set(service, p);
  }
  return p;
}

/** Resolves when the service answers; rejects with the reason otherwise. */
export async function requireService(service: Service): Promise<void> {
  const problem = await serviceProblem(service);
  if (problem !== undefined) throw new Error(problem);
}

async function register(services: Service | readonly Service[], name: string, body: () => void, kind: 'describe' | 'test', fn?: () => Promise<void>): Promise<void> {
  let problem: string | undefined;
  for (const service of typeof services === 'string' ? [services] : services) problem ??= await serviceProblem(service);
  if (problem === undefined) {
    if (kind === 'describe') describe(name, body);
    else test(name, fn!);
  } else if (servicesRequired()) {
    const why = problem;
    test(`${name} [${why}; PORTCULLIS_REQUIRE_SERVICES=1]`, () => {
      throw new Error(why);
    });
  } else {
    test(`${name} [skipped: ${problem}]`, { skip: problem }, () => undefined);
  }
}

/**
 * A suite that needs a service. Await it at the top level of a test file.
 *
 * @example
 * await serviceDescribe('postgres', 'durable store on PostgreSQL', () => runDurableStoreSuite(...));
 */
export function serviceDescribe(service: Service, name: string, body: () => void): Promise<void> {
  return register(service, name, body, 'describe');
}

/** One test that needs a service (or several: skipped with the first one's problem). Await it at the top level of a test file. */
export function serviceTest(services: Service | readonly Service[], name: string, fn: () => Promise<void>): Promise<void> {
  return register(services, name, () => undefined, 'test', fn);
}

/** A random Redis key prefix, so parallel test files never share keys. */
export function randomRedisPrefix(): string {
  return `portcullis-test:${randomBytes(6).toString('hex')}:`;
}

/**
 * Creates a fresh database `portcullis_t_<random>` on the test server, so parallel
 * test files never share tables. `drop()` removes it (closing any leftover sessions).
 */
export async function createTempPostgresDatabase(): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `portcullis_t_${randomBytes(6).toString('hex')}`;
  const admin = async (q: string): Promise<void> => {
    const c = new pg.Client({ connectionString: postgresUrl(), connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      await c.query(q);
    } finally {
      await c.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(postgresUrl());
  url.pathname = `/${name}`;
  return { url: url.toString(), name, drop: () => admin(`drop database if exists ${name} with (force)`) };
}
