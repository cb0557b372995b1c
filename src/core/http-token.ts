/**
 * RFC 9110 §5.6.2 tokens, the syntax of field names, media types, parameter names and most
 * parameter values:
 *
 *     token = 1*tchar
 *     tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 */

/** `tchar` as a regular-expression character class, to build larger patterns from. */
export const TCHAR_CLASS = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";

/**
 * Whether a string holds a `tchar`: for one character, whether it is one.
 *
 * @example TCHAR.test('~') // true
 */
export const TCHAR = new RegExp(TCHAR_CLASS);

/**
 * Whether a whole string is a `token`.
 *
 * @example TOKEN.test('api.example') // true; TOKEN.test('"x"') // false
 */
export const TOKEN = new RegExp(`^${TCHAR_CLASS}+$`);
