// The SDK against a small fake gateway on 127.0.0.1 (ssh2's server): the
// control commands answer from a table, and a sandbox's exec runs the
// command with the local /bin/sh. No VM, no sandgated.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, test } from 'node:test';
import ssh2 from 'ssh2';
import {
  AuthError, Client, CommandError, Exists, HostKeyError, NotFound, Sandbox, UsageError,
} from '../src/index.js';

const TOKEN = 'sg_test_token';
const HOST_KEY = ssh2.utils.generateKeyPairSync('ed25519');
const OTHER_KEY = ssh2.utils.generateKeyPairSync('ed25519');
// OpenSSH's, for the SFTP test (Debian: openssh-sftp-server)
const SFTP_SERVER = ['/usr/lib/openssh/sftp-server', '/usr/libexec/sftp-server']
  .find((p) => existsSync(p));

function words(line) {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${line}`]).toString();
  return out.split('\0').slice(0, -1);
}

class FakeGateway {
  constructor({ kbdOnly = false } = {}) {
    this.sandboxes = new Map();
    this.controlLines = [];
    this.controlBusy = 0;
    this.controlMaxBusy = 0;
    this.maxSessions = 0;
    this.envSeen = [];
    this.server = new ssh2.Server({ hostKeys: [HOST_KEY.private] }, (conn) => this.onConn(conn, kbdOnly));
  }

  // A listen that fails rejects (an 'error' nobody handles would end the
  // file's event loop quietly, every test cancelled and the cause unsaid).
  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.removeListener('error', reject);
        this.server.on('error', (err) => { this.lastError = err; });
        this.port = this.server.address().port;
        resolve(this);
      });
    });
  }

  close() {
    return new Promise((resolve) => this.server.close(resolve));
  }

  onConn(conn, kbdOnly) {
    let user;
    let sessions = 0;
    conn.on('error', () => {});
    conn.setNoDelay(true);
    conn.on('authentication', (ctx) => {
      user = ctx.username;
      if (ctx.method === 'password' && !kbdOnly) {
        return ctx.password === TOKEN ? ctx.accept() : ctx.reject();
      }
      if (ctx.method === 'keyboard-interactive') {
        return ctx.prompt([{ prompt: 'Token: ', echo: false }],
          (answers) => (answers[0] === TOKEN ? ctx.accept() : ctx.reject()));
      }
      ctx.reject(kbdOnly ? ['keyboard-interactive'] : ['password', 'keyboard-interactive']);
    });
    conn.on('ready', () => conn.on('session', (accept, reject) => {
      if (sessions >= 32) return reject();
      sessions++;
      this.maxSessions = Math.max(this.maxSessions, sessions);
      const session = accept();
      const env = {};
      let child = null;
      session.on('close', () => { sessions--; });
      session.on('env', (acc, _rej, info) => { env[info.key] = info.val; acc?.(); });
      session.on('signal', (acc, _rej, info) => { child?.kill(`SIG${info.name}`); acc?.(); });
      session.on('subsystem', (acc, rej, info) => {
        if (info.name !== 'sftp' || !SFTP_SERVER || user === 'sandgate') return rej();
        const stream = acc();
        const server = spawn(SFTP_SERVER, [], { stdio: ['pipe', 'pipe', 'ignore'] });
        stream.pipe(server.stdin);
        server.stdout.pipe(stream);
        stream.on('close', () => server.kill());
      });
      session.on('exec', (acc, _rej, info) => {
        const stream = acc();
        if (user === 'sandgate') return this.control(stream, info.command);
        this.envSeen.push(env);
        child = spawn('/bin/sh', ['-c', info.command], { env: { ...process.env, ...env } });
        stream.pipe(child.stdin).on('error', () => {});
        child.stdout.pipe(stream, { end: false });
        child.stderr.pipe(stream.stderr, { end: false });
        stream.on('close', () => child.kill('SIGKILL'));
        child.on('close', (code, signal) => {
          if (signal) stream.exit(signal.replace(/^SIG/, ''), false, '');
          else stream.exit(code);
          stream.end();
        });
      });
    }));
  }

  snapshot(a, ok, fail) {
    this.snaps ??= new Map();
    if (a.length === 1 && a[0] === 'ls') return ok({ snapshots: [...this.snaps.values()] });
    if (a.length === 2 && a[0] === 'rm') {
      if (!this.snaps.delete(a[1])) return fail(1, 'not_found', `no snapshot ${a[1]}`);
      return ok({ removed: a[1] });
    }
    const [name, snap] = a;
    if (!this.sandboxes.has(name)) return fail(1, 'not_found', `no sandbox ${name} (see ls)`);
    if (this.snaps.has(snap)) return fail(1, 'exists', `snapshot ${snap} exists`);
    const doc = { name: snap, token: 'ci', image: 'default', from: name, created: 1, size: 1 };
    this.snaps.set(snap, doc);
    return ok(doc);
  }

  volume(a, ok, fail) {
    this.vols ??= new Map();
    if (a.length === 1 && a[0] === 'ls') return ok({ volumes: [...this.vols.values()] });
    if (a.length === 2 && a[0] === 'rm') {
      if (!this.vols.delete(a[1])) return fail(1, 'not_found', `no volume ${a[1]}`);
      return ok({ removed: a[1] });
    }
    if (a[0] !== 'create' || (a.length !== 3 && !(a.length === 5 && a[3] === '--from'))) {
      return fail(2, 'usage', 'usage: volume create VOL SIZE');
    }
    if (this.vols.has(a[1])) return fail(1, 'exists', `volume ${a[1]} exists`);
    const doc = { name: a[1], token: 'ci', size: a[2], used: 0, created: 1, from: a[4] ?? null, mounts: [] };
    this.vols.set(a[1], doc);
    return ok(doc);
  }

  async control(stream, line) {
    this.controlLines.push(line);
    this.controlMaxBusy = Math.max(this.controlMaxBusy, ++this.controlBusy);
    await new Promise((r) => setTimeout(r, 5));
    this.controlBusy--;
    const w = words(line);
    const ok = (doc) => { stream.write(JSON.stringify(doc) + '\n'); stream.exit(0); stream.end(); };
    const fail = (status, code, message) => {
      stream.stderr.write(JSON.stringify({ error: { code, message } }) + '\n');
      stream.exit(status);
      stream.end();
    };
    const [cmd, name] = w;
    const sb = this.sandboxes.get(name);
    if (cmd === 'snapshot') return this.snapshot(w.filter((x) => x !== '--json').slice(1), ok, fail);
    if (cmd === 'volume') return this.volume(w.filter((x) => x !== '--json').slice(1), ok, fail);
    switch (cmd) {
      case 'help': return ok({ commands: [{ name: 'ls', usage: 'ls', summary: 'lists' }] });
      case 'whoami': return ok({ token: 'ci', limits: {}, usage: { sandboxes: this.sandboxes.size } });
      case 'ls': return ok({ sandboxes: [...this.sandboxes.values()] });
      case 'create': {
        const i = w.indexOf('--memory');
        if (i > 0 && !/^\d+$/.test(w[i + 1])) return fail(2, 'usage', `bad --memory ${w[i + 1]}`);
        if (sb) return fail(1, 'exists', `sandbox ${name} exists`);
        const doc = { id: Math.random().toString(16).slice(2, 14), name, ends: 1000, argv: w };
        this.sandboxes.set(name, doc);
        return ok(doc);
      }
      case 'expose':
      case 'unexpose': {
        if (!sb) return fail(1, 'not_found', `no sandbox ${name} (see ls)`);
        const port = Number(w[2]);
        const url = `https://${port}-${name}-0a1b2c3d.sandgate.test/`;
        sb.exposed ??= [];
        if (cmd === 'unexpose') {
          if (!sb.exposed.includes(port)) return fail(1, 'not_found', `port ${port} of ${name} is not exposed`);
          sb.exposed = sb.exposed.filter((p) => p !== port);
          return ok({ unexposed: { sandbox: sb.id, port } });
        }
        sb.exposed.push(port);
        const pub = w.includes('--public');
        return ok({ url, link: pub ? url : `${url}__sandgate/link?t=1.x`, public: pub, port,
          sandbox: sb.id, name, expires: pub ? null : 1 });
      }
      case 'info':
      case 'extend':
      case 'hibernate':
      case 'kill':
        if (!sb) return fail(1, 'not_found', `no sandbox ${name} (see ls)`);
        if (cmd === 'extend') sb.ends += Number(w[2]);
        if (cmd === 'hibernate') sb.state = 'hibernated';
        if (cmd === 'kill') {
          this.sandboxes.delete(name);
          return ok({ killed: [{ id: sb.id, name }] });
        }
        return ok(sb);
      default:
        return fail(2, 'usage', `unknown command ${cmd}`);
    }
  }
}

describe('against a fake gateway', () => {
  let gw;
  let opts;
  before(async () => {
    gw = await new FakeGateway().listen();
    opts = { host: '127.0.0.1', port: gw.port, token: TOKEN, hostKey: HOST_KEY.public };
  });
  after(() => gw.close());

  test('control commands, one at a time, with typed errors', async () => {
    const c = new Client(opts);
    try {
      const [who, list, help] = await Promise.all([c.whoami(), c.ls(), c.help()]);
      assert.equal(who.token, 'ci');
      assert.deepEqual(list, []);
      assert.equal(help[0].name, 'ls');
      assert.equal(gw.controlMaxBusy, 1);
      await assert.rejects(c.info('nope'), NotFound);
      await assert.rejects(c.command(['bogus', '--json']), UsageError);
    } finally {
      await c.close();
    }
  });

  test('snapshots: make, list, start from, remove', async () => {
    const c = new Client(opts);
    try {
      await c.create('web');
      assert.equal((await c.snapshot('web', 'with-deps')).from, 'web');
      assert.equal(gw.controlLines.at(-1), 'snapshot web with-deps --json');
      assert.deepEqual((await c.snapshots()).map((s) => s.name), ['with-deps']);
      await assert.rejects(c.snapshot('web', 'with-deps'), Exists);
      await assert.rejects(c.snapshot('nosuch', 'x'), NotFound);
      await c.create('job', { snapshot: 'with-deps' });
      assert.equal(gw.controlLines.at(-1), 'create job --snapshot with-deps --json');
      assert.deepEqual(await c.snapshotRm('with-deps'), { removed: 'with-deps' });
      assert.deepEqual(await c.snapshots(), []);
      await assert.rejects(c.snapshotRm('with-deps'), NotFound);
    } finally {
      for (const n of ['web', 'job']) await c.kill(n).catch(() => {});
      await c.close();
    }
  });

  test('volumes: make, list, mount, remove', async () => {
    const c = new Client(opts);
    try {
      assert.equal((await c.volumeCreate('data', '10G')).name, 'data');
      assert.equal(gw.controlLines.at(-1), 'volume create data 10G --json');
      assert.equal((await c.volumeCreate('deps', '2G', { from: 'with-deps' })).from, 'with-deps');
      assert.equal(gw.controlLines.at(-1), 'volume create deps 2G --from with-deps --json');
      assert.deepEqual((await c.volumes()).map((v) => v.name), ['data', 'deps']);
      await assert.rejects(c.volumeCreate('data', '1G'), Exists);
      await c.create('vm', { volumes: ['data:/data', 'deps:/deps:ro'] });
      assert.equal(gw.controlLines.at(-1), 'create vm --volume data:/data --volume deps:/deps:ro --json');
      assert.throws(() => c.create('vm2', { volumes: 'data:/data' }), TypeError);
      assert.deepEqual(await c.volumeRm('data'), { removed: 'data' });
      await c.volumeRm('deps');
      assert.deepEqual(await c.volumes(), []);
      await assert.rejects(c.volumeRm('data'), NotFound);
    } finally {
      await c.kill('vm').catch(() => {});
      await c.close();
    }
  });

  test('exposeHttp: the URL, the link, --public and --ttl', async () => {
    const sb = await Sandbox.create({ ...opts, name: 'web' });
    try {
      const e = await sb.exposeHttp(8000);
      assert.equal(gw.controlLines.at(-1), 'expose web 8000 --json');
      assert.equal(e.url, 'https://8000-web-0a1b2c3d.sandgate.test/');
      assert.ok(e.link.startsWith(e.url) && !e.public);
      const p = await sb.exposeHttp(3000, { public: true, ttl: 90 });
      assert.equal(gw.controlLines.at(-1), 'expose web 3000 --public --ttl 90 --json');
      assert.ok(p.public && p.link === p.url);
      assert.equal((await sb.unexposeHttp(3000)).unexposed.port, 3000);
      assert.equal(gw.controlLines.at(-1), 'unexpose web 3000 --json');
      await assert.rejects(sb.unexposeHttp(3000), NotFound);
      assert.throws(() => sb.exposeHttp(0), TypeError);
    } finally {
      await sb.kill();
    }
  });

  test('hibernate: the sandbox sleeps, the next command wakes it', async () => {
    const c = new Client(opts);
    try {
      await assert.rejects(c.hibernate('nosuch'), NotFound);
    } finally {
      await c.close();
    }
    const sb = await Sandbox.create({ ...opts, name: 'sleepy' });
    try {
      assert.equal((await sb.sh('echo hi')).stdout, 'hi\n');
      assert.equal((await sb.hibernate()).state, 'hibernated');
      assert.equal(gw.controlLines.at(-1), 'hibernate sleepy --json');
      assert.equal((await sb.sh('echo again')).stdout, 'again\n');
    } finally {
      await sb.kill();
    }
  });

  test('a sandbox: create, sh, spawn, extend, kill', async () => {
    const sb = await Sandbox.create({ ...opts, secrets: [], env: { GREETING: 'hi there' } });
    try {
      assert.match(sb.name, /^sb-[0-9a-f]{8}$/);
      assert.ok(sb.id);
      assert.deepEqual(gw.sandboxes.get(sb.name).argv.slice(2),
        ['--secret', '', '--env', 'GREETING=hi there', '--json']);

      assert.deepEqual(await sb.sh('echo hello'), { stdout: 'hello\n', stderr: '', status: 0, signal: null });
      const tricky = "a b $(echo injected) 'q' \"d\" `x`";
      assert.equal((await sb.sh`printf %s ${tricky}`).stdout, tricky);
      assert.equal((await sb.sh`printf '<%s>' ${['x y', 'z']}`).stdout, '<x y><z>');

      const err = await sb.sh('echo out; echo err >&2; exit 3').catch((e) => e);
      assert.ok(err instanceof CommandError);
      assert.deepEqual(err.result, { stdout: 'out\n', stderr: 'err\n', status: 3, signal: null });
      assert.equal((await sb.sh('exit 4', { check: false })).status, 4);
      assert.equal((await sb.sh.nothrow`exit ${5}`).status, 5);
      assert.equal((await sb.sh.with({ cwd: '/' })`pwd`).stdout, '/\n');

      const r = await sb.sh('printf %s "$FOO"; cat', { env: { FOO: 'bar' }, stdin: 'input' });
      assert.equal(r.stdout, 'barinput');
      await assert.rejects(sb.sh('sleep 5', { timeoutMs: 100 }), { code: 'timeout' });

      // more commands at once than the 32 channels a connection may have
      const many = await Promise.all(Array.from({ length: 40 }, (_, i) => sb.sh(`echo ${i}`)));
      assert.deepEqual(many.map((x) => x.stdout), Array.from({ length: 40 }, (_, i) => `${i}\n`));
      assert.ok(gw.maxSessions <= 32);

      const p = sb.spawn(['sh', '-c', 'while read l; do echo "got $l"; done; echo bye >&2; exit 7']);
      let out = '';
      let errOut = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { errOut += d; });
      const ended = new Promise((res) => p.stdout.on('end', res));
      p.stdin.write('one\n');
      await new Promise((res) => p.stdout.once('data', res));
      assert.equal(out, 'got one\n');
      p.stdin.end('two\n');
      assert.equal(await p.wait(), 7);
      await ended;
      assert.equal(out, 'got one\ngot two\n');
      assert.equal(errOut, 'bye\n');

      const s = sb.spawn(['sleep', '30']);
      setTimeout(() => s.kill(), 100);
      assert.equal(await s.wait(), 137);

      const before = (await sb.info()).ends;
      assert.equal((await sb.extend(60)).ends, before + 60);

      const again = await Sandbox.connect({ ...opts, name: sb.name });
      assert.equal(again.id, sb.id);
      await again.close();
    } finally {
      await sb[Symbol.asyncDispose]();
    }
    await sb.kill(); // again: fine
    assert.equal(gw.sandboxes.size, 0);
  });

  test('files over SFTP', { skip: SFTP_SERVER ? false : 'no sftp-server here' }, async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'sg-sftp-'));
    const sb = await Sandbox.create(opts);
    try {
      const remote = joinPath(dir, 'remote.txt');
      await sb.writeFile(remote, 'hello, file\n');
      assert.equal((await sb.readFile(remote)).toString(), 'hello, file\n');
      const data = randomBytes(1 << 20);
      writeFileSync(joinPath(dir, 'up.bin'), data);
      await sb.upload(joinPath(dir, 'up.bin'), joinPath(dir, 'remote.bin'));
      await sb.download(joinPath(dir, 'remote.bin'), joinPath(dir, 'down.bin'));
      assert.ok(readFileSync(joinPath(dir, 'down.bin')).equals(data));
      assert.ok((await sb.readFile(joinPath(dir, 'remote.bin'))).equals(data));
      await assert.rejects(sb.readFile(joinPath(dir, 'none')), { code: 'sftp' });
    } finally {
      await sb.kill();
      rmSync(dir, { recursive: true });
    }
  });

  test('Exists, NotFound, UsageError', async () => {
    const c = new Client(opts);
    try {
      const sb = await Sandbox.create({ ...opts, client: c, name: 'dup' });
      await assert.rejects(Sandbox.create({ ...opts, client: c, name: 'dup' }), Exists);
      await sb.kill();
      await assert.rejects(Sandbox.connect({ client: c, name: 'dup' }), NotFound);
      await assert.rejects(Sandbox.create({ ...opts, memoryMb: 'lots' }), (e) => e instanceof UsageError && e.status === 2);
    } finally {
      await c.close();
    }
  });

  test('wrong token: AuthError', async () => {
    await assert.rejects(new Client({ ...opts, token: 'sg_wrong' }).ls(), AuthError);
  });

  test('host key: pinned other key, unknown, known_hosts, insecure', async () => {
    const e = await new Client({ ...opts, hostKey: OTHER_KEY.public }).ls().catch((x) => x);
    assert.ok(e instanceof HostKeyError, String(e));
    assert.match(e.message, /does not match/);
    assert.equal(e.hostKey, HOST_KEY.public);

    const dir = mkdtempSync(joinPath(tmpdir(), 'sg-kh-'));
    try {
      const kh = joinPath(dir, 'known_hosts');
      const base = { host: '127.0.0.1', port: gw.port, token: TOKEN, knownHosts: kh };
      writeFileSync(kh, `127.0.0.1 ${HOST_KEY.public}\n`); // port 22 only: not ours
      const u = await new Client(base).ls().catch((x) => x);
      assert.ok(u instanceof HostKeyError);
      assert.match(u.message, /not known/);
      assert.equal(u.hostKey, HOST_KEY.public);

      writeFileSync(kh, `[127.0.0.1]:${gw.port} ${HOST_KEY.public}\n`);
      const c = new Client(base);
      assert.deepEqual(await c.ls(), []);
      await c.close();

      await assert.rejects(new Client({ ...base, knownHosts: joinPath(dir, 'none') }).ls(), HostKeyError);
    } finally {
      rmSync(dir, { recursive: true });
    }

    const c = new Client({ host: '127.0.0.1', port: gw.port, token: TOKEN, insecureAcceptAnyHostKey: true });
    assert.deepEqual(await c.ls(), []);
    await c.close();
  });
});

test('keyboard-interactive login', async () => {
  const gw = await new FakeGateway({ kbdOnly: true }).listen();
  const c = new Client({ host: '127.0.0.1', port: gw.port, token: TOKEN, hostKey: HOST_KEY.public });
  try {
    assert.equal((await c.whoami()).token, 'ci');
  } finally {
    await c.close();
    await gw.close();
  }
});
