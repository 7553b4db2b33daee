import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createArgs, duration, join, randomName } from '../src/index.js';

test('create with no options', () => {
  assert.deepEqual(createArgs('web'), ['create', 'web', '--json']);
});

test('create with every option', () => {
  const a = createArgs('web', {
    image: 'default', memoryMb: 1024, vcpus: 2, lifetime: '2h', idleTimeout: 600,
    allowNet: ['api.example.com:443', 'pypi.org:443'], secrets: ['OPENAI_KEY', 'GH'],
    env: { A: '1', B: 'two words' },
  });
  assert.deepEqual(a, [
    'create', 'web', '--image', 'default', '--memory', '1024', '--vcpus', '2',
    '--lifetime', '2h', '--idle-timeout', '600',
    '--allow-net', 'api.example.com:443,pypi.org:443', '--secret', 'OPENAI_KEY,GH',
    '--env', 'A=1', '--env', 'B=two words', '--json',
  ]);
  assert.equal(join(a.slice(-3)), "--env 'B=two words' --json");
});

test('secrets: [] asks for none', () => {
  const a = createArgs('x', { secrets: [] });
  assert.deepEqual(a, ['create', 'x', '--secret', '', '--json']);
  assert.equal(join(a), "create x --secret '' --json");
});

test('values the gateway checks are passed on as written', () => {
  assert.deepEqual(createArgs('x', { memoryMb: 'lots' }), ['create', 'x', '--memory', 'lots', '--json']);
});

test('JavaScript types are checked here', () => {
  assert.throws(() => createArgs('x', { allowNet: 'a:1' }), TypeError);
  assert.throws(() => createArgs('x', { secrets: [1] }), TypeError);
  assert.throws(() => createArgs('x', { memoryMb: {} }), TypeError);
  assert.throws(() => createArgs(undefined), TypeError);
});

test('durations', () => {
  assert.equal(duration(90), '90');
  assert.equal(duration('30m'), '30m');
  assert.throws(() => duration(1.5), RangeError);
  assert.throws(() => duration(-1), RangeError);
  assert.throws(() => duration(null), TypeError);
});

test('random names', () => {
  const a = randomName();
  assert.match(a, /^sb-[0-9a-f]{8}$/);
  assert.notEqual(a, randomName());
});
