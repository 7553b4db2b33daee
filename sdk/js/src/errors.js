// Typed errors. Those of the control interface carry its `code` (see
// docs/control.md) and the command's exit status.

/**
 * The base of every error this SDK raises on purpose.
 * `code` is the control interface's code (`usage`, `not_found`, `exists`,
 * `limit`, `refused`, `unavailable`, `failed`) or one of the SDK's own
 * (`command`, `auth`, `host_key`, `timeout`, `connection`, `sftp`, `error`);
 * `status` is the exit status of the command that failed, if any.
 */
export class SandgateError extends Error {
  /**
   * @param {string} message
   * @param {{ code?: string, status?: number | null, cause?: unknown }} [opts]
   */
  constructor(message, { code = 'error', status = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** Exit status 2: an unknown command or option, or a bad value. */
export class UsageError extends SandgateError {}
/** No such sandbox (for this token). */
export class NotFound extends SandgateError {}
/** The token already runs a sandbox of that name. */
export class Exists extends SandgateError {}
/** Over one of the token's limits. */
export class LimitError extends SandgateError {}
/** A valid request the gateway would not do. */
export class Refused extends SandgateError {}
/** The gateway cannot do it now (e.g. no capacity, shutting down). */
export class Unavailable extends SandgateError {}
/** The sandbox could not be started (code `failed`). */
export class StartFailed extends SandgateError {}
/** Authentication with the token or key failed. */
export class AuthError extends SandgateError {}
/**
 * The gateway's host key is unknown or does not match. `hostKey` is the
 * key it offered, as a public key line, and `fingerprint` its SHA256
 * fingerprint (when one was seen).
 */
export class HostKeyError extends SandgateError {
  /**
   * @param {string} message
   * @param {{ hostKey?: string, fingerprint?: string, cause?: unknown }} [opts]
   */
  constructor(message, { hostKey, fingerprint, cause } = {}) {
    super(message, { code: 'host_key', cause });
    this.hostKey = hostKey;
    this.fingerprint = fingerprint;
  }
}

/**
 * A command in the sandbox exited non-zero (or was killed).
 * `result` holds its `{ stdout, stderr, status }`.
 */
export class CommandError extends SandgateError {
  /**
   * @param {string} cmd
   * @param {{ stdout: string, stderr: string, status: number, signal?: string | null }} result
   */
  constructor(cmd, result) {
    const why = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
    const tail = result.stderr.trim().split('\n').slice(-3).join('\n');
    super(`command ${why}: ${cmd.length > 200 ? cmd.slice(0, 200) + '...' : cmd}${tail ? '\n' + tail : ''}`,
      { code: 'command', status: result.status });
    this.command = cmd;
    this.result = result;
  }
}

const BY_CODE = {
  usage: UsageError,
  not_found: NotFound,
  exists: Exists,
  limit: LimitError,
  refused: Refused,
  unavailable: Unavailable,
  failed: StartFailed,
};

/**
 * The error for a control command that exited non-zero: from the JSON
 * document `{"error": {"code", "message"}}` on stderr, or, failing that,
 * from the plain `sandgate: MESSAGE` line and the exit status.
 * @param {number} status
 * @param {string} stderr
 * @returns {SandgateError}
 */
export function controlError(status, stderr) {
  let code = status === 2 ? 'usage' : 'error';
  let message = stderr.trim().replace(/^sandgate: /, '') || `control command exited with status ${status}`;
  try {
    const doc = JSON.parse(stderr);
    if (doc && typeof doc.error === 'object' && doc.error !== null) {
      if (typeof doc.error.code === 'string') code = doc.error.code;
      if (typeof doc.error.message === 'string') message = doc.error.message;
    }
  } catch {
    // not JSON: keep the text
  }
  const Cls = BY_CODE[/** @type {keyof typeof BY_CODE} */ (code)] ?? SandgateError;
  return new Cls(message, { code, status });
}
