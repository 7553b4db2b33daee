// @sandgate/sdk: drive a sandgate gateway over SSH (docs/control.md).

import './dispose.js';

export { Client, createArgs, duration } from './client.js';
export {
  AuthError, CommandError, Exists, HostKeyError, LimitError, NotFound, Refused,
  SandgateError, StartFailed, Unavailable, UsageError, controlError,
} from './errors.js';
export { fingerprint, knownHostsKeys, knownHostsName, parseKeyLine } from './hostkey.js';
export { command, join, quote } from './quote.js';
export { Sandbox, SandboxProcess, randomName } from './sandbox.js';
