/**
 * Signature-Input, Signature and Accept-Signature (RFC 9421 §4.1, §4.2, §5.1):
 * dictionaries parsed and serialized with `structured-headers` (RFC 8941), checked
 * for the shape RFC 9421 gives them. Every failure is `signature.malformed`.
 *
 * Signature-Input and Signature are read on every signed request, so a value in
 * canonical form (what every signer emits: `, ` between members, one space between
 * items, strings without escapes, integers without leading zeros or sign, byte
 * sequences padded) is first read by a scanner of that form alone, which builds the
 * same result without structured-headers' general parse. Anything outside the form,
 * well formed or not, goes to structured-headers. The fuzz test checks the two give
 * the same answer on thousands of canonical and mutated values.
 */
import { parseDictionary, parseItem, serializeBareItem, serializeInnerList, serializeItem, Token, type BareItem, type InnerList, type Item, type Parameters } from 'structured-headers';
import { PortcullisError } from '../core/errors.js';
import type { SignatureParams } from './types.js';

/** A component identifier (§2): a name (field name or `@derived`) and its parameters (`sf`, `key`, `bs`, `req`, `tr`, `name`). */
export interface ComponentId {
  name: string;
  params: Parameters;
}

/** One member of Signature-Input. */
export interface SignatureInput {
  label: string;
  components: ComponentId[];
  params: SignatureParams;
  /** All parameters as parsed, including extensions, in order. */
  rawParams: Parameters;
  /** The `@signature-params` value: the serialization of this member's inner list (§2.3). */
  serialized: string;
  /** The serialized identifier of each covered component, in order (the signature base's line prefixes). */
  componentIds: string[];
}

/** One member of Accept-Signature (§5.1): what a signer is asked to produce. */
export interface SignatureRequest {
  label: string;
  components: ComponentId[];
  keyid?: string;
  alg?: string;
  tag?: string;
  nonce?: string;
  /** `created` / `expires` are flags in Accept-Signature: include them. */
  created: boolean;
  expires: boolean;
}

const malformed = (message: string, cause?: unknown): PortcullisError =>
  new PortcullisError('signature.malformed', message, cause === undefined ? {} : { cause });

/**
 * The member keys of a serialized dictionary in order, duplicates included.
 * RFC 8941 lets a later member silently replace an earlier one of the same key;
 * for signatures that ambiguity is an attack surface, so callers reject it.
 * Assumes `value` already parsed as a dictionary.
 */
/** RFC 8941 key characters: lcalpha, DIGIT, "_", "-", ".", "*". */
const isKeyChar = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a;

export function dictionaryKeys(value: string): string[] {
  const keys: string[] = [];
  let i = 0;
  const n = value.length;
  let expectKey = true;
  let depth = 0;
  while (i < n) {
    const c = value.charCodeAt(i);
    if (expectKey) {
      if (c === 0x20 || c === 0x09 || c === 0x2c) { i++; continue; }
      let j = i;
      while (j < n && isKeyChar(value.charCodeAt(j))) j++;
      keys.push(value.slice(i, j));
      expectKey = false;
      i = j;
      continue;
    }
    if (c === 0x22) {
      // string: skip to the closing quote, honouring backslash escapes
      i++;
      while (i < n && value.charCodeAt(i) !== 0x22) i += value.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
      continue;
    }
    if (c === 0x28) depth++;
    else if (c === 0x29) depth--;
    else if (c === 0x2c && depth === 0) expectKey = true;
    i++;
  }
  return keys;
}

/**
 * How many parameters a serialized structured field has: its `;` outside strings (no
 * other bare item can hold one). Assumes `value` already parsed.
 */
export function parameterMarks(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x3b) n++;
    else if (c === 0x22) {
      // string (or display string): skip to the closing quote, honouring backslash escapes
      i++;
      while (i < value.length && value.charCodeAt(i) !== 0x22) i += value.charCodeAt(i) === 0x5c ? 2 : 1;
    }
  }
  return n;
}

/** The parameters a parsed member holds: its own, and each inner-list item's. */
export function parsedParameters(member: Item | InnerList): number {
  let n = member[1].size;
  if (isInnerList(member)) for (const item of member[0]) n += item[1].size;
  return n;
}

function parseDict(value: string, what: string): Map<string, Item | InnerList> {
  let dict: Map<string, Item | InnerList>;
  try {
    dict = parseDictionary(value);
  } catch (e) {
    throw malformed(`${what} is not a structured dictionary`, e);
  }
  const keys = dictionaryKeys(value);
  if (keys.length !== dict.size) throw malformed(`${what} repeats a label`);
  // RFC 8941 keeps the last of a repeated parameter, and the signature base holds that one alone:
  // `keyid="evil";keyid="k"` would verify as k while the field, forwarded as received, reads evil to a first-wins parser
  let params = 0;
  for (const member of dict.values()) params += parsedParameters(member);
  if (parameterMarks(value) !== params) throw malformed(`${what} repeats a parameter`);
  return dict;
}

/**
 * RFC 8941 §4.1 serialization of values the parser produced, so already valid: the
 * common bare items directly, the rare ones (decimals, byte sequences, dates, display
 * strings) through `structured-headers`. Same output as its serializer, without its
 * per-value re-validation; property-tested against it in the fuzz test.
 */
function serializeParsedBare(v: BareItem): string {
  if (typeof v === 'string') return v.includes('"') || v.includes('\\') ? `"${v.replace(/["\\]/g, '\\$&')}"` : `"${v}"`;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (v instanceof Token) return v.toString();
  return serializeBareItem(v);
}

function serializeParsedParams(params: Parameters): string {
  let out = '';
  for (const [k, v] of params) out += v === true ? `;${k}` : `;${k}=${serializeParsedBare(v)}`;
  return out;
}

/** The serialization of a parsed item (a component identifier). */
export function serializeParsedItem(value: BareItem, params: Parameters): string {
  return params.size === 0 ? serializeParsedBare(value) : serializeParsedBare(value) + serializeParsedParams(params);
}

function isInnerList(m: Item | InnerList): m is InnerList {
  return Array.isArray(m[0]);
}

function components(list: Item[], label: string): ComponentId[] {
  return list.map(([name, params]) => {
    if (typeof name !== 'string') throw malformed(`signature "${label}": a component identifier is not a string`);
    return { name, params };
  });
}

/** Parses a component identifier as written in code: `@method`, `content-digest`, `"example-dict";key="a"`, `@query-param;name="Pet"`. */
export function parseComponentId(s: string): ComponentId {
  const src = s.startsWith('"') ? s : `"${s.replace(/;.*/s, '')}"${s.includes(';') ? s.slice(s.indexOf(';')) : ''}`;
  let item: Item;
  try {
    item = parseItem(src);
  } catch (e) {
    throw malformed(`component identifier ${JSON.stringify(s)} does not parse`, e);
  }
  if (typeof item[0] !== 'string') throw malformed(`component identifier ${JSON.stringify(s)} is not a string`);
  return { name: item[0], params: item[1] };
}

/** The canonical serialization of a component identifier (`"@query-param";name="Pet"`). */
export function serializeComponentId(c: ComponentId): string {
  return serializeItem(c.name, c.params);
}

function paramString(params: Parameters, key: string, label: string): string | undefined {
  const v = params.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw malformed(`signature "${label}": parameter ${key} must be a string`);
  return v;
}

function paramInteger(params: Parameters, key: string, label: string): number | undefined {
  const v = params.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw malformed(`signature "${label}": parameter ${key} must be an integer`);
  return v;
}

function signatureParams(params: Parameters, label: string): SignatureParams {
  const out: SignatureParams = {};
  const created = paramInteger(params, 'created', label);
  const expires = paramInteger(params, 'expires', label);
  const nonce = paramString(params, 'nonce', label);
  const alg = paramString(params, 'alg', label);
  const keyid = paramString(params, 'keyid', label);
  const tag = paramString(params, 'tag', label);
  if (created !== undefined) out.created = created;
  if (expires !== undefined) out.expires = expires;
  if (nonce !== undefined) out.nonce = nonce;
  if (alg !== undefined) out.alg = alg;
  if (keyid !== undefined) out.keyid = keyid;
  if (tag !== undefined) out.tag = tag;
  return out;
}

// ---- the canonical-form scanner (see the module comment) --------------------------

/** A value read by the scanner: where it ended (or -1 when the input left the canonical form). */
const NOT_CANONICAL = -1;

/** lcalpha or `*`: the first character of a key. */
const isKeyStart = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || c === 0x2a;

/** The end of the key starting at `i`, or -1. */
function scanKey(v: string, i: number): number {
  if (i >= v.length || !isKeyStart(v.charCodeAt(i))) return NOT_CANONICAL;
  let j = i + 1;
  while (j < v.length && isKeyChar(v.charCodeAt(j))) j++;
  return j;
}

/** The end of the string (quotes included) starting at `i`, or -1; no escapes in the canonical form. */
function scanString(v: string, i: number): number {
  if (v.charCodeAt(i) !== 0x22) return NOT_CANONICAL;
  for (let j = i + 1; j < v.length; j++) {
    const c = v.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return NOT_CANONICAL;
  }
  return NOT_CANONICAL;
}

/** The end of a non-negative integer without leading zeros (at most 15 digits) at `i`, or -1. */
function scanInteger(v: string, i: number): number {
  let j = i;
  while (j < v.length && j - i <= 15) {
    const c = v.charCodeAt(j);
    if (c < 0x30 || c > 0x39) break;
    j++;
  }
  const n = j - i;
  if (n === 0 || n > 15 || (n > 1 && v.charCodeAt(i) === 0x30)) return NOT_CANONICAL;
  return j;
}

/**
 * Parameters at `i` (`;key`, `;key="string"`, `;key=123`) into `out`; returns where they
 * end, or -1 (also for a repeated key, whose meaning RFC 8941 gives as "the last one").
 */
function scanParams(v: string, i: number, out: Parameters): number {
  while (i < v.length && v.charCodeAt(i) === 0x3b) {
    const k = scanKey(v, i + 1);
    if (k === NOT_CANONICAL) return NOT_CANONICAL;
    const key = v.slice(i + 1, k);
    if (out.has(key)) return NOT_CANONICAL;
    if (k < v.length && v.charCodeAt(k) === 0x3d) {
      const c = v.charCodeAt(k + 1);
      if (c === 0x22) {
        const e = scanString(v, k + 1);
        if (e === NOT_CANONICAL) return NOT_CANONICAL;
        out.set(key, v.slice(k + 2, e - 1));
        i = e;
      } else {
        const e = scanInteger(v, k + 1);
        if (e === NOT_CANONICAL) return NOT_CANONICAL;
        out.set(key, Number(v.slice(k + 1, e)));
        i = e;
      }
    } else {
      out.set(key, true);
      i = k;
    }
  }
  return i;
}

/** After a member ending at `i`: the start of the next one (past `, `), `v.length` at the end, or -1. */
function nextMember(v: string, i: number): number {
  if (i === v.length) return i;
  if (v.charCodeAt(i) !== 0x2c || v.charCodeAt(i + 1) !== 0x20 || i + 2 >= v.length) return NOT_CANONICAL;
  return i + 2;
}

/** Signature-Input in canonical form, or undefined for anything else (then structured-headers decides). */
export function scanSignatureInput(v: string): Map<string, SignatureInput> | undefined {
  const out = new Map<string, SignatureInput>();
  let i = 0;
  while (i < v.length) {
    const k = scanKey(v, i);
    if (k === NOT_CANONICAL || v.charCodeAt(k) !== 0x3d || v.charCodeAt(k + 1) !== 0x28) return undefined;
    const label = v.slice(i, k);
    if (out.has(label)) return undefined;
    const open = k + 1;
    let j = open + 1;
    const covered: ComponentId[] = [];
    const ids: string[] = [];
    if (v.charCodeAt(j) !== 0x29) {
      for (;;) {
        const e = scanString(v, j);
        if (e === NOT_CANONICAL) return undefined;
        const params: Parameters = new Map();
        const p = scanParams(v, e, params);
        if (p === NOT_CANONICAL) return undefined;
        covered.push({ name: v.slice(j + 1, e - 1), params });
        ids.push(v.slice(j, p));
        const c = v.charCodeAt(p);
        if (c === 0x29) {
          j = p;
          break;
        }
        if (c !== 0x20 || v.charCodeAt(p + 1) === 0x20 || v.charCodeAt(p + 1) === 0x29) return undefined;
        j = p + 1;
      }
    }
    const rawParams: Parameters = new Map();
    const end = scanParams(v, j + 1, rawParams);
    if (end === NOT_CANONICAL) return undefined;
    let params: SignatureParams;
    try {
      params = signatureParams(rawParams, label);
    } catch {
      // a parameter of the wrong type: the general path words the error for the whole value
      return undefined;
    }
    out.set(label, { label, components: covered, params, rawParams, serialized: v.slice(open, end), componentIds: ids });
    i = nextMember(v, end);
    if (i === NOT_CANONICAL) return undefined;
  }
  return out.size === 0 ? undefined : out;
}

/** Base64 digit values by character code (0xff: not a digit). */
const B64_VALUE = (() => {
  const t = new Uint8Array(128).fill(0xff);
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) t[digits.charCodeAt(i)] = i;
  return t;
})();

/**
 * Decodes base64 already matched by CANONICAL_BASE64, on web standards alone (no
 * `Buffer`: this code runs in the SDK, in browsers too), into a Uint8Array of its own.
 */
function decodeBase64(b64: string): Uint8Array {
  let n = b64.length;
  while (n > 0 && b64.charCodeAt(n - 1) === 0x3d) n--;
  const out = new Uint8Array((n * 3) >> 2);
  let o = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = (B64_VALUE[b64.charCodeAt(i)]! << 18) | (B64_VALUE[b64.charCodeAt(i + 1)]! << 12) | (B64_VALUE[b64.charCodeAt(i + 2)]! << 6) | B64_VALUE[b64.charCodeAt(i + 3)]!;
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 0xff;
    out[o++] = v & 0xff;
  }
  const rest = n - i;
  if (rest >= 2) {
    const v = (B64_VALUE[b64.charCodeAt(i)]! << 18) | (B64_VALUE[b64.charCodeAt(i + 1)]! << 12) | (rest === 3 ? B64_VALUE[b64.charCodeAt(i + 2)]! << 6 : 0);
    out[o++] = v >> 16;
    if (rest === 3) out[o++] = (v >> 8) & 0xff;
  }
  return out;
}

/** Base64 as RFC 8941 serializes it (padded). */
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Signature in canonical form (`label=:base64:` members), or undefined for anything else. */
export function scanSignature(v: string): Map<string, Uint8Array> | undefined {
  const out = new Map<string, Uint8Array>();
  let i = 0;
  while (i < v.length) {
    const k = scanKey(v, i);
    if (k === NOT_CANONICAL || v.charCodeAt(k) !== 0x3d || v.charCodeAt(k + 1) !== 0x3a) return undefined;
    const close = v.indexOf(':', k + 2);
    if (close === -1) return undefined;
    const b64 = v.slice(k + 2, close);
    if (!CANONICAL_BASE64.test(b64)) return undefined;
    const label = v.slice(i, k);
    if (out.has(label)) return undefined;
    out.set(label, decodeBase64(b64));
    i = nextMember(v, close + 1);
    if (i === NOT_CANONICAL) return undefined;
  }
  return out.size === 0 ? undefined : out;
}

/**
 * Parses a Signature-Input field value (all field lines joined with ", ").
 *
 * @example
 * const inputs = parseSignatureInput('sig1=("@method" "@authority");created=1618884473;keyid="k"');
 * inputs.get('sig1')?.components[0]?.name; // '@method'
 */
export function parseSignatureInput(value: string): Map<string, SignatureInput> {
  return scanSignatureInput(value) ?? parseSignatureInputStructured(value);
}

/** `parseSignatureInput` through structured-headers alone (the general path; the fuzz test compares the two). */
export function parseSignatureInputStructured(value: string): Map<string, SignatureInput> {
  const out = new Map<string, SignatureInput>();
  for (const [label, member] of parseDict(value, 'Signature-Input')) {
    if (!isInnerList(member)) throw malformed(`Signature-Input "${label}" is not an inner list`);
    const covered = components(member[0], label);
    const ids = covered.map((c) => serializeParsedItem(c.name, c.params));
    out.set(label, {
      label,
      components: covered,
      params: signatureParams(member[1], label),
      rawParams: member[1],
      // §2.3: the inner list serialized (RFC 8941 §4.1.1.1), built once from the parsed member
      serialized: `(${ids.join(' ')})${serializeParsedParams(member[1])}`,
      componentIds: ids,
    });
  }
  return out;
}

/** Parses a Signature field value: label → signature bytes. */
export function parseSignature(value: string): Map<string, Uint8Array> {
  return scanSignature(value) ?? parseSignatureStructured(value);
}

/** `parseSignature` through structured-headers alone (the general path). */
export function parseSignatureStructured(value: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [label, member] of parseDict(value, 'Signature')) {
    if (isInnerList(member) || !(member[0] instanceof ArrayBuffer)) throw malformed(`Signature "${label}" is not a byte sequence`);
    out.set(label, new Uint8Array(member[0]));
  }
  return out;
}

/** The `@signature-params` value for covered components and parameters, in the order given. */
export function serializeSignatureParams(covered: readonly ComponentId[], params: SignatureParams, extensions?: Readonly<Record<string, BareItem>>): string {
  const p: Parameters = new Map();
  for (const k of ['created', 'expires', 'keyid', 'alg', 'nonce', 'tag'] as const) {
    const v = params[k];
    if (v !== undefined) p.set(k, v);
  }
  if (extensions) for (const [k, v] of Object.entries(extensions)) if (!p.has(k)) p.set(k, v);
  return serializeInnerList([covered.map((c) => [c.name, c.params] as Item), p]);
}

/** Parses Accept-Signature (§5.1). */
export function parseAcceptSignature(value: string): Map<string, SignatureRequest> {
  const out = new Map<string, SignatureRequest>();
  for (const [label, member] of parseDict(value, 'Accept-Signature')) {
    if (!isInnerList(member)) throw malformed(`Accept-Signature "${label}" is not an inner list`);
    const p = member[1];
    const flag = (k: string): boolean => {
      const v = p.get(k);
      if (v === undefined) return false;
      if (v !== true) throw malformed(`Accept-Signature "${label}": ${k} must be a bare flag`);
      return true;
    };
    const req: SignatureRequest = { label, components: components(member[0], label), created: flag('created'), expires: flag('expires') };
    const keyid = paramString(p, 'keyid', label);
    const alg = paramString(p, 'alg', label);
    const tag = paramString(p, 'tag', label);
    const nonce = paramString(p, 'nonce', label);
    if (keyid !== undefined) req.keyid = keyid;
    if (alg !== undefined) req.alg = alg;
    if (tag !== undefined) req.tag = tag;
    if (nonce !== undefined) req.nonce = nonce;
    out.set(label, req);
  }
  return out;
}

/**
 * Serializes Accept-Signature members.
 *
 * @example
 * serializeAcceptSignature([{ label: 'sig1', components: ['@method', '@authority'].map(parseComponentId), created: true, expires: false, keyid: 'k' }]);
 * // 'sig1=("@method" "@authority");created;keyid="k"'
 */
export function serializeAcceptSignature(requests: readonly SignatureRequest[]): string {
  return requests
    .map((r) => {
      const p: Parameters = new Map();
      if (r.created) p.set('created', true);
      if (r.expires) p.set('expires', true);
      if (r.nonce !== undefined) p.set('nonce', r.nonce);
      if (r.alg !== undefined) p.set('alg', r.alg);
      if (r.keyid !== undefined) p.set('keyid', r.keyid);
      if (r.tag !== undefined) p.set('tag', r.tag);
      if (!/^[a-z*][a-z0-9_\-.*]*$/.test(r.label)) throw malformed(`label ${JSON.stringify(r.label)} is not a structured-field key`);
      return `${r.label}=${serializeInnerList([r.components.map((c) => [c.name, c.params] as Item), p])}`;
    })
    .join(', ');
}
