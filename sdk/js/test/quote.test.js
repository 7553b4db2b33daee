import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { command, join, quote } from '../src/index.js';

// What /bin/sh makes of a command line: its words, NUL-separated.
function shWords(line) {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${line}`]).toString();
  return out.split('\0').slice(0, -1);
}

const TRICKY = [
  'plain', '', ' ', 'two words', "it's", '"dq"', '$(touch /tmp/sg-pwned)', '`id`',
  '$HOME', '*', 'a\\b', 'line\nbreak', 'tab\there', "'", "''", '-n', '~', '!x', 'é ü',
  'a;b|c&d>e<f', '#not-a-comment', '{a,b}',
];

test('quote leaves safe words alone', () => {
  assert.equal(quote('abc-1.2_3/x:y,z=w@h%p+q'), 'abc-1.2_3/x:y,z=w@h%p+q');
  assert.equal(quote(42), '42');
  assert.equal(quote(10n), '10');
  assert.equal(quote(true), 'true');
});

test('quote single-quotes the rest', () => {
  assert.equal(quote(''), "''");
  assert.equal(quote('a b'), "'a b'");
  assert.equal(quote("it's"), "'it'\\''s'");
  assert.equal(quote('$(x)'), "'$(x)'");
});

test('quote refuses what is not a word', () => {
  for (const v of [undefined, null, {}, [], () => 1]) assert.throws(() => quote(v), TypeError);
});

test('a shell reads every quoted word back unchanged', () => {
  assert.deepEqual(shWords(join(TRICKY)), TRICKY);
});

test('tagged template: values are one word each, arrays several', () => {
  const x = 'a b $(id)';
  assert.equal(command`echo ${x}`, "echo 'a b $(id)'");
  assert.equal(command`ls ${['-l', 'my dir']} | wc -l`, "ls -l 'my dir' | wc -l");
  assert.equal(command`true ${[]}`, 'true ');
  assert.equal(command`echo ${3} ${'ok'}`, 'echo 3 ok');
  assert.equal(command`no values`, 'no values');
  assert.deepEqual(shWords(command`${TRICKY[6]} ${TRICKY}`), [TRICKY[6], ...TRICKY]);
  assert.throws(() => command`echo ${undefined}`, TypeError);
});
