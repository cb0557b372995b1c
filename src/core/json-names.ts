/**
 * Object member names in JSON text that a reader must refuse. RFC 8259 §4: "The names within
 * an object SHOULD be unique", and readers differ on a name sent twice (most keep the last,
 * some the first), so two readers of the same bytes can see two different values; RFC 7515
 * §5.2 and RFC 7519 §4 let a JOSE parser reject such a JWS or JWT. Used for JSON bodies
 * (http/json-body.ts) and for JWS headers and JWT claims sets (gateway/token-policy.ts).
 */
import { issuePath } from './config/load.js';

interface Frame {
  /** Names seen in an object; null in an array. */
  names: Set<string> | null;
  /** The name or index this value sits at in its parent (absent at the root). */
  at?: string | number;
  /** The name of the member being read (objects), or the index of the element (arrays). */
  current: string | number;
}

/**
 * The first object name that is refused, with its path, or undefined: a name that occurs
 * twice in one object (at any depth), `__proto__`, or `prototype` in a `constructor` object
 * (names a later merge into another object would turn into its prototype). `text` must be
 * valid JSON (parse it first). One pass, no recursion (a body may nest 100 000 deep):
 * strings are skipped with indexOf, and a name is decoded only when it has an escape, so
 * `"n\u0061me"` and `"name"` are the same name.
 *
 * @example
 * refusedName('{"a":[{"b":1,"b":2}]}') // { path: 'a[0].b', message: 'duplicate key' }
 */
export function refusedName(text: string): { path: string; message: string } | undefined {
  const stack: Frame[] = [];
  const pathTo = (name: string) => issuePath([...stack.flatMap((f) => (f.at === undefined ? [] : [f.at])), name]);
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (expectName) {
        const top = stack[stack.length - 1]!;
        const raw = text.slice(i + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (top.names!.has(name)) return { path: pathTo(name), message: 'duplicate key' };
        if (name === '__proto__' || (name === 'prototype' && top.at === 'constructor')) return { path: pathTo(name), message: 'key not allowed' };
        top.names!.add(name);
        top.current = name;
        expectName = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const parent = stack[stack.length - 1];
      stack.push({ names: c === 0x7b ? new Set() : null, ...(parent ? { at: parent.current } : {}), current: 0 });
      expectName = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectName = false;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1]!;
      if (top.names === null) (top.current as number)++;
      else expectName = true;
    }
  }
  return undefined;
}
