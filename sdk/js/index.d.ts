// Types of @sandgate/sdk (hand-written; the code is src/*.js).
/// <reference types="node" />

import type { Readable, Writable } from 'node:stream';

/** Seconds, or a string such as "90s", "30m", "2h", "1d". */
export type Duration = number | string;

/** How to reach and log in to the gateway, and how to check its host key. */
export interface ConnectOptions {
  host: string;
  /** Default 22. */
  port?: number;
  /** The token text (`sg_...`), sent as the SSH password (or keyboard-interactive answer). */
  token?: string;
  /** A private key listed for the token: the key's text, not a path. */
  privateKey?: string | Buffer;
  /** For an encrypted privateKey. */
  passphrase?: string;
  /** Pins the gateway's host key: a public key line, `ssh-ed25519 AAAA...`. */
  hostKey?: string;
  /** A known_hosts file to check the host key in (default ~/.ssh/known_hosts). */
  knownHosts?: string;
  /** Accept any host key. Only for tests: it lets anyone in the middle read the token. */
  insecureAcceptAnyHostKey?: boolean;
  /** For the SSH handshake and login (default 20000). */
  connectTimeoutMs?: number;
}

export interface ClientOptions extends ConnectOptions {
  /** The gateway's `[gateway] control_user` (default "sandgate"). */
  controlUser?: string;
}

/** Options of `create` (docs/control.md); each at most the token's value. */
export interface CreateOptions {
  image?: string;
  memoryMb?: number | string;
  vcpus?: number | string;
  lifetime?: Duration;
  idleTimeout?: Duration;
  /** Narrows the token's allow_net, e.g. ["api.example.com:443"]. */
  allowNet?: string[];
  /** The secrets to get placeholders of (default all of the token's); [] means none. */
  secrets?: string[];
  /** Set in every process of the guest. */
  env?: Record<string, string>;
  /** Start from the token's snapshot of this name instead of an image. */
  snapshot?: string;
  /** The token's volumes to mount: "VOL:/path" or "VOL:/path:ro". */
  volumes?: string[];
}

/** A VOLUME document (docs/control.md). */
export interface VolumeInfo {
  name: string;
  token: string;
  size: number;
  used: number;
  created: number;
  from: string | null;
  mounts: Array<{ sandbox: string; path: string; ro: boolean }>;
  [field: string]: unknown;
}

/** A SNAPSHOT document (docs/control.md). */
export interface SnapshotInfo {
  name: string;
  token: string;
  image: string;
  from: string | null;
  created: number;
  size: number;
  [field: string]: unknown;
}

export interface SandboxCreateOptions extends ClientOptions, CreateOptions {
  /** Default "sb-" and 8 random hex digits. */
  name?: string;
  /** How long to wait for the sandbox to be ready (default 330000). */
  timeoutMs?: number;
  /** Use this control connection (left open by kill/close) instead of a new one. */
  client?: Client;
}

export type SandboxConnectOptions =
  | (ClientOptions & { name: string; client?: undefined })
  | { name: string; client: Client };

/** A SANDBOX document (docs/control.md); fields may be added. */
export interface SandboxInfo {
  id: string;
  name: string | null;
  token: string;
  image: string;
  state: 'starting' | 'booting' | 'connected' | 'idle' | 'restarting' | string;
  memory_mb: number;
  vcpus: number;
  created: number;
  ends: number;
  ends_in: number;
  idle_timeout: number | null;
  idle_since: number | null;
  connections: number;
  allow_net: string[];
  secrets: string[];
  exposed?: Array<{ port: number; public: boolean; url: string | null }>;
  dropped: number;
  [field: string]: unknown;
}

/** What `expose` returns. */
export interface ExposeInfo {
  url: string;
  /** The signed link for a browser (the URL itself when public). */
  link: string;
  public: boolean;
  port: number;
  sandbox: string;
  name: string | null;
  /** The link's end, Unix seconds; null when public. */
  expires: number | null;
  [field: string]: unknown;
}

export interface ExposeOptions {
  /** Anyone with the URL gets in (default: the token only). */
  public?: boolean;
  /** How long the link lasts (default 365 days; never longer than the exposure). */
  ttl?: Duration;
}

/** A WHOAMI document. */
export interface WhoAmI {
  token: string;
  limits: {
    max_sandboxes: number;
    memory_mb: number;
    vcpus: number;
    max_lifetime: number;
    idle_timeout: number;
    image: string | null;
    allow_net: string[];
    secrets: string[];
    [field: string]: unknown;
  };
  usage: { sandboxes: number; memory_mb: number; vcpus: number; [field: string]: unknown };
  [field: string]: unknown;
}

export interface HelpEntry { name: string; usage: string; summary: string }

/**
 * The control connection of one token, opened on first use and kept open.
 * Commands run one after the other on it.
 */
export class Client {
  constructor(opts: ClientOptions);
  readonly opts: ClientOptions & { port: number };
  /** Runs `words` (add "--json") and returns the parsed output; errors are typed by code. */
  command(words: string[], opts?: { timeoutMs?: number }): Promise<any>;
  help(): Promise<HelpEntry[]>;
  whoami(): Promise<WhoAmI>;
  ls(): Promise<SandboxInfo[]>;
  create(name: string, opts?: CreateOptions & { timeoutMs?: number }): Promise<SandboxInfo>;
  info(name: string): Promise<SandboxInfo>;
  extend(name: string, d: Duration): Promise<SandboxInfo>;
  kill(name: string): Promise<Array<{ id: string; name: string | null }>>;
  snapshot(name: string, snap: string): Promise<SnapshotInfo>;
  snapshots(): Promise<SnapshotInfo[]>;
  snapshotRm(snap: string): Promise<{ removed: string }>;
  hibernate(name: string): Promise<SandboxInfo>;
  expose(name: string, port: number, opts?: ExposeOptions): Promise<ExposeInfo>;
  unexpose(name: string, port: number): Promise<{ unexposed: { sandbox: string; port: number } }>;
  volumeCreate(vol: string, size: string, opts?: { from?: string }): Promise<VolumeInfo>;
  volumes(): Promise<VolumeInfo[]>;
  volumeRm(vol: string): Promise<{ removed: string }>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface ShOptions {
  /** Reject with CommandError on a non-zero status (default true). */
  check?: boolean;
  /** Sent as SSH env requests. */
  env?: Record<string, string>;
  /** Written to its stdin, then EOF (default: EOF at once). */
  stdin?: string | Uint8Array;
  /** Kill it and reject with SandgateError code "timeout" after this long. */
  timeoutMs?: number;
  /** Run it in this directory. */
  cwd?: string;
}

export interface ShResult {
  stdout: string;
  stderr: string;
  /** Exit status; 128 + N if signal N ended it. */
  status: number;
  signal: string | null;
}

/**
 * `sb.sh("cmd", opts?)`, or a template tag, `` sb.sh`ls ${dir}` ``, whose
 * values are quoted as single words (an array as several words).
 * `sb.sh.nothrow` is the same with `check: false`; `sb.sh.with(opts)` with
 * other defaults.
 */
export interface Sh {
  (cmd: string, opts?: ShOptions): Promise<ShResult>;
  (strings: TemplateStringsArray, ...values: unknown[]): Promise<ShResult>;
  with(opts: ShOptions): Sh;
  readonly nothrow: Sh;
}

export class SandboxProcess {
  /** End it to send EOF. */
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Exit status once known (128 + N for signal N). */
  status: number | null;
  signal: string | null;
  /**
   * Resolves with the exit status once it is known (output not read yet
   * stays in stdout/stderr); rejects if the connection is lost.
   */
  wait(): Promise<number>;
  /** Sends a signal (default "KILL") and closes the channel. */
  kill(signal?: string): void;
}

export class Sandbox {
  /** Creates a sandbox; resolves once it is ready. */
  static create(options: SandboxCreateOptions): Promise<Sandbox>;
  /** Attaches to an existing sandbox of the token (NotFound if none). */
  static connect(options: SandboxConnectOptions): Promise<Sandbox>;
  readonly client: Client;
  readonly name: string;
  readonly id: string;
  readonly sh: Sh;
  /** Starts argv as is (no shell); returns at once. */
  spawn(argv: string[], opts?: { env?: Record<string, string>; cwd?: string }): SandboxProcess;
  upload(localPath: string, remotePath: string): Promise<void>;
  download(remotePath: string, localPath: string): Promise<void>;
  writeFile(path: string, data: string | Uint8Array, opts?: { mode?: number }): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  info(): Promise<SandboxInfo>;
  extend(d: Duration): Promise<SandboxInfo>;
  /** Saves its disk as the token's snapshot `snap`. */
  snapshot(snap: string): Promise<SnapshotInfo>;
  /** Saves it with its memory; the next command resumes it. */
  hibernate(): Promise<SandboxInfo>;
  /** An HTTPS URL for a port of the guest, private to the token unless public. */
  exposeHttp(port: number, opts?: ExposeOptions): Promise<ExposeInfo>;
  /** The URL of a port goes, with its links. */
  unexposeHttp(port: number): Promise<{ unexposed: { sandbox: string; port: number } }>;
  /** Destroys it and closes the connections; idempotent. */
  kill(): Promise<void>;
  /** Closes the connections and leaves it running. */
  close(): Promise<void>;
  /** Kills it. */
  [Symbol.asyncDispose](): Promise<void>;
}

export class SandgateError extends Error {
  constructor(message: string, opts?: { code?: string; status?: number | null; cause?: unknown });
  /**
   * The control interface's code (usage, not_found, exists, limit, refused,
   * unavailable, failed) or the SDK's (command, auth, host_key, timeout,
   * connection, sftp, error).
   */
  code: string;
  /** Exit status of the command that failed, if any. */
  status: number | null;
}
export class UsageError extends SandgateError {}
export class NotFound extends SandgateError {}
export class Exists extends SandgateError {}
export class LimitError extends SandgateError {}
export class Refused extends SandgateError {}
export class Unavailable extends SandgateError {}
export class StartFailed extends SandgateError {}
export class AuthError extends SandgateError {}
export class HostKeyError extends SandgateError {
  constructor(message: string, opts?: { hostKey?: string; fingerprint?: string; cause?: unknown });
  /** The key the server offered, as a public key line (when one was seen). */
  hostKey?: string;
  fingerprint?: string;
}
export class CommandError extends SandgateError {
  constructor(cmd: string, result: ShResult);
  command: string;
  result: ShResult;
}

/** The typed error of a control command's exit status and stderr. */
export function controlError(status: number, stderr: string): SandgateError;
/** The words of `create NAME [OPTIONS] --json`. */
export function createArgs(name: string, opts?: CreateOptions): string[];
/** A duration as the command line takes it. */
export function duration(d: Duration, what?: string): string;
/** One word quoted for a POSIX shell. */
export function quote(word: string | number | bigint | boolean): string;
/** Words quoted and joined with spaces. */
export function join(words: Iterable<string | number | bigint | boolean>): string;
/** Template tag: a command line with each value quoted. */
export function command(strings: TemplateStringsArray, ...values: unknown[]): string;
/** "sb-" and 8 random hex digits. */
export function randomName(): string;
export function parseKeyLine(line: string): { type: string; blob: Buffer };
export function fingerprint(blob: Buffer): string;
export function knownHostsName(host: string, port?: number): string;
export function knownHostsKeys(text: string, name: string): { keys: Buffer[]; revoked: Buffer[] };
