import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { HostKeyError, fingerprint, knownHostsKeys, knownHostsName, parseKeyLine } from '../src/index.js';

const A = ssh2.utils.generateKeyPairSync('ed25519').public;
const B = ssh2.utils.generateKeyPairSync('ed25519').public;
const blobOf = (line) => Buffer.from(line.split(' ')[1], 'base64');

function hashed(name) {
  const salt = randomBytes(20);
  const mac = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${mac}`;
}

test('parse a public key line', () => {
  const k = parseKeyLine(`${A} me@host`);
  assert.equal(k.type, 'ssh-ed25519');
  assert.ok(k.blob.equals(blobOf(A)));
  // with a host in front (known_hosts, ssh-keyscan)
  assert.ok(parseKeyLine(`[gw]:2222 ${A}`).blob.equals(blobOf(A)));
});

test('a line that is not a key', () => {
  assert.throws(() => parseKeyLine('ssh-ed25519'), HostKeyError);
  assert.throws(() => parseKeyLine('ssh-rsa ' + A.split(' ')[1]), HostKeyError); // type mismatch
  assert.throws(() => parseKeyLine('hello world'), HostKeyError);
});

test('fingerprint is OpenSSH SHA256 form', () => {
  assert.match(fingerprint(blobOf(A)), /^SHA256:[A-Za-z0-9+/]{43}$/);
});

test('known_hosts names', () => {
  assert.equal(knownHostsName('GW.example', 22), 'gw.example');
  assert.equal(knownHostsName('gw', 2222), '[gw]:2222');
});

test('known_hosts lookups', () => {
  const text = [
    '# comment',
    '',
    `gw.example,10.0.0.5 ${A}`,
    `[gw.example]:2222 ${B}`,
    `${hashed('[hashed.example]:2222')} ${A}`,
    `*.wild.example,!bad.wild.example ${B}`,
    `@cert-authority *.example ${A}`,
    `@revoked gw.example ${B}`,
    'garbage line',
  ].join('\n');
  const keys = (name) => knownHostsKeys(text, name).keys.map((k) => k.toString('base64'));
  const a = blobOf(A).toString('base64');
  const b = blobOf(B).toString('base64');
  assert.deepEqual(keys('gw.example'), [a]);
  assert.deepEqual(keys('10.0.0.5'), [a]);
  assert.deepEqual(keys('[gw.example]:2222'), [b]);
  assert.deepEqual(keys('[hashed.example]:2222'), [a]);
  assert.deepEqual(keys('hashed.example'), []);
  assert.deepEqual(keys('x.wild.example'), [b]);
  assert.deepEqual(keys('bad.wild.example'), []);
  assert.deepEqual(keys('other.example'), []);
  assert.deepEqual(knownHostsKeys(text, 'gw.example').revoked.map((k) => k.toString('base64')), [b]);
});
