/**
 * Loads `portcullis.yaml`: YAML → `${env:NAME}` / `${file:PATH}` interpolation →
 * `PORTCULLIS_…` environment overrides (interpolated alike) → schema validation → frozen Config.
 *
 * Environment overrides name a path with `__` between segments and UPPER_SNAKE for
 * camelCase keys: `PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL=5m` sets `tokens.accessTokenTtl`.
 * A string key takes the value as written (a password `!Passw0rd` or `s3cret #2` is no YAML
 * tag or comment), unless it is quoted; other values are parsed as YAML scalars/flow
 * collections, so `PORTCULLIS_PLANES=[gateway]` works.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { fsErrorText, PortcullisError } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { ambiguousRoutes, ambiguousRoutesMessage, compileRoute } from '../../gateway/route-table.js';

export interface LoadedConfig {
  config: Config;
  /** `PORTCULLIS_*` variables that are not configuration and were left alone (for a log line at start). */
  ignoredEnv: string[];
  /** Directory of the config file; relative paths in the config resolve against it. */
  dir: string;
  file: string;
}

const INTERPOLATION = /\$\{(env|file):([^}]+)\}/g;

/**
 * Expands `${env:NAME}` and `${file:PATH}` in every string of `value` (a relative PATH
 * against `baseDir`, the file's content trimmed); the expanded text is not read again.
 * An error names the key and, for an environment override, the variable (`variable`),
 * never the value around the reference.
 */
function interpolate(value: unknown, path: string, baseDir: string, env: NodeJS.ProcessEnv, variable?: string): unknown {
  if (typeof value === 'string') {
    const where = variable === undefined ? '' : ` (${variable})`;
    const details = variable === undefined ? {} : { details: { variable } };
    return value.replace(INTERPOLATION, (_m, kind: string, ref: string) => {
      if (kind === 'env') {
        const v = env[ref];
        if (v === undefined) throw new PortcullisError('config.invalid', `${path}: environment variable ${ref} is not set${where}`, details);
        return v;
      }
      const p = isAbsolute(ref) ? ref : resolve(baseDir, ref);
      if (!existsSync(p)) throw new PortcullisError('config.not-found', `${path}: secret file ${ref} does not exist${where}`, details);
      try {
        return readFileSync(p, 'utf8').trim();
      } catch (e) {
        throw new PortcullisError('config.invalid', `${path}: secret file ${ref} cannot be read: ${fsErrorText(e)}${where}`, { cause: e, ...details });
      }
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, `${path}[${i}]`, baseDir, env, variable));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, path ? `${path}.${k}` : k, baseDir, env, variable);
    return out;
  }
  return value;
}

/** Variables that steer the CLI and the test suite, not the configuration. */
export const NOT_CONFIG = new Set(['PORTCULLIS_CONFIG', 'PORTCULLIS_DIR', 'PORTCULLIS_ADMIN_URL', 'PORTCULLIS_REQUIRE_SERVICES']);

const snakeToCamel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

interface KeyNode {
  type?: string | string[];
  properties?: Record<string, KeyNode>;
  additionalProperties?: KeyNode | boolean;
  anyOf?: KeyNode[];
  oneOf?: KeyNode[];
  /** A map whose keys are HTTP header names (schema meta `keyNames`). */
  keyNames?: 'http-header';
}

let keyTree: KeyNode | undefined;

/** The config schema's keys as a tree (from its JSON Schema), to map variable names onto. */
function configKeys(): KeyNode {
  keyTree ??= z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as KeyNode;
  return keyTree;
}

/** Where an override's last segment lands: a schema key, or a name in a map with free keys. */
interface FoundKey {
  key: string;
  node: KeyNode | undefined;
  /** The map holds HTTP header names: a key written in another case is the same header. */
  headerName?: boolean;
}

/**
 * The schema key an UPPER_SNAKE segment names, compared without underscores and case
 * (`REQUIRE_TLS` → `requireTLS`, `ACCESS_TOKEN_TTL` → `accessTokenTtl`). Inside a map
 * with free keys the segment is a name, not a schema key: in a map of HTTP header names
 * lower case with `-` for `_` (`X_API_KEY` → `x-api-key`: a variable name cannot hold
 * `-`, and header names are case-insensitive, RFC 9110 §5.1); in any other, as written.
 */
function schemaKey(node: KeyNode | undefined, segment: string): FoundKey | undefined {
  if (node === undefined) return undefined;
  const norm = segment.replace(/_/g, '').toLowerCase();
  for (const alt of [node, ...(node.anyOf ?? []), ...(node.oneOf ?? [])]) {
    for (const [k, child] of Object.entries(alt.properties ?? {})) if (k.toLowerCase() === norm) return { key: k, node: child };
  }
  for (const alt of [node, ...(node.anyOf ?? []), ...(node.oneOf ?? [])]) {
    if (alt.additionalProperties && typeof alt.additionalProperties === 'object') {
      if (alt.keyNames === 'http-header') return { key: segment.toLowerCase().replace(/_/g, '-'), node: alt.additionalProperties, headerName: true };
      return { key: segment, node: alt.additionalProperties };
    }
  }
  return undefined;
}

/**
 * The value of an override: as written for a key that takes a string only (unless quoted:
 * `""` is the empty string), else as YAML reads it. A value YAML reads only with an error or
 * a warning (an unknown tag `!x`, a directive) is taken as written too, for the schema to
 * refuse with its location; YAML never prints it (a warning would carry a secret to stderr).
 */
function envValue(value: string, node: KeyNode | undefined): unknown {
  const quoted = /^\s*(["']).*\1\s*$/s.test(value);
  if (node?.type === 'string' && !quoted) return value;
  const doc = parseDocument(value, { logLevel: 'silent', prettyErrors: false });
  if (doc.errors.length > 0 || doc.warnings.length > 0) return value;
  try {
    return doc.toJS({ maxAliasCount: 0 }) ?? value;
  } catch {
    return value;
  }
}

/**
 * Applies `PORTCULLIS_<PATH>` overrides. A variable is an override when its name has
 * `__` (a nested path) or names a top-level key; its path must then exist in the schema,
 * or the error names the variable. Other `PORTCULLIS_*` variables are not configuration
 * (Kubernetes injects `PORTCULLIS_SERVICE_HOST`, `PORTCULLIS_PORT_8080_TCP`… for a
 * Service named portcullis) and are left alone; their names are pushed to `ignored`.
 * `${env:…}` and `${file:…}` in a value are expanded as in the file (a relative path
 * against `dir`, the config directory).
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, ignored: string[] = [], setBy?: Map<string, string>, dir: string = process.cwd()): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PORTCULLIS_') || value === undefined) continue;
    if (NOT_CONFIG.has(name) || name.startsWith('PORTCULLIS_TEST')) continue;
    const parts = name.slice('PORTCULLIS_'.length).split('__');
    let schema: KeyNode | undefined = configKeys();
    const segments: string[] = [];
    let last: FoundKey | undefined;
    for (const part of parts) {
      const found = schemaKey(schema, part);
      if (found === undefined) {
        if (parts.length === 1) {
          ignored.push(name);
          break;
        }
        const at = [...segments, snakeToCamel(part)].join('.');
        throw new PortcullisError('config.invalid', `invalid configuration:\n  ${name} (environment): no configuration key ${at}`, { details: { variable: name } });
      }
      segments.push(found.key);
      schema = found.node;
      last = found;
    }
    if (segments.length !== parts.length) continue;
    let node: Record<string, unknown> = out;
    for (const seg of segments.slice(0, -1)) {
      if (!node[seg] || typeof node[seg] !== 'object') node[seg] = {};
      node = node[seg] as Record<string, unknown>;
    }
    const key = segments[segments.length - 1]!;
    // the file's `Authorization` and the override's `authorization` are one header: the override replaces it
    if (last?.headerName) for (const k of Object.keys(node)) if (k.toLowerCase() === key) delete node[k];
    const path = segments.join('.');
    node[key] = interpolate(envValue(value, schema), path, dir, env, name);
    setBy?.set(path, name);
  }
  return out;
}

/** `routes[2].require.token.audience` style path of a zod issue. */
export function issuePath(path: ReadonlyArray<PropertyKey>): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${String(seg)}` : String(seg);
  return s || '(root)';
}

/** Where a configuration value came from, for an error about it: ` (line 12)`, ` (PORTCULLIS_…)`, or nothing. */
export type ConfigLocator = (path: ReadonlyArray<PropertyKey>) => string;

function formatIssue(issue: z.core.$ZodIssue, where: ConfigLocator): string {
  const path = issuePath(issue.path);
  if (issue.code === 'unrecognized_keys') return `${path}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}${where([...issue.path, issue.keys[0]!])}`;
  return `${path}: ${issue.message}${where(issue.path)}`;
}

/**
 * Locates configuration paths: the environment variable that set the value (or a map
 * above it), else the line of the YAML file where the value, or the nearest key above
 * a missing one, is written.
 */
function configLocator(doc: Document, lines: LineCounter, setBy: ReadonlyMap<string, string>): ConfigLocator {
  return (path) => {
    const names: string[] = [];
    for (const seg of path) {
      if (typeof seg !== 'string') break;
      names.push(seg);
      const variable = setBy.get(names.join('.'));
      if (variable !== undefined) return ` (${variable})`;
    }
    let node: unknown = doc.contents;
    let at: number | undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === seg);
        const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
        if (pair === undefined || range === undefined) break;
        at = range[0];
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as { range?: [number, number, number] } | undefined;
        if (item?.range === undefined) break;
        at = item.range[0];
        node = item;
      } else break;
    }
    return at === undefined ? '' : ` (line ${lines.linePos(at).line})`;
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/**
 * Validates a raw object (already parsed from YAML) into a frozen Config. `where` adds
 * to each error where its value came from (loadConfig: the line or the variable).
 */
export function validateConfig(raw: unknown, where: ConfigLocator = () => ''): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => formatIssue(issue, where));
    throw new PortcullisError('config.invalid', `invalid configuration:\n  ${lines.join('\n  ')}`, { details: { issues: lines } });
  }
  const cfg = result.data;
  const names = new Set<string>();
  for (const [i, r] of cfg.routes.entries()) {
    if (names.has(r.name)) throw new PortcullisError('config.invalid', `invalid configuration:\n  routes[${i}].name: duplicate route name "${r.name}"${where(['routes', i, 'name'])}`);
    names.add(r.name);
  }
  const pair = ambiguousRoutes(cfg.routes.map(compileRoute));
  if (pair !== undefined) {
    const [i, j] = pair;
    throw new PortcullisError('config.invalid', `invalid configuration:\n  routes[${j}].match.pathPrefix: ${ambiguousRoutesMessage(cfg.routes[i]!, cfg.routes[j]!)}${where(['routes', j, 'match', 'pathPrefix'])}`);
  }
  return deepFreeze(cfg);
}

export function parseConfigText(text: string, file = 'portcullis.yaml'): Record<string, unknown> {
  return parseConfigDocument(text, file).value;
}

/** parseConfigText, with the document and its line counter (for the lines of later errors). */
function parseConfigDocument(text: string, file: string): { value: Record<string, unknown>; doc: Document; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const where = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new PortcullisError('config.parse', `${file}: YAML error${where}: ${e.message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (e) {
    // yaml resolves aliases here: an unset anchor, or an alias bomb past its alias budget
    throw new PortcullisError('config.parse', `${file}: YAML error: ${(e as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) return { value: {}, doc, lines };
  if (typeof value !== 'object' || Array.isArray(value)) throw new PortcullisError('config.invalid', `invalid configuration:\n  (root): expected a mapping of keys`);
  return { value: value as Record<string, unknown>, doc, lines };
}

/** Reads, interpolates, overrides and validates the config file. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new PortcullisError('config.not-found', `configuration file ${file} does not exist (run \`portcullis init --dir DIR\`)`);
  const dir = dirname(abs);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new PortcullisError('config.invalid', `configuration file ${file} cannot be read: ${fsErrorText(e)}`, { cause: e });
  }
  const { value: raw, doc, lines } = parseConfigDocument(text, file);
  const ignoredEnv: string[] = [];
  const setBy = new Map<string, string>();
  const withEnv = applyEnvOverrides(interpolate(raw, '', dir, env) as Record<string, unknown>, env, ignoredEnv, setBy, dir);
  return { config: validateConfig(withEnv, configLocator(doc, lines, setBy)), ignoredEnv, dir, file: abs };
}

/** Resolves a config-relative path (`./portcullis.db`) against the config directory. */
export function resolveIn(dir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dir, p);
}
