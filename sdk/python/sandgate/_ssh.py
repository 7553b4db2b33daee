"""SSH plumbing on paramiko: host keys, connecting, running one command.

Internal; the public classes are in client.py and sandbox.py.
"""

from __future__ import annotations

import base64
import os
import select
import threading
import time
from dataclasses import dataclass
from typing import List, Mapping, Optional, Tuple, Union

import paramiko

from .errors import AuthError, HostKeyError, SandgateError, Timeout

CONNECT_TIMEOUT = 30.0
_CHUNK = 65536

_KEY_CLASSES = {
    "ssh-ed25519": paramiko.Ed25519Key,
    "ssh-rsa": paramiko.RSAKey,
    "ecdsa-sha2-nistp256": paramiko.ECDSAKey,
    "ecdsa-sha2-nistp384": paramiko.ECDSAKey,
    "ecdsa-sha2-nistp521": paramiko.ECDSAKey,
}


def parse_host_key(line: str) -> paramiko.PKey:
    """Parses a public key line, ``TYPE BASE64 [COMMENT]`` (as in a
    ``.pub`` file or ``ssh-keyscan`` output without its host field), or a
    known_hosts line ``HOSTS TYPE BASE64 [COMMENT]``.

    Raises ValueError when the line holds no public key of a known type or
    the type named does not match the key's own.
    """
    fields = line.split()
    if len(fields) >= 2 and fields[0] in _KEY_CLASSES:
        ktype, b64 = fields[0], fields[1]
    elif len(fields) >= 3 and fields[1] in _KEY_CLASSES:
        ktype, b64 = fields[1], fields[2]
    else:
        raise ValueError("not a public key line (want 'ssh-ed25519 AAAA...'"
                         "): %.60r" % line)
    try:
        blob = base64.b64decode(b64.encode("ascii"), validate=True)
        key = _KEY_CLASSES[ktype](data=blob)
    except Exception as e:
        raise ValueError("bad %s key: %s" % (ktype, e)) from None
    if key.get_name() != ktype:
        raise ValueError("key line says %s but holds a %s key"
                         % (ktype, key.get_name()))
    return key


def known_hosts_name(host: str, port: int) -> str:
    """The name a known_hosts file gives host:port (``[host]:port`` unless
    the port is 22)."""
    return host if port == 22 else "[%s]:%d" % (host, port)


class _AcceptAny(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        pass


@dataclass(frozen=True)
class Endpoint:
    """Where and how to log in: everything but the user name."""

    host: str
    port: int = 22
    token: Optional[str] = None
    key_filename: Optional[Union[str, List[str]]] = None
    host_key: Optional[str] = None
    known_hosts: Optional[str] = None
    insecure_accept_any_host_key: bool = False
    connect_timeout: float = CONNECT_TIMEOUT

    def check(self) -> None:
        """Raises ValueError for settings that cannot work."""
        if self.host_key is not None:
            parse_host_key(self.host_key)
        if self.host_key is not None and self.insecure_accept_any_host_key:
            raise ValueError("give host_key or insecure_accept_any_host_key,"
                             " not both")

    def connect(self, username: str) -> paramiko.SSHClient:
        """Opens an SSH connection as ``username``, verifying the host key
        and authenticating with the token and/or key. Raises HostKeyError,
        AuthError, or OSError/paramiko.SSHException for other failures."""
        client = paramiko.SSHClient()
        if self.insecure_accept_any_host_key:
            client.set_missing_host_key_policy(_AcceptAny())
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            if self.host_key is not None:
                key = parse_host_key(self.host_key)
                client.get_host_keys().add(
                    known_hosts_name(self.host, self.port), key.get_name(),
                    key)
            else:
                path = self.known_hosts or os.path.expanduser(
                    "~/.ssh/known_hosts")
                if self.known_hosts is not None or os.path.exists(path):
                    client.load_system_host_keys(path)
        explicit = self.token is not None or self.key_filename is not None
        try:
            client.connect(
                self.host, port=self.port, username=username,
                password=self.token, key_filename=self.key_filename,
                allow_agent=not explicit, look_for_keys=not explicit,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout)
        except paramiko.BadHostKeyException as e:
            client.close()
            raise HostKeyError(
                "host key of %s does not match the one expected (got %s %s)"
                % (known_hosts_name(self.host, self.port),
                   e.key.get_name(), e.key.get_base64())) from None
        except paramiko.AuthenticationException as e:
            client.close()
            raise AuthError("SSH authentication as %s@%s failed (%s): check "
                            "the token or key" % (username, self.host, e)) \
                from None
        except paramiko.SSHException as e:
            client.close()
            if "No authentication methods" in str(e):
                raise AuthError("no token or key to log in as %s@%s with"
                                % (username, self.host)) from None
            if "not found in known_hosts" in str(e):
                raise HostKeyError(
                    "host key of %s is unknown: pass host_key='ssh-ed25519 "
                    "...' or add it to known_hosts"
                    % known_hosts_name(self.host, self.port)) from None
            raise
        except BaseException:
            client.close()
            raise
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(30)
        return client


def open_exec(client: paramiko.SSHClient, command: str,
              env: Optional[Mapping[str, str]] = None) -> paramiko.Channel:
    """Opens a session channel on ``client`` and runs ``command`` on it,
    after sending ``env`` as env requests."""
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        raise paramiko.SSHException("SSH connection is closed")
    chan = transport.open_session(timeout=CONNECT_TIMEOUT)
    try:
        if env:
            chan.update_environment(dict(env))
        chan.exec_command(command)
    except BaseException:
        chan.close()
        raise
    return chan


def _feed(chan: paramiko.Channel, data: bytes) -> None:
    try:
        if data:
            chan.sendall(data)
        chan.shutdown_write()
    except (OSError, EOFError, paramiko.SSHException):
        pass  # the command exited without reading it all


def run(client: paramiko.SSHClient, command: str, *,
        env: Optional[Mapping[str, str]] = None,
        stdin: Optional[bytes] = None,
        timeout: Optional[float] = None) -> Tuple[int, bytes, bytes]:
    """Runs ``command`` on a new channel of ``client`` to completion and
    returns (exit status, stdout, stderr). ``stdin`` is sent and then
    closed (no stdin: closed at once). The status is -1 when the remote
    side sent none (killed by a signal). Raises Timeout, closing the
    channel, when ``timeout`` seconds pass first, and SandgateError (code
    "connection") when the connection drops first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    chan = open_exec(client, command, env)
    writer = None
    out: List[bytes] = []
    err: List[bytes] = []
    try:
        if stdin:
            # A thread, so a command that writes before it reads all its
            # input cannot deadlock against us.
            writer = threading.Thread(target=_feed, args=(chan, stdin),
                                      daemon=True)
            writer.start()
        else:
            chan.shutdown_write()
        while True:
            if chan.recv_ready():
                out.append(chan.recv(_CHUNK))
            elif chan.recv_stderr_ready():
                err.append(chan.recv_stderr(_CHUNK))
            elif chan.eof_received or chan.closed:
                # Data is queued before the EOF that follows it; take what
                # arrived between the checks above and this one.
                while chan.recv_ready():
                    out.append(chan.recv(_CHUNK))
                while chan.recv_stderr_ready():
                    err.append(chan.recv_stderr(_CHUNK))
                break
            else:
                wait = None
                if deadline is not None:
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        raise Timeout("command did not finish in %ss: %.80s"
                                      % (timeout, command))
                select.select([chan], [], [], wait)
        wait = None if deadline is None else max(0.0,
                                                 deadline - time.monotonic())
        if not chan.status_event.wait(wait):
            raise Timeout("command did not exit in %ss: %.80s"
                          % (timeout, command))
        status = chan.recv_exit_status()
        transport = chan.get_transport()
        if status == -1 and not transport.is_active():
            raise SandgateError("the SSH connection closed before the "
                                "command exited: %.80s" % command,
                                code="connection")
    finally:
        chan.close()
        if writer is not None:
            writer.join(1.0)
    return status, b"".join(out), b"".join(err)


__all__ = ["Endpoint", "parse_host_key", "known_hosts_name", "open_exec",
           "run"]
