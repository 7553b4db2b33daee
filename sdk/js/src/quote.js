// POSIX-shell quoting: for the guest's /bin/sh -c and for the gateway's
// control command line, which splits words the same way.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one word so that a POSIX shell reads it back unchanged.
 * Strings made only of safe characters are left as they are; anything else
 * is put in single quotes (a `'` inside becomes `'\''`). Numbers, bigints
 * and booleans are turned into their decimal/text form first.
 * @param {string | number | bigint | boolean} word
 * @returns {string}
 */
export function quote(word) {
  if (typeof word === 'number' || typeof word === 'bigint' || typeof word === 'boolean') {
    word = String(word);
  } else if (typeof word !== 'string') {
    throw new TypeError(`cannot quote ${word === null ? 'null' : typeof word} as a shell word`);
  }
  if (word === '') return "''";
  if (SAFE.test(word)) return word;
  return "'" + word.replaceAll("'", "'\\''") + "'";
}

/**
 * Quotes each word and joins them with spaces: a command line.
 * @param {Iterable<string | number | bigint | boolean>} words
 * @returns {string}
 */
export function join(words) {
  return Array.from(words, quote).join(' ');
}

/**
 * Builds a command line from a tagged template: the literal parts stay as
 * written (shell syntax), each interpolated value becomes one quoted word,
 * and an array becomes several quoted words (none when empty).
 *
 *     command`grep -r ${pattern} ${files}`
 *
 * @param {TemplateStringsArray} strings
 * @param {...unknown} values
 * @returns {string}
 */
export function command(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out += Array.isArray(v) ? join(v) : quote(/** @type {any} */ (v));
    out += strings[i + 1];
  }
  return out;
}

/** @param {unknown} x */
export function isTemplateStrings(x) {
  return Array.isArray(x) && Array.isArray(/** @type {any} */ (x).raw);
}
