/**
 * Terminal-safe text. Reason phrases, URLs, error messages and lines of an input file come from
 * servers and files the user does not control; written raw, an ESC or a C1 control (U+009B is a
 * CSI on many terminals) could move the cursor, rewrite the screen or retitle the window. The
 * plain-text output shows such characters in a visible form instead; `--json` stays exact.
 */

/**
 * Characters never written raw: C0 controls (tab, CR and LF included: a one-line message stays
 * one line), DEL, C1 controls, and the Unicode bidirectional formatting characters, which can
 * make text read differently from what it is.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The same, and the backslash, so that an escape is never mistaken for text that looks like one. */
const CONTROL_OR_BACKSLASH =
  /[\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\' };

function escapeOne(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  // \xHH for ASCII (ESC is \x1b), \uHHHH above it, so that \u009b is not read as a byte.
  return code < 0x80
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` made safe and unambiguous for a terminal: controls become `\t`, `\n`, `\r`, `\x1b`,
 * `\x7f`, `\u009b`, ...; a backslash becomes `\\`. For a value from a server or a file.
 *
 * @example visible('a\x1b[2Jb\\') → `a\x1b[2Jb\\` (as typed: backslash, x, 1, b, ...)
 */
export function visible(text: string): string {
  return text.replace(CONTROL_OR_BACKSLASH, escapeOne);
}

/**
 * `text` with its controls escaped as {@link visible} does, backslashes left as they are: the
 * last safeguard on a whole line the program composed, whose values were already made
 * {@link visible} (so the line is unchanged unless a value was missed).
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, escapeOne);
}

/** `text` in double quotes, made {@link visible}, a `"` inside it written `\"`. */
export function quote(text: string): string {
  return `"${visible(text).replaceAll('"', '\\"')}"`;
}
