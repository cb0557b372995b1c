/**
 * A configured map of HTTP header names to values, checked when the configuration loads:
 * names are tokens (RFC 9110 §5.1) and values field values (§5.5: visible ASCII, spaces and
 * tabs; obs-text is refused, as a new field SHOULD limit itself to US-ASCII). Whitespace around
 * a value is dropped, as fetch drops it (Fetch "normalize" a header value). A name the HTTP
 * client sets (the target host, the framing, the connection: RFC 9110 §7.2, §7.6.1, §8.6,
 * §10.1.1, RFC 9112 §6.1) is refused, and so is one the caller says it sets itself. A value is
 * never quoted in an error: these maps hold provider credentials.
 */
import { z } from 'zod';
import { TCHAR } from '../http-token.js';

/** The first character of a value that is not field-vchar, SP or HTAB. */
const NOT_FIELD_CONTENT = /[^\t\x20-\x7e]/;

const CONTROL_NAMES: Record<number, string> = { 0x00: 'NUL', 0x0a: 'line feed', 0x0d: 'carriage return' };

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

function controlCharacter(c: string): string {
  const named = CONTROL_NAMES[c.charCodeAt(0)];
  return `a control character (${named === undefined ? '' : `${named}, `}${codePoint(c)})`;
}

/** Why `name` is not a token: the name up to its first wrong character, and that character. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'a header name is empty';
  const chars = [...name];
  const at = chars.findIndex((c) => !TCHAR.test(c));
  if (at === -1) return undefined;
  const c = chars[at]!;
  const what = c <= '\x1f' || c === '\x7f' ? controlCharacter(c) : c > '\x7f' ? `a character outside ASCII (${codePoint(c)})` : `${JSON.stringify(c)} (${codePoint(c)})`;
  return `the header name starting ${JSON.stringify(chars.slice(0, Math.min(at, 64)).join(''))} holds ${what}; a header name is a token of letters, digits and !#$%&'*+-.^_\`|~ (RFC 9110 §5.1)`;
}

/** Why `value` (trimmed) is not a field value; the character is named only when it is a control. */
function valueProblem(value: string): string | undefined {
  const m = NOT_FIELD_CONTENT.exec(value);
  if (m === null) return undefined;
  const c = m[0];
  const what = c <= '\x1f' || c === '\x7f' ? controlCharacter(c) : 'a character outside ASCII';
  return `the value holds ${what}; a header value may hold visible ASCII characters, spaces and tabs only (RFC 9110 §5.5)`;
}

/**
 * Fields the HTTP client owns: Host is taken from the URL, Content-Length and
 * Transfer-Encoding frame the body, the rest are hop-by-hop. Set in the configuration, they
 * send the request to another virtual host, frame a body that is not the one sent, or make
 * undici refuse the request.
 */
const CLIENT_FIELDS: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect']);

const CLIENT_REASON = 'set by the HTTP client (the target host, the message framing or the connection): configured, it would redirect or break the request';

/** Header names a sender sets itself (lower case), and why that makes a configured one wrong. */
export interface OwnFields {
  names: readonly string[];
  reason: string;
}

/** A problem with one header of a map; `name` is absent when the name itself is wrong (it may hold a secret). */
export interface HeaderProblem {
  name?: string;
  message: string;
}

/** Fetch's HTTP whitespace, dropped around a header value. */
const trimHttpWhitespace = (v: string) => v.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');

/**
 * What is wrong with a map of extra headers, each value taken trimmed: a name that is no token,
 * one the HTTP client or (`own`) the sender sets, a value that is no field value. Never quotes
 * a value, nor a wrong name past its first wrong character.
 *
 * @example
 * headerProblems({ Host: 'internal.example' }); // [{ name: 'Host', message: 'set by the HTTP client …' }]
 */
export function headerProblems(headers: Readonly<Record<string, string>>, own?: OwnFields): HeaderProblem[] {
  const problems: HeaderProblem[] = [];
  for (const [name, raw] of Object.entries(headers)) {
    const bad = nameProblem(name);
    if (bad !== undefined) {
      problems.push({ message: bad });
      continue;
    }
    const lower = name.toLowerCase();
    const wrong = CLIENT_FIELDS.has(lower) ? CLIENT_REASON : own?.names.includes(lower) ? own.reason : valueProblem(trimHttpWhitespace(raw));
    if (wrong !== undefined) problems.push({ name, message: wrong });
  }
  return problems;
}

/**
 * A map of extra HTTP headers, refused at load when a name is not a token, is one the HTTP
 * client or (`own`) the sender sets, or a value holds a control character (CR and LF would
 * smuggle a header in; fetch throws on them quoting the value).
 *
 * @example
 * headers: httpHeaders({ names: ['content-type'], reason: 'set by the sender' }).prefault({}).describe('Extra headers sent to the provider.'),
 */
export const httpHeaders = (own?: OwnFields) =>
  z
    .record(z.string(), z.string())
    .transform((headers, ctx) => {
      for (const p of headerProblems(headers, own)) ctx.addIssue({ code: 'custom', ...(p.name === undefined ? {} : { path: [p.name] }), message: p.message });
      return Object.fromEntries(Object.entries(headers).map(([name, raw]) => [name, trimHttpWhitespace(raw)]));
    })
    // environment overrides name a header, not a schema key (load.ts)
    .meta({ keyNames: 'http-header' });
