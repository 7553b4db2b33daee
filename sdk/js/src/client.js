// The control connection: the gateway's commands (docs/control.md) run as
// the control user, one exec channel each, one after the other.

import './dispose.js';
import { controlError, SandgateError } from './errors.js';
import { join } from './quote.js';
import { Connection } from './ssh.js';

/**
 * A duration for the command line: whole seconds, or a string such as
 * `90s`, `30m`, `2h`, `1d` (passed on as written; the gateway checks it).
 * @param {number | string} d
 * @param {string} what  the option's name, for errors
 * @returns {string}
 */
export function duration(d, what = 'duration') {
  if (typeof d === 'number') {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${what}: whole seconds >= 0, not ${d}`);
    return String(d);
  }
  if (typeof d === 'string') return d;
  throw new TypeError(`${what}: a number of seconds or a string like "30m"`);
}

function scalar(/** @type {unknown} */ v, /** @type {string} */ what) {
  if (typeof v === 'number' || typeof v === 'string') return String(v);
  throw new TypeError(`${what}: a number or a string`);
}

function list(/** @type {unknown} */ v, /** @type {string} */ what) {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new TypeError(`${what}: an array of strings`);
  }
  return v.join(',');
}

/**
 * The words of `create NAME [OPTIONS] --json` for the options given.
 * Values are passed on for the gateway to check (a bad one is its
 * UsageError); only JavaScript types are checked here.
 * @param {string} name
 * @param {import('../index.js').CreateOptions} [opts]
 * @returns {string[]}
 */
export function createArgs(name, opts = {}) {
  if (typeof name !== 'string') throw new TypeError('name: a string');
  const a = ['create', name];
  if (opts.image !== undefined) a.push('--image', scalar(opts.image, 'image'));
  if (opts.snapshot !== undefined) a.push('--snapshot', scalar(opts.snapshot, 'snapshot'));
  if (opts.memoryMb !== undefined) a.push('--memory', scalar(opts.memoryMb, 'memoryMb'));
  if (opts.vcpus !== undefined) a.push('--vcpus', scalar(opts.vcpus, 'vcpus'));
  if (opts.lifetime !== undefined) a.push('--lifetime', duration(opts.lifetime, 'lifetime'));
  if (opts.idleTimeout !== undefined) a.push('--idle-timeout', duration(opts.idleTimeout, 'idleTimeout'));
  if (opts.allowNet !== undefined) a.push('--allow-net', list(opts.allowNet, 'allowNet'));
  if (opts.secrets !== undefined) a.push('--secret', list(opts.secrets, 'secrets'));
  for (const [k, v] of Object.entries(opts.env ?? {})) a.push('--env', `${k}=${scalar(v, `env.${k}`)}`);
  if (opts.volumes !== undefined) {
    if (!Array.isArray(opts.volumes) || !opts.volumes.every((x) => typeof x === 'string')) {
      throw new TypeError('volumes: an array of strings such as "data:/data" or "deps:/deps:ro"');
    }
    for (const v of opts.volumes) a.push('--volume', v);
  }
  a.push('--json');
  return a;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** A whole disk copied: a little over the gateway's own 15 minutes. */
const SNAPSHOT_TIMEOUT_MS = 960_000;
/** A little over the gateway's own 300 s for `create`. */
const CREATE_TIMEOUT_MS = 330_000;

/**
 * The control connection of one token. It is opened on first use and kept
 * open; commands run one after the other on it (make several Clients to
 * create sandboxes in parallel).
 */
export class Client {
  /** @param {import('../index.js').ClientOptions} opts */
  constructor(opts) {
    this.opts = { ...opts, port: Number(opts?.port ?? 22) };
    this._conn = new Connection(this.opts, opts.controlUser ?? 'sandgate');
    /** @type {Promise<unknown>} */
    this._queue = Promise.resolve();
  }

  /**
   * Runs one control command with `--json` (add it to `words`) and returns
   * its parsed output; a non-zero exit raises the typed error of its code.
   * @param {string[]} words
   * @param {{ timeoutMs?: number }} [opts]
   * @returns {Promise<any>}
   */
  command(words, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    const run = this._queue.then(() => this._command(words, timeoutMs));
    this._queue = run.catch(() => {});
    return run;
  }

  async _command(/** @type {string[]} */ words, /** @type {number} */ timeoutMs) {
    const r = await this._conn.run(join(words), { timeoutMs });
    if (r.status !== 0) throw controlError(r.status ?? 1, r.stderr.toString('utf8'));
    try {
      return JSON.parse(r.stdout.toString('utf8'));
    } catch {
      throw new SandgateError(`${words[0]}: the gateway's output is not JSON`, { code: 'error', status: 0 });
    }
  }

  /** The commands: `[{ name, usage, summary }]`. */
  async help() {
    return (await this.command(['help', '--json'])).commands;
  }

  /** The token, its limits and what is in use (WHOAMI). */
  whoami() {
    return this.command(['whoami', '--json']);
  }

  /** The token's sandboxes (SANDBOX documents). */
  async ls() {
    return (await this.command(['ls', '--json'])).sandboxes;
  }

  /**
   * Creates a sandbox and returns its SANDBOX document once its agent is
   * ready.
   * @param {string} name
   * @param {import('../index.js').CreateOptions & { timeoutMs?: number }} [opts]
   */
  create(name, opts = {}) {
    return this.command(createArgs(name, opts), { timeoutMs: opts.timeoutMs ?? CREATE_TIMEOUT_MS });
  }

  /** One sandbox's SANDBOX document. @param {string} name */
  info(name) {
    return this.command(['info', name, '--json']);
  }

  /**
   * Moves the sandbox's end `d` later; returns its SANDBOX document.
   * @param {string} name
   * @param {number | string} d
   */
  extend(name, d) {
    return this.command(['extend', name, duration(d), '--json']);
  }

  /**
   * Destroys the sandbox; returns once it is gone, with `[{ id, name }]`.
   * @param {string} name
   */
  async kill(name) {
    return (await this.command(['kill', name, '--json'])).killed;
  }

  /**
   * Saves the sandbox's disk as the token's snapshot `snap` (its guest
   * paused meanwhile; run `sync` in it first); returns the SNAPSHOT
   * document once made. `create(name, { snapshot })` starts from it.
   * @param {string} name
   * @param {string} snap
   */
  snapshot(name, snap) {
    return this.command(['snapshot', name, snap, '--json'], { timeoutMs: SNAPSHOT_TIMEOUT_MS });
  }

  /** The token's snapshots (SNAPSHOT documents). */
  async snapshots() {
    return (await this.command(['snapshot', 'ls', '--json'])).snapshots;
  }

  /**
   * Removes the token's snapshot `snap`; sandboxes started from it run on.
   * @param {string} snap
   */
  snapshotRm(snap) {
    return this.command(['snapshot', 'rm', snap, '--json']);
  }

  /**
   * Saves the sandbox to disk with its memory (its sessions end); the next
   * connection to it resumes it. Returns its SANDBOX document.
   * @param {string} name
   */
  hibernate(name) {
    return this.command(['hibernate', name, '--json'], { timeoutMs: SNAPSHOT_TIMEOUT_MS });
  }

  /**
   * Gives the sandbox's `port` an HTTPS URL at the gateway's front;
   * returns `{ url, link, public, port, sandbox, name, expires }`. The URL
   * is private to the token (send it as `Authorization: Bearer`) unless
   * `{ public: true }`; `link` is the signed link for a browser, valid
   * `ttl` (or 365 days), never longer than the port stays exposed.
   * @param {string} name
   * @param {number} port
   * @param {{ public?: boolean, ttl?: number | string }} [opts]
   */
  expose(name, port, opts = {}) {
    const w = ['expose', name, String(port)];
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TypeError(`port must be an integer from 1 to 65535, not ${port}`);
    }
    if (opts.public) w.push('--public');
    if (opts.ttl !== undefined) w.push('--ttl', duration(opts.ttl, 'ttl'));
    return this.command([...w, '--json']);
  }

  /**
   * The URL of the sandbox's `port` goes, with its links and cookies.
   * @param {string} name
   * @param {number} port
   */
  unexpose(name, port) {
    return this.command(['unexpose', name, String(port), '--json']);
  }

  /**
   * Makes the token's volume `vol`, a disk that outlives sandboxes, of
   * `size` ("10G", "512M"): blank ext4, or with `{ from: SNAP }` the
   * filesystem of a snapshot. Returns its VOLUME document once made.
   * `create(name, { volumes: ['vol:/path'] })` mounts it.
   * @param {string} vol
   * @param {string} size
   * @param {{ from?: string }} [opts]
   */
  volumeCreate(vol, size, opts = {}) {
    const w = ['volume', 'create', vol, scalar(size, 'size')];
    if (opts.from !== undefined) w.push('--from', scalar(opts.from, 'from'));
    return this.command([...w, '--json'], { timeoutMs: SNAPSHOT_TIMEOUT_MS });
  }

  /** The token's volumes (VOLUME documents). */
  async volumes() {
    return (await this.command(['volume', 'ls', '--json'])).volumes;
  }

  /**
   * Removes the token's volume `vol` (refused while a sandbox mounts it).
   * @param {string} vol
   */
  volumeRm(vol) {
    return this.command(['volume', 'rm', vol, '--json']);
  }

  /** Closes the control connection (it reopens on next use). */
  close() {
    return this._conn.close();
  }

  [Symbol.asyncDispose]() {
    return this.close();
  }
}
