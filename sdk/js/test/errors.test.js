import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CommandError, controlError, Exists, LimitError, NotFound, Refused, SandgateError,
  StartFailed, Unavailable, UsageError,
} from '../src/index.js';

const doc = (code, message) => JSON.stringify({ error: { code, message } }) + '\n';

test('each code has its class', () => {
  const cases = [
    [2, 'usage', UsageError], [1, 'not_found', NotFound], [1, 'exists', Exists],
    [1, 'limit', LimitError], [1, 'refused', Refused], [1, 'unavailable', Unavailable],
    [1, 'failed', StartFailed],
  ];
  for (const [status, code, Cls] of cases) {
    const e = controlError(status, doc(code, `msg ${code}`));
    assert.ok(e instanceof Cls, code);
    assert.ok(e instanceof SandgateError);
    assert.ok(e instanceof Error);
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    assert.equal(e.message, `msg ${code}`);
    assert.equal(e.name, Cls.name);
  }
});

test('an unknown code is a plain SandgateError', () => {
  const e = controlError(1, doc('new_thing', 'hm'));
  assert.equal(e.constructor, SandgateError);
  assert.equal(e.code, 'new_thing');
});

test('plain text stderr falls back on the status', () => {
  const u = controlError(2, 'sandgate: unknown option --foo\n');
  assert.ok(u instanceof UsageError);
  assert.equal(u.message, 'unknown option --foo');
  const r = controlError(1, 'sandgate: nope\n');
  assert.equal(r.constructor, SandgateError);
  assert.equal(r.status, 1);
  assert.match(controlError(1, '').message, /status 1/);
});

test('CommandError keeps the result', () => {
  const result = { stdout: 'o', stderr: 'e1\ne2\n', status: 3, signal: null };
  const e = new CommandError('false', result);
  assert.equal(e.result, result);
  assert.equal(e.status, 3);
  assert.equal(e.code, 'command');
  assert.match(e.message, /status 3: false\ne1\ne2/);
});
