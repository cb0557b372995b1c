/**
 * Control characters in text that people and apps choose (names, e-mail addresses, URLs,
 * audit data): escaped before a terminal sees them, so an ESC sequence such as
 * `\u001b]0;…\u0007` (set the title) or `\u001b[2J` (clear the screen) can neither rewrite an
 * operator's screen nor hide a line; and refused where such a name is chosen.
 */

/**
 * What a terminal acts on instead of showing: C0 controls, DEL, C1 controls (U+009B is CSI
 * on terminals that read 8-bit controls), the Unicode line and paragraph separators and the
 * bidirectional controls that reorder what is shown (CVE-2021-42574, "Trojan Source").
 */
const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * The text with every character a terminal would act on shown as an escape: C0, DEL and C1
 * as `\xNN`, the others as `\u{NNNN}`. Printable text (a backslash included) is unchanged, so
 * escaping twice is escaping once.
 *
 * @example
 * escapeControls('key\u001b[2J'); // 'key\\x1b[2J'
 */
export function escapeControls(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0x9f ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}

/** Any control character, DEL, or a Unicode line separator or bidirectional control (what a terminal acts on): none belongs in a one-line name. */
const NOT_IN_NAME = new RegExp(TERMINAL_UNSAFE.source);

/**
 * Why `name` is no one-line name (the first control character in it, as `U+XXXX`), or
 * undefined when it has none.
 *
 * @example
 * nameControlCharacter('Office\u0007key'); // 'control character U+0007 is not allowed'
 */
export function nameControlCharacter(name: string): string | undefined {
  const m = NOT_IN_NAME.exec(name);
  return m === null ? undefined : `control character U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} is not allowed`;
}

/** C0 controls other than TAB, LF and CR, DEL, and C1 controls: not text in any field (a password or a note may hold a TAB or a line break). */
const NOT_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * Why `text` is not text (its first control character other than TAB, LF or CR, as
 * `U+XXXX`), or undefined when it is.
 *
 * @example
 * textControlCharacter('a\u001b[2J'); // 'control character U+001B is not allowed'
 */
export function textControlCharacter(text: string): string | undefined {
  const m = NOT_TEXT.exec(text);
  return m === null ? undefined : `control character U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} is not allowed`;
}
