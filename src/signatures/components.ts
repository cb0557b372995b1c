/**
 * Component values (RFC 9421 §2): HTTP fields (§2.1) with the `sf`, `key`, `bs`,
 * `req` and `tr` parameters, and the derived components of §2.2 (`@method`,
 * `@target-uri`, `@authority`, `@scheme`, `@request-target`, `@path`, `@query`,
 * `@query-param`, `@status`). A component that cannot be produced is an error,
 * never an empty value (§2.5: "the signer or verifier MUST fail"). A target URI whose
 * authority is not `host[:port]`, or that has a fragment, is refused rather than parsed
 * around; `sf` and `key` need the field's structured type from the registry below.
 */
import { parseDictionary, parseItem, parseList, serializeDictionary, serializeInnerList, serializeItem, serializeList, type InnerList, type Item } from 'structured-headers';
import { PortcullisError } from '../core/errors.js';
import { dictionaryKeys, parameterMarks, parsedParameters, type ComponentId } from './signature-input.js';
import { isRequestLike, type FieldLineSource, type HeaderGetter, type HttpMessageLike, type HttpRequestLike, type MessageHeaders } from './types.js';

const malformed = (m: string, cause?: unknown): PortcullisError => new PortcullisError('signature.malformed', m, cause === undefined ? {} : { cause });
const missing = (m: string): PortcullisError => new PortcullisError('signature.component-missing', m);

const FIELD_PARAMS = new Set(['sf', 'key', 'bs', 'req', 'tr']);
const FLAG_PARAMS = new Set(['sf', 'bs', 'req', 'tr']);

/** The field lines of `name` (lowercase), or undefined when the field is absent. */
export function fieldLines(headers: MessageHeaders | undefined, name: string): readonly string[] | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { fieldLines?: unknown }).fieldLines === 'function') return (headers as FieldLineSource).fieldLines(name);
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const v = (headers as { get(n: string): string | null }).get(name);
    return v === null ? undefined : [v];
  }
  const rec = headers as Record<string, string | readonly string[] | number | undefined>;
  let v = Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined;
  if (v === undefined) {
    for (const k of Object.keys(rec)) {
      if (k.length === name.length && k.toLowerCase() === name) {
        v = rec[k];
        break;
      }
    }
  }
  if (v === undefined) return undefined;
  if (typeof v === 'number') return [String(v)];
  return typeof v === 'string' ? [v] : [...v];
}

/**
 * The field lines of `name` one by one, for `bs` (§2.1.3 wraps "each field line"). A web
 * `Headers` object keeps no line boundaries: `get` joins repeated lines with ", " (only
 * Set-Cookie is kept line by line, `getSetCookie`). A joined value without ", " is one
 * line; one with it may be several, and is refused rather than wrapped as one.
 */
function fieldLinesAsSent(headers: MessageHeaders | undefined, name: string): readonly string[] | undefined {
  if (!headers || typeof (headers as { fieldLines?: unknown }).fieldLines === 'function' || typeof (headers as { get?: unknown }).get !== 'function') return fieldLines(headers, name);
  const h = headers as HeaderGetter & { getSetCookie?: () => string[] };
  if (name === 'set-cookie' && typeof h.getSetCookie === 'function') {
    const cookies = h.getSetCookie();
    return cookies.length === 0 ? undefined : cookies;
  }
  const v = h.get(name);
  if (v === null) return undefined;
  if (v.includes(', ')) {
    throw new PortcullisError(
      'signature.field-lines-unknown',
      `field "${name}" is covered with bs but comes from a Headers object, whose value ("a, b") may be one field line or several; give the headers line by line (a record of arrays) or cover it without bs`,
    );
  }
  return [v];
}

/** §2.1: strip leading and trailing whitespace; replace obsolete line folding with a single space. */
const isOws = (c: number): boolean => c === 0x20 || c === 0x09;

function cleanLine(line: string): string {
  // the usual line (node already trimmed it, no obs-fold) is its own value
  const n = line.length;
  if (n === 0 || (!isOws(line.charCodeAt(0)) && !isOws(line.charCodeAt(n - 1)) && !line.includes('\n'))) return line;
  return line.replace(/\r?\n[ \t]+/g, ' ').replace(/^[ \t]+|[ \t]+$/g, '');
}

function toBase64(s: string): string {
  let bin = s;
  // header strings carry bytes as code units 0-255; anything above came from a UTF-8 decode
  if (/[^\x00-\xff]/.test(s)) bin = String.fromCharCode(...new TextEncoder().encode(s));
  return btoa(bin);
}

/** The three top-level types of RFC 8941 / RFC 9651 structured fields. */
export type StructuredFieldType = 'dictionary' | 'list' | 'item';

/**
 * Structured fields whose type is defined by their specification: RFC 9421 §2.1.1 has
 * the value parsed as the type its field is defined with, so the type must be known,
 * never guessed.
 */
const STRUCTURED_FIELDS = new Map<string, StructuredFieldType>([
  // RFC 9421
  ['signature-input', 'dictionary'],
  ['signature', 'dictionary'],
  ['accept-signature', 'dictionary'],
  // RFC 9530
  ['content-digest', 'dictionary'],
  ['repr-digest', 'dictionary'],
  ['want-content-digest', 'dictionary'],
  ['want-repr-digest', 'dictionary'],
  // RFC 9218, RFC 9213, RFC 9211, RFC 9209
  ['priority', 'dictionary'],
  ['cdn-cache-control', 'dictionary'],
  ['cache-status', 'list'],
  ['proxy-status', 'list'],
  // RFC 9440, RFC 9297, RFC 8942
  ['client-cert', 'item'],
  ['client-cert-chain', 'list'],
  ['capsule-protocol', 'item'],
  ['accept-ch', 'list'],
  // W3C / WHATWG fields defined as structured
  ['permissions-policy', 'dictionary'],
  ['reporting-endpoints', 'dictionary'],
  ['cross-origin-embedder-policy', 'item'],
  ['cross-origin-opener-policy', 'item'],
  ['origin-agent-cluster', 'item'],
]);

/**
 * Declares the structured type of a field of your own, so it may be covered with `sf`
 * or `key` (RFC 9421 §2.1.1 requires the type to be known; nothing is guessed).
 *
 * @example
 * registerStructuredField('example-dict', 'dictionary');
 */
export function registerStructuredField(name: string, type: StructuredFieldType): void {
  const n = name.toLowerCase();
  const known = STRUCTURED_FIELDS.get(n);
  if (known !== undefined && known !== type) throw new TypeError(`registerStructuredField: ${n} is a ${known}`);
  STRUCTURED_FIELDS.set(n, type);
}

/**
 * The structured type of a field, or undefined when it is not known (then `sf` and `key` are refused).
 *
 * @example structuredFieldType('content-digest'); // 'dictionary'
 */
export function structuredFieldType(name: string): StructuredFieldType | undefined {
  return STRUCTURED_FIELDS.get(name.toLowerCase());
}

function structuredType(field: string, param: string): StructuredFieldType {
  const t = STRUCTURED_FIELDS.get(field);
  if (t === undefined) throw new PortcullisError('signature.field-type-unknown', `field "${field}" is covered with ${param} but its structured type is not known`);
  return t;
}

/**
 * Refuses a parsed field value that repeats a Dictionary key or a parameter: RFC 8941
 * keeps the last, so the covered value would hold one of them alone, and `u=1, u=5`
 * would verify where `u=5` was signed while an upstream taking the first reads `u=1`.
 */
function checkNoRepeats(value: string, members: Iterable<Item | InnerList>, keys: number | undefined, field: string, param: string): void {
  if (keys !== undefined && dictionaryKeys(value).length !== keys) throw malformed(`field "${field}" is covered with ${param} but repeats a dictionary key`);
  let params = 0;
  for (const m of members) params += parsedParameters(m);
  if (parameterMarks(value) !== params) throw malformed(`field "${field}" is covered with ${param} but repeats a parameter`);
}

function canonicalStructured(value: string, field: string): string {
  const type = structuredType(field, 'sf');
  try {
    if (type === 'dictionary') {
      const dict = parseDictionary(value);
      checkNoRepeats(value, dict.values(), dict.size, field, 'sf');
      return serializeDictionary(dict);
    }
    if (type === 'list') {
      const list = parseList(value);
      checkNoRepeats(value, list, undefined, field, 'sf');
      return serializeList(list);
    }
    const item = parseItem(value);
    checkNoRepeats(value, [item], undefined, field, 'sf');
    return serializeItem(item);
  } catch (e) {
    if (e instanceof PortcullisError) throw e;
    // §2.1.1: a value that does not parse as its field's type is an error, not a value
    throw malformed(`field "${field}" is covered with sf but is not a structured ${type}`, e);
  }
}

function fieldValue(c: ComponentId, headers: MessageHeaders | undefined): string {
  const p = c.params;
  const lines = p.has('bs') ? fieldLinesAsSent(headers, c.name) : fieldLines(headers, c.name);
  if (lines === undefined) throw missing(`covered field "${c.name}" is absent from the message`);
  if (p.has('bs')) {
    // §2.1.3: each field line wrapped as a byte sequence, then joined
    return lines.map((l) => `:${toBase64(cleanLine(l))}:`).join(', ');
  }
  const value = lines.map(cleanLine).join(', ');
  if (p.has('key')) {
    const key = p.get('key') as string;
    // §2.1.2: key selects a member of a Dictionary field, so the field must be known to be one
    if (structuredType(c.name, 'key') !== 'dictionary') throw new PortcullisError('signature.field-type-unknown', `field "${c.name}" is covered with key but is not a dictionary`);
    let dict;
    try {
      dict = parseDictionary(value);
    } catch (e) {
      throw malformed(`field "${c.name}" is covered with key but is not a structured dictionary`, e);
    }
    checkNoRepeats(value, dict.values(), dict.size, c.name, 'key');
    const member = dict.get(key);
    if (member === undefined) throw missing(`field "${c.name}" has no dictionary member "${key}"`);
    return Array.isArray(member[0]) ? serializeInnerList(member as InnerList) : serializeItem(member as Item);
  }
  if (p.has('sf')) return canonicalStructured(value, c.name);
  return value;
}

/** Checks a component identifier's parameters (§2.1, §2.2, §6.5 registry). */
export function checkComponentId(c: ComponentId): void {
  // the same few identifiers come with every request: a plain one checked before is not checked again
  if (c.params.size === 0 && checkedNames.has(c.name)) return;
  checkComponentIdFully(c);
  if (c.params.size === 0 && checkedNames.size < CHECKED_NAMES_MAX) checkedNames.add(c.name);
}

/** Parameterless component names already found valid (bounded: names come from clients). */
const checkedNames = new Set<string>();
const CHECKED_NAMES_MAX = 256;

function checkComponentIdFully(c: ComponentId): void {
  if (c.name === '' || c.name !== c.name.toLowerCase()) throw malformed(`component name ${JSON.stringify(c.name)} must be lowercase and non-empty`);
  const derived = c.name.startsWith('@');
  // RFC 9110 §5.1: a field name is a token
  if (!(derived ? /^@[a-z0-9-]+$/ : /^[!#$%&'*+\-.^_`|~0-9a-z]+$/).test(c.name)) throw malformed(`component name ${JSON.stringify(c.name)} is not a field name or derived component`);
  for (const [k, v] of c.params) {
    if (k === 'name') {
      if (c.name !== '@query-param') throw malformed(`parameter name is only defined for @query-param`);
      if (typeof v !== 'string') throw malformed(`@query-param name must be a string`);
      continue;
    }
    if (!FIELD_PARAMS.has(k)) throw malformed(`component parameter "${k}" is not understood`);
    if (derived && k !== 'req') throw malformed(`parameter ${k} is only defined for fields, not ${c.name}`);
    if (FLAG_PARAMS.has(k) && v !== true) throw malformed(`component parameter ${k} must be a bare flag`);
    if (k === 'key' && typeof v !== 'string') throw malformed('component parameter key must be a string');
  }
  if (c.params.has('bs') && (c.params.has('sf') || c.params.has('key'))) throw malformed('bs cannot be combined with sf or key (RFC 9421 §2.1.3)');
  if (c.name === '@query-param' && !c.params.has('name')) throw malformed('@query-param needs a name parameter');
  if (c.name === '@signature-params') throw malformed('@signature-params cannot be a covered component');
}

interface Target {
  /** The URL this was parsed from; a message object whose url changed is parsed again. */
  url: string;
  scheme: string;
  authority: string;
  path: string;
  query: string | undefined;
  targetUri: string;
}

const targets = new WeakMap<HttpRequestLike, Target>();

const targetInvalid = (m: string): PortcullisError => new PortcullisError('signature.target-invalid', m);

/** RFC 3986 unreserved and sub-delims, by character code: a reg-name's characters besides pct-encoded ones. */
const REG_NAME = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=") REG_NAME[c.charCodeAt(0)] = 1;

const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** RFC 3986 §3.2.2 IP-literal (IPv6address or IPvFuture in brackets), loosely for IPv6: the rare case. */
const IP_LITERAL = /^\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]$/;

/**
 * Where the RFC 3986 §3.2.2–3.2.3 `host [":" port]` starting at `start` of `s` ends (at
 * "/", "?" or the end of `s`), or -1 when there is none: an IP-literal, or a reg-name /
 * IPv4address of unreserved, pct-encoded and sub-delims characters, then an optional
 * port of at most five digits. No userinfo (`@`), `#`, whitespace or controls: they would let an authority hide
 * path or fragment text. A character loop, no allocation (it runs on every signed request).
 */
function hostPortEnd(s: string, start: number): number {
  const n = s.length;
  let i = start;
  if (i < n && s.charCodeAt(i) === 0x5b) {
    const close = s.indexOf(']', i);
    if (close < 0 || !IP_LITERAL.test(s.slice(i, close + 1))) return -1;
    i = close + 1;
  } else {
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 128 && REG_NAME[c] === 1) continue;
      if (c === 0x25 && i + 2 < n && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
        i += 2;
        continue;
      }
      break;
    }
    if (i === start) return -1;
  }
  if (i < n && s.charCodeAt(i) === 0x3a) {
    const digits = ++i;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
    }
    // a port is 0–65535: more than five digits is no port
    if (i - digits > 5) return -1;
  }
  if (i === n) return n;
  const c = s.charCodeAt(i);
  return c === 0x2f || c === 0x3f ? i : -1;
}

/**
 * Whether `s` is a valid `host[:port]` (RFC 3986), e.g. a Host header the gateway may
 * build a target URI from.
 *
 * @example isHostPort('api.example.com:8443'); // true
 * isHostPort('api.example.com/orders#'); // false
 */
export function isHostPort(s: string): boolean {
  return hostPortEnd(s, 0) === s.length;
}

/** Why an authority that is not `host[:port]` is refused (nothing is silently stripped). */
function badAuthority(authority: string): PortcullisError {
  return targetInvalid(authority.includes('@') ? 'the target URI has userinfo in its authority' : 'the target URI authority is not a valid host[:port]');
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

/** RFC 3986 §2.3 unreserved characters, by character code. */
const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;

/**
 * A valid `host[:port]` normalised as RFC 9421 §2.2.3 asks ("normalized according to the
 * rules provided in [HTTP], Section 4.2.3", i.e. RFC 3986 §6.2.2–6.2.3): the host
 * lowercased, but "the hexadecimal digits within a percent-encoding triplet … should be
 * normalized to use uppercase letters" and an encoded unreserved character decoded; a
 * port that is empty or the scheme's default (`:0443` is 443) omitted, another port
 * written as its decimal number.
 */
function normalizeAuthority(raw: string, scheme: string): string {
  const colon = raw.lastIndexOf(':');
  const hasPort = colon >= 0 && colon > raw.lastIndexOf(']');
  const host = hasPort ? raw.slice(0, colon) : raw;
  let out = '';
  if (!host.includes('%')) out = host.toLowerCase();
  else {
    for (let i = 0; i < host.length; i++) {
      const ch = host[i]!;
      if (ch !== '%') {
        out += ch.toLowerCase();
        continue;
      }
      // hostPortEnd admits "%" only before two hex digits
      const byte = parseInt(host.slice(i + 1, i + 3), 16);
      out += byte < 128 && UNRESERVED[byte] === 1 ? String.fromCharCode(byte).toLowerCase() : `%${host.slice(i + 1, i + 3).toUpperCase()}`;
      i += 2;
    }
  }
  if (!hasPort || colon === raw.length - 1) return out;
  const port = Number(raw.slice(colon + 1));
  return port === DEFAULT_PORTS[scheme] ? out : `${out}:${port}`;
}

function target(req: HttpRequestLike): Target {
  let t = targets.get(req);
  if (t && t.url === req.url) return t;
  // a fragment is never part of a target URI (RFC 9110 §7.1): refused, not stripped, since stripping it hides text after "#"
  if (req.url.includes('#')) throw targetInvalid('the target URI has a fragment');
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?/.exec(req.url);
  if (!m) throw malformed('the request URL must be the absolute target URI');
  if (!isHostPort(m[2]!)) throw badAuthority(m[2]!);
  const scheme = m[1]!.toLowerCase();
  const authority = normalizeAuthority(m[2]!, scheme);
  t = { url: req.url, scheme, authority, path: m[3] || '/', query: m[4], targetUri: req.url };
  targets.set(req, t);
  return t;
}

const HEX = '0123456789ABCDEF';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** The bytes of one application/x-www-form-urlencoded name or value (URL Standard): `+` is a space, `%XX` a byte. */
function formBytes(raw: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '+') bytes.push(0x20);
    else if (ch === '%' && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...utf8.encode(ch));
  }
  return new Uint8Array(bytes);
}

/**
 * One form-urlencoded name or value, UTF-8 decoded; undefined when its bytes are not
 * UTF-8. The URL Standard puts U+FFFD for those, so `%FF`, `%FE` and `%EF%BF%BD` would
 * be one component value: covered bytes a MITM could change without breaking the signature.
 */
function formDecode(raw: string): string | undefined {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  try {
    return utf8Strict.decode(formBytes(raw));
  } catch {
    return undefined;
  }
}

const notUtf8 = (name: string): PortcullisError => malformed(`query parameter "${name}" is not UTF-8 once decoded, so its value is ambiguous (RFC 9421 §2.2.8 would replace the bytes)`);

/** "Percent-encode after encoding" with the application/x-www-form-urlencoded set; a space is %20 (RFC 9421 §2.2.8 example). */
export function formEncode(s: string): string {
  let out = '';
  for (const b of utf8.encode(s)) {
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2a || b === 0x2d || b === 0x2e || b === 0x5f) out += String.fromCharCode(b);
    else out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

/** The name of a form-urlencoded pair, decoded and re-encoded as a covered name is written; undefined when it is not UTF-8. */
function pairName(pair: string): string | undefined {
  const eq = pair.indexOf('=');
  const decoded = formDecode(eq < 0 ? pair : pair.slice(0, eq));
  return decoded === undefined ? undefined : formEncode(decoded);
}

/**
 * Refuses a query in which a parser that splits on `;` as well as `&` (Rack 2, Go before 1.17,
 * Perl's CGI, Python before 3.9.2) finds `name` where §2.2.8's parser does not: in a `;` piece
 * of a pair, or as a pair whose value a `;` cuts short. To such an upstream the covered value
 * is not the one signed, or not the only one.
 */
function checkSemicolons(pair: string, name: string): void {
  const pieces = pair.split(';');
  for (let i = 0; i < pieces.length; i++) {
    if (pairName(pieces[i]!) === name) throw missing(`query parameter "${name}" is next to a ";", which some upstreams read as a separator, so its value is ambiguous and cannot be covered`);
  }
}

function queryParam(query: string | undefined, name: string): string {
  let found: string | undefined;
  for (const pair of (query ?? '').split('&')) {
    if (pair === '') continue;
    if (pair.includes(';')) checkSemicolons(pair, name);
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const decoded = formDecode(rawName);
    // a name that is not UTF-8 is no covered name, but one U+FFFD would make it the same as one is ambiguous
    if (decoded === undefined) {
      if (name.includes('%EF%BF%BD') && formEncode(new TextDecoder().decode(formBytes(rawName))) === name) throw notUtf8(name);
      continue;
    }
    if (formEncode(decoded) !== name) continue;
    // §2.2.8: "If a parameter name occurs multiple times in a request, the named query parameter MUST NOT be included."
    if (found !== undefined) throw missing(`query parameter "${name}" occurs more than once and cannot be covered`);
    const value = formDecode(eq < 0 ? '' : pair.slice(eq + 1));
    if (value === undefined) throw notUtf8(name);
    found = formEncode(value);
  }
  // §2.2.8: a named parameter that does not occur "MUST cause an error in the signature base generation"
  if (found === undefined) throw missing(`query parameter "${name}" is absent`);
  return found;
}

function derivedValue(c: ComponentId, context: HttpMessageLike): string {
  if (c.name === '@status') {
    if (isRequestLike(context)) throw malformed('@status is only defined for responses');
    const s = context.status;
    if (!Number.isInteger(s) || s < 100 || s > 999) throw malformed('@status is not a three-digit status code');
    return String(s);
  }
  if (!isRequestLike(context)) throw malformed(`${c.name} is only defined for requests (use ;req on a response)`);
  switch (c.name) {
    case '@method':
      return context.method;
    case '@target-uri': {
      // the common absolute http(s) URI without a fragment, its authority a host[:port], is its own value; anything else is parsed (and refused)
      const u = context.url;
      const start = u.startsWith('https://') ? 8 : u.startsWith('http://') ? 7 : -1;
      if (start > 0 && !u.includes('#') && hostPortEnd(u, start) >= 0) return u;
      return target(context).targetUri;
    }
    case '@authority':
      return target(context).authority;
    case '@scheme':
      return target(context).scheme;
    case '@request-target': {
      if (context.requestTarget !== undefined) return context.requestTarget;
      const t = target(context);
      return t.query === undefined ? t.path : `${t.path}?${t.query}`;
    }
    case '@path':
      return target(context).path;
    case '@query': {
      // §2.2.7: an absent query is the leading "?" alone
      return `?${target(context).query ?? ''}`;
    }
    case '@query-param':
      return queryParam(target(context).query, c.params.get('name') as string);
    default:
      throw malformed(`derived component ${c.name} is not understood`);
  }
}

/**
 * The value of one component in `message` (or, with `;req`, in `request`).
 *
 * @example
 * componentValue(parseComponentId('@authority'), { method: 'GET', url: 'https://Example.com:443/x', headers: new Headers() });
 * // 'example.com'
 */
export function componentValue(c: ComponentId, message: HttpMessageLike, request?: HttpRequestLike): string {
  checkComponentId(c);
  let context: HttpMessageLike = message;
  if (c.params.has('req')) {
    // §2.4: req binds a response signature to a component of the request
    if (isRequestLike(message)) throw malformed('the req parameter is only defined in a response signature');
    if (!request) throw missing(`${c.name};req needs the related request`);
    context = request;
  }
  const value = c.name.startsWith('@') ? derivedValue(c, context) : fieldValue(c, c.params.has('tr') ? context.trailers : context.headers);
  if (/[\r\n]/.test(value)) throw malformed(`component ${c.name} has a line break in its value`);
  return value;
}
