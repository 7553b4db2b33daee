// Host key checking: a pinned public key line, or OpenSSH known_hosts.

import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join as joinPath } from 'node:path';
import { HostKeyError } from './errors.js';

/**
 * The key type named inside an SSH public key blob, or null.
 * @param {Buffer} blob
 * @returns {string | null}
 */
export function blobType(blob) {
  if (blob.length < 4) return null;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > blob.length) return null;
  return blob.subarray(4, 4 + n).toString('latin1');
}

/**
 * Parses a public key line, `ssh-ed25519 AAAA... [comment]`. A line with
 * something before the key (a known_hosts or ssh-keyscan line) is accepted
 * too: the first field followed by a blob of that type is the key.
 * @param {string} line
 * @returns {{ type: string, blob: Buffer }}
 */
export function parseKeyLine(line) {
  const f = String(line).trim().split(/\s+/);
  for (let i = 0; i + 1 < f.length; i++) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(f[i + 1])) continue;
    const blob = Buffer.from(f[i + 1], 'base64');
    if (blobType(blob) === f[i]) return { type: f[i], blob };
  }
  throw new HostKeyError(`not a public key line: ${JSON.stringify(String(line).slice(0, 80))}`);
}

/** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 digest. */
export function fingerprint(/** @type {Buffer} */ blob) {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The name known_hosts uses: `host` on port 22, `[host]:port` elsewhere. */
export function knownHostsName(/** @type {string} */ host, port = 22) {
  const h = host.toLowerCase();
  return Number(port) === 22 ? h : `[${h}]:${port}`;
}

function globMatch(/** @type {string} */ pattern, /** @type {string} */ name) {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${re}$`).test(name);
}

/**
 * Whether a known_hosts host field (comma-separated patterns, `!` negation,
 * `*`/`?` wildcards, or one hashed `|1|salt|hash` entry) names `name`.
 * @param {string} field
 * @param {string} name  as made by knownHostsName()
 */
export function hostFieldMatches(field, name) {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let hit = false;
  for (const p of field.toLowerCase().split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) {
      hit = true;
    }
  }
  return hit;
}

/**
 * The keys a known_hosts text lists for `name`: `keys` to accept and
 * `revoked` ones (`@revoked`) to refuse. `@cert-authority` lines are left
 * out (certificates are not used here).
 * @param {string} text
 * @param {string} name  as made by knownHostsName()
 * @returns {{ keys: Buffer[], revoked: Buffer[] }}
 */
export function knownHostsKeys(text, name) {
  /** @type {Buffer[]} */ const keys = [];
  /** @type {Buffer[]} */ const revoked = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    let marker = null;
    if (f[0].startsWith('@')) marker = f.shift();
    if (f.length < 3 || marker === '@cert-authority') continue;
    if (!hostFieldMatches(f[0], name)) continue;
    const blob = Buffer.from(f[2], 'base64');
    if (blobType(blob) !== f[1]) continue;
    (marker === '@revoked' ? revoked : keys).push(blob);
  }
  return { keys, revoked };
}

// Host key algorithms to offer for a key type, so that the server shows
// the key we can check and not another one it also has.
const ALGOS = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
};

/**
 * @typedef {object} HostKeyOptions
 * @property {string} [hostKey]  a pinned public key line
 * @property {string} [knownHosts]  a known_hosts file (default ~/.ssh/known_hosts)
 * @property {boolean} [insecureAcceptAnyHostKey]
 */

/**
 * Works out how to check the host key of host:port: a `hostVerifier` for
 * ssh2, the host key algorithms to offer, and `rejection()`, the error to
 * raise after the verifier said no.
 * @param {string} host
 * @param {number} port
 * @param {HostKeyOptions} opts
 */
export async function hostKeyPolicy(host, port, opts) {
  /** @type {Buffer | null} the key the server showed, when refused */
  let offered = null;
  if (opts.insecureAcceptAnyHostKey === true) {
    return { hostVerifier: undefined, algorithms: undefined, rejection: () => null };
  }
  const name = knownHostsName(host, port);
  /** @type {Buffer[]} */ let keys = [];
  /** @type {Buffer[]} */ let revoked = [];
  let source;
  if (opts.hostKey) {
    keys = [parseKeyLine(opts.hostKey).blob];
    source = 'the pinned hostKey';
  } else {
    const file = opts.knownHosts ?? joinPath(homedir(), '.ssh', 'known_hosts');
    source = file;
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (opts.knownHosts !== undefined || /** @type {any} */ (e).code !== 'ENOENT') {
        throw new HostKeyError(`cannot read known_hosts ${file}: ${/** @type {Error} */ (e).message}`,
          { cause: e });
      }
    }
    ({ keys, revoked } = knownHostsKeys(text, name));
  }
  const types = [...new Set(keys.map((k) => blobType(k)))];
  const algos = types.flatMap((t) => ALGOS[/** @type {keyof typeof ALGOS} */ (t)] ?? []);
  return {
    hostVerifier: (/** @type {Buffer} */ key) => {
      if (!revoked.some((k) => k.equals(key)) && keys.some((k) => k.equals(key))) return true;
      offered = Buffer.from(key);
      return false;
    },
    // Offer only the types we hold a key of, when ssh2 knows them all.
    algorithms: types.length > 0 && types.every((t) => t in ALGOS) ? { serverHostKey: algos } : undefined,
    /** @returns {HostKeyError | null} */
    rejection: () => {
      if (!offered) return null;
      const line = `${blobType(offered)} ${offered.toString('base64')}`;
      const fp = fingerprint(offered);
      let msg;
      if (revoked.some((k) => k.equals(offered))) {
        msg = `the host key of ${name} (${fp}) is marked @revoked in ${source}`;
      } else if (keys.length > 0) {
        msg = `the host key of ${name} (${fp}) does not match ${source}: refusing to connect`;
      } else {
        msg = `the host key of ${name} is not known (not in ${source}); after checking it ` +
          `(${fp}), pass hostKey: "${line}" or add "${name} ${line}" to known_hosts`;
      }
      return new HostKeyError(msg, { hostKey: line, fingerprint: fp });
    },
  };
}
