// A sandbox: its commands, processes and files over a connection as its
// name, and its life (info, extend, kill) over the control connection.

import './dispose.js';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { PassThrough } from 'node:stream';
import { Client } from './client.js';
import { CommandError, NotFound, SandgateError } from './errors.js';
import { command, isTemplateStrings, join, quote } from './quote.js';
import { Connection } from './ssh.js';

/** @param {string | null | undefined} signal  e.g. `SIGTERM` */
function signalStatus(signal) {
  const n = signal ? osConstants.signals[/** @type {NodeJS.Signals} */ (signal)] : undefined;
  return 128 + (n ?? 0);
}

/** A name for a sandbox: `sb-` and 8 random hex digits. */
export function randomName() {
  return `sb-${randomBytes(4).toString('hex')}`;
}

/**
 * The `sh` of a sandbox, with default options: a function taking a command
 * string (and options), or used as a template tag; `.with(opts)` gives one
 * with other defaults, `.nothrow` one with `check: false`.
 * @param {Sandbox} sb
 * @param {import('../index.js').ShOptions} defaults
 */
function makeSh(sb, defaults) {
  /** @param {any} first @param {...any} rest */
  const sh = (first, ...rest) => {
    if (isTemplateStrings(first)) return sb._sh(command(first, ...rest), defaults);
    return sb._sh(first, { ...defaults, ...rest[0] });
  };
  sh.with = (/** @type {import('../index.js').ShOptions} */ opts) => makeSh(sb, { ...defaults, ...opts });
  Object.defineProperty(sh, 'nothrow', { get: () => sh.with({ check: false }) });
  return sh;
}

/**
 * A process started by `Sandbox.spawn`: `stdin` (end it to send EOF),
 * `stdout` and `stderr` streams, `wait()` for its exit status and
 * `kill()`. Read stdout and stderr (or resume them): like a child
 * process, it stalls once their buffers are full.
 */
export class SandboxProcess {
  /** @param {Promise<{ channel: any, exited: Promise<{ status: number | null, signal: string | null }> }>} opened */
  constructor(opened) {
    this.stdin = new PassThrough();
    this.stdout = new PassThrough();
    this.stderr = new PassThrough();
    /** @type {number | null} exit status, once known */
    this.status = null;
    /** @type {string | null} the signal that ended it, if one did */
    this.signal = null;
    /** @type {any} */
    this._ch = null;
    /** @type {string | null} */
    this._killedWith = null;
    this._done = new Promise((resolve, reject) => {
      opened.then(({ channel: ch, exited }) => {
        this._ch = ch;
        ch.pipe(this.stdout);
        ch.stderr.pipe(this.stderr);
        this.stdin.pipe(ch);
        ch.on('error', () => {}); // the end is told by `exited`
        exited.then(({ status, signal }) => {
          if (status === null && signal === null && this._killedWith) signal = `SIG${this._killedWith}`;
          if (status === null && signal === null) {
            reject(new SandgateError('the channel closed without an exit status', { code: 'connection' }));
            return;
          }
          this.signal = signal;
          this.status = status ?? signalStatus(signal);
          resolve(this.status);
        });
        if (this._killedWith) this.kill(this._killedWith);
      }, (err) => {
        this.stdout.end();
        this.stderr.end();
        reject(err);
      });
    });
    this._done.catch(() => {}); // rejected only for whoever waits
  }

  /**
   * Its exit status: 128 + N for a process ended by signal N.
   * @returns {Promise<number>}
   */
  wait() {
    return this._done;
  }

  /**
   * Sends it a signal (default `KILL`) and closes its channel; output not
   * read yet is dropped.
   * @param {string} [signal]  `KILL`, `TERM`, `INT`, ... (with or without `SIG`)
   */
  kill(signal = 'KILL') {
    this._killedWith = signal.replace(/^SIG/, '');
    const ch = this._ch;
    if (!ch) return;
    ch.signal(this._killedWith);
    ch.close();
    for (const s of [this.stdout, this.stderr]) if (s.readableFlowing === null) s.resume();
  }
}

/**
 * A sandbox of the gateway. Make one with `Sandbox.create()` or
 * `Sandbox.connect()`.
 */
export class Sandbox {
  /**
   * @param {Client} client
   * @param {any} info  its SANDBOX document
   * @param {boolean} ownsClient  close the client with the sandbox
   */
  constructor(client, info, ownsClient) {
    this.client = client;
    /** @type {string} */
    this.name = info.name;
    /** @type {string} */
    this.id = info.id;
    this._owns = ownsClient;
    /** @type {Connection | null} */
    this._conn = null;
    /** @type {Promise<void> | null} */
    this._killing = null;
    /** Runs a shell command, as a function or a template tag; see index.d.ts. */
    this.sh = makeSh(this, {});
  }

  /**
   * Creates a sandbox and returns once it is ready.
   * @param {import('../index.js').SandboxCreateOptions} options
   * @returns {Promise<Sandbox>}
   */
  static async create(options) {
    const { client: given, name = randomName(), ...rest } = options ?? {};
    const client = /** @type {Client} */ (given ?? new Client(/** @type {any} */ (rest)));
    try {
      const info = await client.create(name, rest);
      return new Sandbox(client, info, !given);
    } catch (e) {
      // On our time-out the gateway may still finish: do not leave it.
      if (/** @type {any} */ (e)?.code === 'timeout') await client.kill(name).catch(() => {});
      if (!given) await client.close();
      throw e;
    }
  }

  /**
   * Attaches to an existing sandbox of the token (NotFound if none).
   * @param {import('../index.js').SandboxConnectOptions} options
   * @returns {Promise<Sandbox>}
   */
  static async connect(options) {
    const { client: given, name, ...rest } = options ?? {};
    if (typeof name !== 'string' || name === '') throw new TypeError('name is required');
    const client = /** @type {Client} */ (given ?? new Client(/** @type {any} */ (rest)));
    try {
      return new Sandbox(client, await client.info(name), !given);
    } catch (e) {
      if (!given) await client.close();
      throw e;
    }
  }

  /** The connection as the sandbox's name, opened on first use. */
  _session() {
    this._conn ??= new Connection(this.client.opts, this.name);
    return this._conn;
  }

  /**
   * @param {string} cmd
   * @param {import('../index.js').ShOptions} [opts]
   * @returns {Promise<import('../index.js').ShResult>}
   */
  async _sh(cmd, { check = true, env, stdin, timeoutMs, cwd } = {}) {
    if (typeof cmd !== 'string') throw new TypeError('sh: a command string, or use it as a template tag');
    const line = cwd === undefined ? cmd : `cd -- ${quote(cwd)} || exit 1\n${cmd}`;
    const r = await this._session().run(line, { env, stdin, timeoutMs });
    const result = {
      stdout: r.stdout.toString('utf8'),
      stderr: r.stderr.toString('utf8'),
      status: r.status ?? signalStatus(r.signal),
      signal: r.signal,
    };
    if (check && result.status !== 0) throw new CommandError(cmd, result);
    return result;
  }

  /**
   * Starts argv[0] with its arguments (no shell parsing of them) and
   * returns at once; see SandboxProcess.
   * @param {string[]} argv
   * @param {{ env?: Record<string, string>, cwd?: string }} [opts]
   * @returns {SandboxProcess}
   */
  spawn(argv, { env, cwd } = {}) {
    if (!Array.isArray(argv) || argv.length === 0) throw new TypeError('spawn: argv, a non-empty array');
    const line = (cwd === undefined ? '' : `cd -- ${quote(cwd)} || exit 1\n`) + `exec ${join(argv)}`;
    return new SandboxProcess(this._session().exec(line, { env }));
  }

  async _sftp(/** @type {string} */ op, /** @type {string} */ path, /** @type {(s: any, cb: (err: any, v?: any) => void) => void} */ call) {
    const s = await this._session().sftp();
    return new Promise((resolve, reject) => {
      call(s, (err, v) => {
        if (err) reject(new SandgateError(`${op} ${path}: ${err.message}`, { code: 'sftp', cause: err }));
        else resolve(v);
      });
    });
  }

  /**
   * Copies a local file into the sandbox.
   * @param {string} localPath @param {string} remotePath
   * @returns {Promise<void>}
   */
  async upload(localPath, remotePath) {
    await this._sftp('upload', remotePath, (s, cb) => s.fastPut(localPath, remotePath, cb));
  }

  /**
   * Copies a file of the sandbox to a local path.
   * @param {string} remotePath @param {string} localPath
   * @returns {Promise<void>}
   */
  async download(remotePath, localPath) {
    await this._sftp('download', remotePath, (s, cb) => s.fastGet(remotePath, localPath, cb));
  }

  /**
   * Writes a file in the sandbox (created or truncated).
   * @param {string} path @param {string | Uint8Array} data
   * @param {{ mode?: number }} [opts]
   * @returns {Promise<void>}
   */
  async writeFile(path, data, opts = {}) {
    await this._sftp('writeFile', path, (s, cb) => s.writeFile(path, data, opts, cb));
  }

  /**
   * Reads a file of the sandbox.
   * @param {string} path
   * @returns {Promise<Buffer>}
   */
  readFile(path) {
    return this._sftp('readFile', path, (s, cb) => s.readFile(path, cb));
  }

  /** Its SANDBOX document, now. */
  info() {
    return this.client.info(this.name);
  }

  /**
   * Moves its end `d` later (seconds or `"30m"`); returns its SANDBOX document.
   * @param {number | string} d
   */
  extend(d) {
    return this.client.extend(this.name, d);
  }

  /**
   * Saves its disk as the token's snapshot `snap` (run `sync` first: the
   * copy is what a power cut would leave); returns the SNAPSHOT document.
   * @param {string} snap
   */
  snapshot(snap) {
    return this.client.snapshot(this.name, snap);
  }

  /**
   * Gives `port` (a server in the guest) an HTTPS URL at the gateway's
   * front: `{ url, link, public, ... }`. Private to the token: requests
   * need `Authorization: Bearer TOKEN`, or a browser opens `link` once.
   * @param {number} port
   * @param {{ public?: boolean, ttl?: number | string }} [opts]
   */
  exposeHttp(port, opts = {}) {
    return this.client.expose(this.name, port, opts);
  }

  /**
   * The URL of `port` goes, with its links and cookies.
   * @param {number} port
   */
  unexposeHttp(port) {
    return this.client.unexpose(this.name, port);
  }

  /**
   * Saves it to disk with its memory and stops its VM (its sessions end);
   * the next command resumes it. Returns the SANDBOX document.
   */
  async hibernate() {
    await this._closeSession();
    return this.client.hibernate(this.name);
  }

  /**
   * Destroys it and closes the connections. Calling it again, or on a
   * sandbox already gone, is fine.
   * @returns {Promise<void>}
   */
  kill() {
    this._killing ??= (async () => {
      await this._closeSession();
      try {
        await this.client.kill(this.name);
      } catch (e) {
        if (!(e instanceof NotFound)) {
          this._killing = null; // let a later call try again
          throw e;
        }
      }
      if (this._owns) await this.client.close();
    })();
    return this._killing;
  }

  async _closeSession() {
    const c = this._conn;
    this._conn = null;
    if (c) await c.close();
  }

  /**
   * Closes its connections and leaves it running (until its lifetime or
   * idle timeout ends it); they reopen if it is used again.
   */
  async close() {
    await this._closeSession();
    if (this._owns) await this.client.close();
  }

  /** `await using sb = ...` kills it at the end of the block. */
  [Symbol.asyncDispose]() {
    return this.kill();
  }
}
