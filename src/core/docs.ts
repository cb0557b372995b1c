/** Renders the reference pages generated from the config schema and the error catalogue. */
import { z } from 'zod';
import { configSchema } from './config/schema.js';
import { ERRORS } from './errors.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  format?: string;
  /** Durations: the accepted range, e.g. `100ms–24.8d`. */
  durationRange?: string;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
}

function typeOf(s: JsonSchema): string {
  if (s.format === 'duration') return s.durationRange ? `duration (${s.durationRange})` : 'duration';
  if (s.format === 'size') return 'size';
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' \\| ');
  if (s.type === 'array' && s.items) return `list of ${typeOf(s.items)}`;
  if (s.type === 'object') return 'object';
  if (Array.isArray(s.type)) return s.type.join(' \\| ');
  return s.type ?? 'any';
}

function rows(s: JsonSchema, path: string, out: string[]): void {
  const props = s.properties;
  if (!props) return;
  for (const [key, child] of Object.entries(props)) {
    const p = path ? `${path}.${key}` : key;
    const def = child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``;
    const desc = (child.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
    out.push(`| \`${p}\` | ${typeOf(child)} | ${def} | ${desc} |`);
    if (child.type === 'object') rows(child, p, out);
    if (child.type === 'array' && child.items?.properties) rows(child.items, `${p}[]`, out);
    for (const alt of child.items?.anyOf ?? []) if (alt.properties) rows(alt, `${p}[]`, out);
  }
}

export function renderConfigReference(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/core/config/schema.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Portcullis reads one YAML file, `portcullis.yaml`, validated at start (and by `portcullis config check`).',
    'Unknown keys are rejected; every error names its path and where the value came from, e.g. `routes[0].require.token.audience: … (line 12)`, or `(PORTCULLIS_…)` when an environment override set it.',
    '',
    '- **Environment overrides**: `PORTCULLIS_<PATH>` with `__` between path segments and UPPER_SNAKE keys,',
    '  e.g. `PORTCULLIS_TOKENS__ACCESS_TOKEN_TTL=5m`, `PORTCULLIS_STORE=postgres://…`. A string key takes the value as',
    '  written (`!Passw0rd` or `s3cret #2` is a password, not a YAML tag or comment; quote it, `""`, for YAML escapes or the',
    '  empty string); other values are parsed as YAML (`PORTCULLIS_PLANES=[gateway]`).',
    '  Segments match keys regardless of case and underscores (`…__SMTP__REQUIRE_TLS` sets `requireTLS`). Inside a map',
    '  of HTTP header names a segment names a header, in lower case with `-` for `_` (`…__WEBHOOK__HEADERS__X_API_KEY`',
    '  sets `x-api-key`, replacing an `X-API-Key` of the file); inside any other map with free keys, the key as written. A variable',
    '  with `__` must name an existing key (the error names the variable); one without `__` that names no top-level key',
    '  is not configuration and is left alone (Kubernetes service links such as `PORTCULLIS_SERVICE_HOST`), and listed',
    '  in a log line at start. `PORTCULLIS_CONFIG`, `PORTCULLIS_DIR`, `PORTCULLIS_ADMIN_URL`, `PORTCULLIS_REQUIRE_SERVICES`',
    '  and `PORTCULLIS_TEST*` are never configuration. The CLI reads `PORTCULLIS_DIR` (when there is no `--dir`),',
    '  `PORTCULLIS_CONFIG` (when there is neither `--config` nor `--dir`) and `PORTCULLIS_ADMIN_URL` (when there is no `--admin-url`).',
    '- **Interpolation** in any string, of the file and of an environment override alike: `${env:NAME}` and `${file:PATH}`',
    '  (a secret read from a file, trimmed; a relative PATH against the config directory), e.g.',
    '  `PORTCULLIS_IDENTITY__OTP__SMTP__PASS=\'${file:/run/secrets/smtp}\'`. The text read is taken as written, never',
    '  parsed again; a missing variable or file is an error naming the key (and the override variable), never the value.',
    '- **Durations**: `500ms`, `30s`, `10m`, `24h`, `7d`, or a number of seconds, within the range each key shows',
    '  (intervals and timeouts that drive a timer at most 24.8 days, Node\'s largest timer delay; zero only where it means',
    '  "no tolerance"). **Sizes**: `16kb`, `1mb`, or bytes.',
    '- Relative paths resolve against the directory of the config file.',
    '',
    '| key | type | default | description |',
    '|---|---|---|---|',
  ];
  rows(schema, '', out);
  return out.join('\n') + '\n';
}

export function renderErrorCatalogue(): string {
  const out = [
    '# Error codes',
    '',
    '<!-- Generated from src/core/errors.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every error Portcullis returns carries a stable code. The gateway and the admin API answer with RFC 9457',
    '`application/problem+json` (`code` member, `type` = `urn:portcullis:error:<code>`); the OAuth endpoints answer',
    'with RFC 6749 `error` values; token errors at the gateway also carry `WWW-Authenticate` (RFC 6750).',
    '',
    '| code | status | meaning | fix |',
    '|---|---|---|---|',
  ];
  for (const [code, spec] of Object.entries(ERRORS)) out.push(`| \`${code}\` | ${spec.status} | ${spec.meaning.replace(/\|/g, '\\|')} | ${spec.fix.replace(/\|/g, '\\|')} |`);
  return out.join('\n') + '\n';
}
