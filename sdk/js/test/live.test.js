// Against a real gateway; skipped unless these are set:
//   SANDGATE_TEST_HOST, SANDGATE_TEST_PORT, SANDGATE_TEST_TOKEN,
//   SANDGATE_TEST_HOST_KEY (the gateway's public key line, "ssh-ed25519 AAAA...")
// and optionally SANDGATE_TEST_IMAGE, and SANDGATE_TEST_ALLOWED_URL with
// SANDGATE_TEST_OTHER_URL for the allow_net test.
// Boots two VMs at most: one shared by every test, one for allow_net.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, CommandError, Exists, NotFound, Sandbox, UsageError } from '../src/index.js';

const env = process.env;
const NEEDED = ['SANDGATE_TEST_HOST', 'SANDGATE_TEST_PORT', 'SANDGATE_TEST_TOKEN', 'SANDGATE_TEST_HOST_KEY'];
const live = NEEDED.every((k) => env[k]);
const opts = live ? {
  host: env.SANDGATE_TEST_HOST,
  port: Number(env.SANDGATE_TEST_PORT),
  token: env.SANDGATE_TEST_TOKEN,
  hostKey: env.SANDGATE_TEST_HOST_KEY,
} : null;
const image = env.SANDGATE_TEST_IMAGE || undefined;
const skipLive = live ? false : `set ${NEEDED.join(', ')} to run`;
const urls = env.SANDGATE_TEST_ALLOWED_URL && env.SANDGATE_TEST_OTHER_URL;
const skipNet = skipLive || (urls ? false : 'set SANDGATE_TEST_ALLOWED_URL and SANDGATE_TEST_OTHER_URL to run');
// Each test is marked skipped (not just its suite), so that the runner counts them.
// Each is bounded: a stall in the gateway (a lost wakeup once held every
// small SFTP request 60 s) fails it instead of passing slowly.
const it = (name, fn) => test(name, { skip: skipLive, timeout: 120000 }, fn);
const missing = () => `sg-missing-${randomBytes(4).toString('hex')}`;

/** A lifetime the token allows, with room to extend. */
async function lifetimeFor(client) {
  const max = (await client.whoami()).limits.max_lifetime;
  return typeof max === 'number' && max > 0 ? Math.min(900, Math.floor(max / 2)) : 900;
}

describe('live gateway', () => {
  let client;
  let sb;
  let dir;

  before(async () => {
    if (!live) return;
    client = new Client(opts);
    const lifetime = await lifetimeFor(client);
    sb = await Sandbox.create({ ...opts, image, lifetime, secrets: [], env: { SG_LIVE: 'yes it is' } });
    dir = mkdtempSync(joinPath(tmpdir(), 'sg-live-'));
  });

  after(async () => {
    await sb?.kill().catch(() => {});
    await client?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sh: echo, and the create options arrived', async () => {
    assert.match(sb.name, /^sb-[0-9a-f]{8}$/);
    assert.deepEqual(await sb.sh('echo hello'), { stdout: 'hello\n', stderr: '', status: 0, signal: null });
    assert.equal((await sb.sh('printf %s "$SG_LIVE"')).stdout, 'yes it is');
    assert.deepEqual((await sb.info()).secrets, []);
  });

  it('tagged template: values arrive literally', async () => {
    const v = "two  words $(echo injected) `id` ; exit 9 'q' \"dq\" $HOME *";
    assert.equal((await sb.sh`printf %s ${v}`).stdout, v);
    assert.equal((await sb.sh`printf '[%s]' ${['a b', '$(x)', '']}`).stdout, '[a b][$(x)][]');
  });

  it('non-zero exit: CommandError, or the status with check: false', async () => {
    const e = await sb.sh('echo partial; exit 3').catch((x) => x);
    assert.ok(e instanceof CommandError, String(e));
    assert.equal(e.result.status, 3);
    assert.equal(e.result.stdout, 'partial\n');
    assert.equal((await sb.sh('exit 4', { check: false })).status, 4);
    assert.equal((await sb.sh.nothrow`exit ${5}`).status, 5);
  });

  it('stderr is separate', async () => {
    const r = await sb.sh('echo out; echo err >&2');
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('spawn: streaming stdout, stdin, exit status', async () => {
    const p = sb.spawn(['sh', '-c', 'while read l; do echo "got $l"; done; echo done >&2; exit 6']);
    let out = '';
    let errOut = '';
    p.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    p.stderr.setEncoding('utf8').on('data', (d) => { errOut += d; });
    const ended = new Promise((res) => p.stdout.on('end', res));
    p.stdin.write('one\n');
    while (!out.includes('got one\n')) await new Promise((res) => p.stdout.once('data', res));
    p.stdin.end('two\n');
    assert.equal(await p.wait(), 6);
    await ended;
    assert.equal(out, 'got one\ngot two\n');
    assert.equal(errOut, 'done\n');

    const s = sb.spawn(['sleep', '60']);
    setTimeout(() => s.kill(), 500);
    assert.ok((await s.wait()) > 128);
  });

  it('files: writeFile/readFile, upload/download of 1 MiB', async (t) => {
    if ((await sb.info()).image === 'minimal') return t.skip('the minimal image has no SFTP');
    await sb.writeFile('/tmp/hello.txt', 'hello, file\n');
    assert.equal((await sb.readFile('/tmp/hello.txt')).toString(), 'hello, file\n');
    assert.equal((await sb.sh('cat /tmp/hello.txt')).stdout, 'hello, file\n');

    const data = randomBytes(1 << 20);
    const up = joinPath(dir, 'up.bin');
    const down = joinPath(dir, 'down.bin');
    writeFileSync(up, data);
    await sb.upload(up, '/tmp/big.bin');
    assert.equal((await sb.sh('wc -c < /tmp/big.bin')).stdout.trim(), String(1 << 20));
    await sb.download('/tmp/big.bin', down);
    assert.ok(readFileSync(down).equals(data));
    assert.ok((await sb.readFile('/tmp/big.bin')).equals(data));
  });

  it('extend moves ends', async () => {
    const before = await sb.info();
    const later = await sb.extend(60);
    assert.ok(later.ends > before.ends, `${later.ends} > ${before.ends}`);
    assert.ok(later.ends <= before.ends + 60);
  });

  it('info, ls, whoami', async () => {
    const info = await sb.info();
    assert.equal(info.name, sb.name);
    assert.equal(info.id, sb.id);
    if (image) assert.equal(info.image, image);
    assert.ok((await client.ls()).some((x) => x.name === sb.name));
    const who = await client.whoami();
    assert.equal(typeof who.token, 'string');
    assert.ok(who.usage.sandboxes >= 1);
    assert.ok((await client.help()).some((c) => c.name === 'create'));
  });

  it('Sandbox.connect by name', async () => {
    const again = await Sandbox.connect({ ...opts, name: sb.name });
    try {
      assert.equal(again.id, sb.id);
      assert.equal((await again.sh('echo via connect')).stdout, 'via connect\n');
    } finally {
      await again.close();
    }
  });

  it('Exists, NotFound, UsageError', async () => {
    await assert.rejects(Sandbox.create({ ...opts, client, name: sb.name }), Exists);
    await assert.rejects(Sandbox.connect({ ...opts, name: missing() }), NotFound);
    await assert.rejects(client.kill(missing()), NotFound);
    await assert.rejects(Sandbox.create({ ...opts, client, memoryMb: 'lots' }),
      (e) => e instanceof UsageError && e.status === 2 && e.code === 'usage');
  });

  it('disposal kills it', async () => {
    const name = sb.name;
    await sb[Symbol.asyncDispose]();
    assert.ok(!(await client.ls()).some((x) => x.name === name));
    await sb.kill(); // again: fine
    sb = null;
  });
});

describe('live allow_net', () => {
  const hostPort = (u) => {
    const url = new URL(u);
    return `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
  };
  // timeout bounds wget: GNU's (default image) tries 20 times, busybox's
  // (minimal) crashes with -T
  const fetch = (sb, url) => sb.sh.nothrow`timeout 10 wget -q -O - ${url}`;

  test('narrowed to one host:port', { skip: skipNet }, async () => {
    const client = new Client(opts);
    let sb;
    try {
      const allowed = hostPort(env.SANDGATE_TEST_ALLOWED_URL);
      sb = await Sandbox.create({ ...opts, client, image, lifetime: await lifetimeFor(client), allowNet: [allowed] });
      assert.deepEqual((await sb.info()).allow_net, [allowed]);
      const ok = await fetch(sb, env.SANDGATE_TEST_ALLOWED_URL);
      assert.equal(ok.status, 0, ok.stderr);
      const other = await fetch(sb, env.SANDGATE_TEST_OTHER_URL);
      assert.notEqual(other.status, 0, other.stdout);
    } finally {
      await sb?.kill();
      await client.close();
    }
  });
});
