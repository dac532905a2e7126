/**
 * Character classes of HTTP/1.1 (RFC 9110 §5.6.2, RFC 9112), as byte tables so
 * the parsers test a byte with one array read.
 */

/** tchar: the characters of a token (field names, methods, transfer codings). */
export const TCHAR = new Uint8Array(256);
for (const ch of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[ch.charCodeAt(0)] = 1;
}

/** field-vchar plus SP and HTAB: what a field value may hold (obs-text included, as Node allows). */
export const FIELD_VALUE = new Uint8Array(256);
FIELD_VALUE[0x09] = 1;
for (let b = 0x20; b <= 0xff; b++) if (b !== 0x7f) FIELD_VALUE[b] = 1;

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

/**
 * The end of a field line's name that starts at `pos`: the index of its ":", or -1
 * when the line (ending at `to`) does not open with a token followed by ":".
 */
export function fieldNameEnd(buf: Buffer, pos: number, to: number): number {
  let i = pos;
  while (i < to && TCHAR[buf[i] as number] === 1) i++;
  return i === pos || buf[i] !== COLON ? -1 : i;
}

/**
 * A field line's value between its ":" at `colon` and the line's end `to`, with the
 * optional whitespace around it removed; null when it holds a control character.
 */
export function fieldValue(buf: Buffer, colon: number, to: number): string | null {
  let i = colon + 1;
  while (i < to && (buf[i] === SP || buf[i] === HTAB)) i++;
  let end = to;
  while (end > i && (buf[end - 1] === SP || buf[end - 1] === HTAB)) end--;
  for (let j = i; j < end; j++) if (FIELD_VALUE[buf[j] as number] === 0) return null;
  return buf.toString('latin1', i, end);
}

/** True when every character of `value` may stand in a field value (no CR, LF, NUL or other CTL). */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || FIELD_VALUE[c] === 0) return false;
  }
  return true;
}

/** True when `name` is a non-empty token. */
export function isToken(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * A header field as the lines of a message head, one per value of a list, each
 * checked: `invalid` makes the error thrown for a name that is not a token or a
 * value that could not be sent as is (a CR, LF or other control character).
 */
export function fieldLines(
  name: string,
  value: string | number | readonly string[],
  invalid: (part: 'name' | 'value', name: string) => Error,
): string {
  if (!isToken(name)) throw invalid('name', name);
  if (typeof value === 'number') return `${name}: ${value}\r\n`;
  if (typeof value === 'string') {
    if (!isFieldValue(value)) throw invalid('value', name);
    return `${name}: ${value}\r\n`;
  }
  let lines = '';
  for (const v of value) lines += fieldLines(name, v, invalid);
  return lines;
}

/** True when the comma-separated list `value` names `token` (compared case-insensitively). */
export function listHas(value: string, token: string): boolean {
  const lower = value.toLowerCase();
  if (lower === token) return true;
  if (!lower.includes(token)) return false;
  for (const part of lower.split(',')) if (part.trim() === token) return true;
  return false;
}

/**
 * Header fields by name: an object that inherits nothing (a field named `__proto__` or
 * `constructor` is just a field, and no absent name reads an Object.prototype member),
 * built from a constructor whose prototype is such an object. V8 keeps these in fast
 * mode; `Object.create(null)` objects are dictionaries, several times slower to fill.
 */
const FieldsPrototype = function FieldsPrototype() {} as unknown as new () => Record<string, never>;
FieldsPrototype.prototype = Object.create(null);

export function newFields<T>(): Record<string, T> {
  return new FieldsPrototype() as Record<string, T>;
}
