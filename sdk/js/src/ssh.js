// One SSH connection to the gateway as one user, opened on first use and
// again after it drops; commands run one exec channel each.

import ssh2 from 'ssh2';
import { AuthError, SandgateError } from './errors.js';
import { hostKeyPolicy } from './hostkey.js';

/** The gateway takes up to this many channels on one connection. */
const MAX_CHANNELS = 32;

/**
 * @typedef {object} ConnectOptions
 * @property {string} host
 * @property {number} [port]
 * @property {string} [token]  the token text (`sg_...`), used as the password
 * @property {string | Buffer} [privateKey]  a private key (its text, not a path) listed for the token
 * @property {string} [passphrase]  for an encrypted privateKey
 * @property {string} [hostKey]  the gateway's public key line, `ssh-ed25519 AAAA...`
 * @property {string} [knownHosts]  a known_hosts file (default ~/.ssh/known_hosts)
 * @property {boolean} [insecureAcceptAnyHostKey]  skip host key checking (tests only)
 * @property {number} [connectTimeoutMs]  for the SSH handshake and login (default 20000)
 */

/**
 * @typedef {object} RunResult
 * @property {Buffer} stdout
 * @property {Buffer} stderr
 * @property {number | null} status  exit status, null when killed by a signal
 * @property {string | null} signal  e.g. `SIGKILL`
 */

export class Connection {
  /**
   * @param {ConnectOptions} opts
   * @param {string} username
   */
  constructor(opts, username) {
    if (!opts || typeof opts.host !== 'string' || opts.host === '') {
      throw new TypeError('host is required');
    }
    if (!opts.token && !opts.privateKey) {
      throw new TypeError('token or privateKey is required');
    }
    this.opts = opts;
    this.username = username;
    /** @type {Promise<any> | null} the connection being opened or open */
    this._state = null;
    /** @type {any} the open connection's state */
    this._live = null;
  }

  get where() {
    return `${this.username}@${this.opts.host}:${this.opts.port ?? 22}`;
  }

  /** @returns {Promise<any>} */
  _open() {
    if (!this._state) {
      const p = this._connect();
      this._state = p;
      p.catch(() => { if (this._state === p) this._state = null; });
    }
    return this._state;
  }

  async _connect() {
    const o = this.opts;
    const port = Number(o.port ?? 22);
    const policy = await hostKeyPolicy(o.host, port, o);
    const client = new ssh2.Client();
    const state = {
      client, active: 0, closed: false, sftp: null,
      waiters: /** @type {Array<() => void>} */ ([]),
    };
    return new Promise((resolve, reject) => {
      let ready = false;
      client.on('ready', () => {
        ready = true;
        this._live = state;
        resolve(state);
      });
      client.on('error', (/** @type {any} */ err) => {
        if (ready) return; // the channels in use see the connection close
        if (policy.rejection()) reject(policy.rejection());
        else if (err.level === 'client-authentication') {
          reject(new AuthError(`authentication as ${this.where} failed (check the token or key)`,
            { code: 'auth', cause: err }));
        } else if (err.level === 'client-timeout') {
          reject(new SandgateError(`no answer from ${this.where} in time`, { code: 'timeout', cause: err }));
        } else {
          reject(new SandgateError(`cannot connect to ${this.where}: ${err.message}`,
            { code: 'connection', cause: err }));
        }
      });
      client.on('close', () => {
        state.closed = true;
        if (this._live === state) {
          this._live = null;
          this._state = null;
        }
        if (!ready) reject(new SandgateError(`${this.where} closed the connection`, { code: 'connection' }));
      });
      if (o.token) {
        client.on('keyboard-interactive', (_n, _i, _l, /** @type {unknown[]} */ prompts, finish) =>
          finish(prompts.map(() => o.token)));
      }
      try {
        client.connect({
          host: o.host,
          port,
          username: this.username,
          password: o.token || undefined,
          tryKeyboard: Boolean(o.token),
          privateKey: o.privateKey,
          passphrase: o.passphrase,
          readyTimeout: o.connectTimeoutMs ?? 20000,
          hostVerifier: policy.hostVerifier,
          algorithms: policy.algorithms,
        });
        client.setNoDelay(true); // small requests and replies: no Nagle delay
      } catch (e) {
        reject(new SandgateError(`cannot connect to ${this.where}: ${/** @type {Error} */ (e).message}`,
          { code: 'connection', cause: e }));
      }
    });
  }

  /** Waits for a free channel slot on state's connection. */
  async _acquire(/** @type {any} */ state) {
    if (state.active < MAX_CHANNELS) state.active++;
    else await new Promise((r) => state.waiters.push(r));
  }

  _release(/** @type {any} */ state) {
    const next = state.waiters.shift();
    if (next) next();
    else state.active--;
  }

  /**
   * Opens an exec channel running `command`: `channel` is a Duplex (its
   * stdout, and its stdin) with `.stderr`, and `exited` resolves with its
   * exit status or signal (both null if it closed without either). The
   * channel's slot is freed on `close`, which needs stdout read to its end.
   * @param {string} command
   * @param {{ env?: Record<string, string> }} [opts]
   * @returns {Promise<{ channel: any, exited: Promise<{ status: number | null, signal: string | null }> }>}
   */
  async exec(command, { env } = {}) {
    const state = await this._open();
    await this._acquire(state);
    return new Promise((resolve, reject) => {
      state.client.exec(command, env ? { env } : {}, (/** @type {Error} */ err, /** @type {any} */ ch) => {
        if (err) {
          this._release(state);
          reject(new SandgateError(`exec on ${this.where} failed: ${err.message}`, { code: 'connection', cause: err }));
          return;
        }
        // The exit status may come before the caller gets to listen.
        const exited = new Promise((done) => {
          ch.once('exit', (/** @type {number | null} */ status, /** @type {string | undefined} */ signal) =>
            done({ status, signal: signal ?? null }));
          ch.once('close', () => done({ status: null, signal: null }));
        });
        ch.once('close', () => this._release(state));
        resolve({ channel: ch, exited });
      });
    });
  }

  /**
   * Runs `command` to its end and collects its output.
   * @param {string} command
   * @param {{ env?: Record<string, string>, stdin?: string | Uint8Array, timeoutMs?: number }} [opts]
   * @returns {Promise<RunResult>}
   */
  async run(command, { env, stdin, timeoutMs } = {}) {
    const { channel: ch, exited } = await this.exec(command, { env });
    return new Promise((resolve, reject) => {
      /** @type {Buffer[]} */ const out = [];
      /** @type {Buffer[]} */ const err = [];
      /** @type {NodeJS.Timeout | undefined} */ let timer;
      let failed = false;
      const fail = (/** @type {Error} */ e) => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        reject(e);
      };
      ch.on('data', (/** @type {Buffer} */ d) => out.push(d));
      ch.stderr.on('data', (/** @type {Buffer} */ d) => err.push(d));
      ch.on('error', fail);
      ch.on('close', async () => {
        const { status, signal } = await exited;
        if (status === null && signal === null) {
          fail(new SandgateError(`the channel to ${this.where} closed without an exit status`,
            { code: 'connection' }));
          return;
        }
        clearTimeout(timer);
        if (!failed) resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), status, signal });
      });
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          fail(new SandgateError(`command timed out after ${timeoutMs} ms`, { code: 'timeout' }));
          ch.signal('KILL');
          ch.close();
        }, timeoutMs);
      }
      ch.end(stdin);
    });
  }

  /** The connection's SFTP session, opened on first use. */
  async sftp() {
    const state = await this._open();
    if (!state.sftp) {
      const p = this._openSftp(state);
      state.sftp = p;
      p.catch(() => { if (state.sftp === p) state.sftp = null; });
    }
    return state.sftp;
  }

  async _openSftp(/** @type {any} */ state) {
    await this._acquire(state);
    return new Promise((resolve, reject) => {
      state.client.sftp((/** @type {Error} */ err, /** @type {any} */ sftp) => {
        if (err) {
          this._release(state);
          reject(new SandgateError(`SFTP on ${this.where} failed: ${err.message}`,
            { code: 'connection', cause: err }));
          return;
        }
        sftp.once('close', () => {
          state.sftp = null;
          this._release(state);
        });
        resolve(sftp);
      });
    });
  }

  /** Closes the connection (if open); resolves once it is closed. */
  async close() {
    const p = this._state;
    this._state = null;
    if (!p) return;
    let state;
    try {
      state = await p;
    } catch {
      return;
    }
    if (this._live === state) this._live = null;
    if (state.closed) return;
    await new Promise((resolve) => {
      state.client.once('close', resolve);
      state.client.end();
    });
  }
}
