/**
 * A configured map of HTTP header names to values, checked when the configuration loads:
 * names are tokens (RFC 9110 §5.1) and values field values (§5.5: visible ASCII, spaces and
 * tabs; obs-text is refused, as a new field SHOULD limit itself to US-ASCII). Whitespace around
 * a value is dropped, as fetch drops it (Fetch "normalize" a header value). A value is never
 * quoted in an error: these maps hold provider credentials.
 */
import { z } from 'zod';

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;

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

/** Fetch's HTTP whitespace, dropped around a header value. */
const trimHttpWhitespace = (v: string) => v.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');

/**
 * A map of extra HTTP headers, refused at load when a name is not a token or a value holds a
 * control character (CR and LF would smuggle a header in; fetch throws on them quoting the value).
 *
 * @example
 * headers: httpHeaders().prefault({}).describe('Extra headers sent to the provider.'),
 */
export const httpHeaders = () =>
  z
    .record(z.string(), z.string())
    .transform((headers, ctx) => {
      const out: Record<string, string> = {};
      for (const [name, raw] of Object.entries(headers)) {
        const value = trimHttpWhitespace(raw);
        const bad = nameProblem(name);
        if (bad !== undefined) ctx.addIssue({ code: 'custom', message: bad });
        else {
          const wrong = valueProblem(value);
          if (wrong !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: wrong });
        }
        out[name] = value;
      }
      return out;
    })
    // environment overrides name a header, not a schema key (load.ts)
    .meta({ keyNames: 'http-header' });
