"""A sandbox: made or found through the control connection, used through
an SSH connection as its name (commands, processes, SFTP)."""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass
from typing import (IO, Any, Dict, List, Mapping, Optional, Sequence, Union,
                    cast)

import paramiko

from . import _ssh
from .client import CREATE_TIMEOUT, Client, Duration, command_line
from .errors import CommandError, NotFound, SandgateError, Timeout

__all__ = ["Sandbox", "Result", "Process"]

PathLike = Union[str, "os.PathLike[str]"]

# An SSH user name is at most 32 characters (sandgate-ssh(7)).
MAX_JOIN_NAME = 32


@dataclass(frozen=True)
class Result:
    """What a finished command gave: its exit status (-1 when it was
    killed by a signal) and its output, as bytes and decoded (UTF-8,
    undecodable bytes replaced)."""

    status: int
    stdout_bytes: bytes
    stderr_bytes: bytes

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        return self.status == 0


class _ChannelReader(io.RawIOBase):
    """stdout or stderr of a channel as a raw stream: a read returns as
    soon as some data is there, b"" at EOF."""

    def __init__(self, chan: paramiko.Channel, stderr: bool) -> None:
        super().__init__()
        self._recv = chan.recv_stderr if stderr else chan.recv

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._recv(len(b))
        b[:len(data)] = data
        return len(data)


class _ChannelWriter(io.RawIOBase):
    """stdin of a channel as a raw stream; closing it sends EOF."""

    def __init__(self, chan: paramiko.Channel) -> None:
        super().__init__()
        self._chan = chan

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        if self._chan.closed:
            raise BrokenPipeError("the process's channel is closed")
        self._chan.sendall(data)
        return len(data)

    def close(self) -> None:
        if not self.closed and not self._chan.closed:
            try:
                self._chan.shutdown_write()
            except (OSError, EOFError, paramiko.SSHException):
                pass
        super().close()


class Process:
    """A command running in the sandbox (see :meth:`Sandbox.spawn`).

    ``stdin`` is writable, ``stdout`` and ``stderr`` readable; in text mode
    (the default) they are UTF-8 text streams and stdin is line-buffered,
    in binary mode byte streams. Iterating ``stdout`` yields lines as they
    arrive. Close ``stdin`` to send EOF. Read the output the process
    writes: unread output past the SSH window (a few MiB) stalls it.
    """

    def __init__(self, chan: paramiko.Channel, command: str,
                 text: bool = True) -> None:
        self.command = command
        self._chan = chan
        out = io.BufferedReader(_ChannelReader(chan, stderr=False))
        err = io.BufferedReader(_ChannelReader(chan, stderr=True))
        self.stdin: IO[Any]
        self.stdout: IO[Any]
        self.stderr: IO[Any]
        if text:
            self.stdin = io.TextIOWrapper(
                io.BufferedWriter(_ChannelWriter(chan)), encoding="utf-8",
                line_buffering=True)
            self.stdout = io.TextIOWrapper(out, encoding="utf-8",
                                           errors="replace")
            self.stderr = io.TextIOWrapper(err, encoding="utf-8",
                                           errors="replace")
        else:
            self.stdin = cast(IO[bytes], _ChannelWriter(chan))
            self.stdout = out
            self.stderr = err

    def poll(self) -> Optional[int]:
        """The exit status if the process has ended, else None."""
        if self._chan.exit_status_ready():
            return int(self._chan.recv_exit_status())
        return None

    def wait(self, timeout: Optional[float] = None) -> int:
        """Waits for the process to end and returns its exit status (-1
        when it was killed by a signal, or after :meth:`kill`). Raises
        Timeout if ``timeout`` seconds pass first."""
        if not self._chan.status_event.wait(timeout):
            raise Timeout("process did not exit in %gs: %.80s"
                          % (timeout or 0, self.command))
        return int(self._chan.recv_exit_status())

    def kill(self) -> None:
        """Closes the channel: the gateway ends the process."""
        self._chan.close()

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def __repr__(self) -> str:
        return "Process(%r)" % self.command


class Sandbox:
    """A named sandbox of a token.

    Make one with :meth:`create` or attach to one with :meth:`connect`;
    used as a context manager it is killed when the block ends. Commands,
    processes and file transfers share one SSH connection as the
    sandbox's name, opened on first use; control commands (info, extend,
    kill) go over the :class:`Client`.

    ``Sandbox(client, name)`` wraps a sandbox on a client you keep
    yourself; ``own_client=True`` hands the client over to be closed with
    the sandbox.
    """

    def __init__(self, client: Client, name: str,
                 info: Optional[Dict[str, Any]] = None, *,
                 own_client: bool = False) -> None:
        self.client = client
        self._name = name
        self._info: Dict[str, Any] = dict(info) if info else {}
        self._own_client = own_client
        self._ssh: Optional[paramiko.SSHClient] = None
        self._sftp: Optional[paramiko.SFTPClient] = None
        self._lock = threading.Lock()
        self._killed = False

    @classmethod
    def create(cls, host: str, port: int = 22, token: Optional[str] = None,
               *, name: Optional[str] = None, image: Optional[str] = None,
               memory_mb: Optional[int] = None, vcpus: Optional[int] = None,
               lifetime: Optional[Duration] = None,
               idle_timeout: Optional[Duration] = None,
               allow_net: Optional[Sequence[str]] = None,
               secrets: Optional[Sequence[str]] = None,
               env: Optional[Mapping[str, str]] = None,
               snapshot: Optional[str] = None,
               volumes: Optional[Sequence[str]] = None,
               key_filename: Optional[Union[str, List[str]]] = None,
               host_key: Optional[str] = None,
               known_hosts: Optional[str] = None,
               insecure_accept_any_host_key: bool = False,
               timeout: Optional[float] = CREATE_TIMEOUT) -> "Sandbox":
        """Creates a sandbox and returns once its agent answers.

        ``name`` (at most 32 characters, to be joined over SSH) defaults to
        ``"sb-"`` and 8 random hex digits. Options left None take the
        token's values; durations are seconds or strings such as ``"30m"``;
        ``allow_net`` narrows the token's network list (``[]``: no
        network); ``secrets`` picks the token's secrets (``[]``: none);
        ``env`` is set in every process of the guest; ``snapshot`` starts
        it from the token's snapshot of that name; ``volumes``
        (``["data:/data", "deps:/deps:ro"]``) mounts the token's volumes
        (see :meth:`Client.volume_create`). ``timeout`` bounds
        the wait for the VM (on Timeout the sandbox is killed). Connection
        arguments as for :class:`Client`.
        """
        if name is None:
            name = "sb-" + os.urandom(4).hex()
        if len(name) > MAX_JOIN_NAME:
            raise ValueError("a sandbox name over %d characters cannot be "
                             "joined over SSH: %r" % (MAX_JOIN_NAME, name))
        client = Client(host, port, token, key_filename=key_filename,
                        host_key=host_key, known_hosts=known_hosts,
                        insecure_accept_any_host_key=(
                            insecure_accept_any_host_key))
        try:
            info = client.create(name, image=image, memory_mb=memory_mb,
                                 vcpus=vcpus, lifetime=lifetime,
                                 idle_timeout=idle_timeout,
                                 allow_net=allow_net, secrets=secrets,
                                 env=env, snapshot=snapshot,
                                 volumes=volumes, timeout=timeout)
        except Timeout:
            # It may still be booting: do not leave it behind.
            try:
                client.kill(name, timeout=60)
            except (SandgateError, OSError, paramiko.SSHException):
                pass
            client.close()
            raise
        except BaseException:
            client.close()
            raise
        return cls(client, name, info, own_client=True)

    @classmethod
    def connect(cls, host: str, name: str, port: int = 22,
                token: Optional[str] = None, *,
                key_filename: Optional[Union[str, List[str]]] = None,
                host_key: Optional[str] = None,
                known_hosts: Optional[str] = None,
                insecure_accept_any_host_key: bool = False) -> "Sandbox":
        """Attaches to the token's existing sandbox ``name``; raises
        NotFound if there is none (joining a name that does not exist
        would create it). Call :meth:`close` to leave it running."""
        client = Client(host, port, token, key_filename=key_filename,
                        host_key=host_key, known_hosts=known_hosts,
                        insecure_accept_any_host_key=(
                            insecure_accept_any_host_key))
        try:
            info = client.info(name)
        except BaseException:
            client.close()
            raise
        return cls(client, name, info, own_client=True)

    @property
    def name(self) -> str:
        return self._name

    @property
    def id(self) -> str:
        """The sandbox's id (from the last SANDBOX document seen)."""
        if "id" not in self._info:
            self.info()
        return str(self._info["id"])

    def info(self) -> Dict[str, Any]:
        """Its SANDBOX document, fetched now."""
        self._info = self.client.info(self._name)
        return self._info

    def extend(self, duration: Duration) -> Dict[str, Any]:
        """Moves its end ``duration`` later; returns the SANDBOX document."""
        self._info = self.client.extend(self._name, duration)
        return self._info

    def snapshot(self, snap: str) -> Dict[str, Any]:
        """Saves its disk as the token's snapshot ``snap`` (run ``sync``
        first: the copy is what a power cut would leave); returns the
        SNAPSHOT document. ``Sandbox.create(..., snapshot=snap)`` starts
        from it."""
        return self.client.snapshot(self._name, snap)

    def expose_http(self, port: int, *, public: bool = False,
                    ttl: Optional[Duration] = None) -> Dict[str, Any]:
        """Gives ``port`` (a server in the guest) an HTTPS URL at the
        gateway's front: ``{"url", "link", "public", ...}``. Private to the
        token: requests need ``Authorization: Bearer TOKEN``, or a browser
        opens ``link`` once (it sets a cookie for that URL). ``public``
        lets anyone in; ``ttl`` bounds the link's life."""
        return self.client.expose(self._name, port, public=public, ttl=ttl)

    def unexpose_http(self, port: int) -> Dict[str, Any]:
        """The URL of ``port`` goes, with its links and cookies."""
        return self.client.unexpose(self._name, port)

    def hibernate(self) -> Dict[str, Any]:
        """Saves it to disk with its memory and stops its VM; its open
        processes' sessions end. The next command resumes it (background
        processes and all). Returns the SANDBOX document."""
        with self._lock:
            if self._ssh is not None:
                self._ssh.close()
            self._ssh = None
            self._sftp = None
        self._info = self.client.hibernate(self._name)
        return self._info

    def _connection(self) -> paramiko.SSHClient:
        with self._lock:
            if self._killed:
                raise NotFound("sandbox %s was killed" % self._name)
            t = self._ssh.get_transport() if self._ssh else None
            if t is None or not t.is_active():
                if self._ssh is not None:
                    self._ssh.close()
                self._ssh = None
                self._sftp = None
                # Logging in as a name the token does not run creates a
                # sandbox of that name: make sure this one still exists.
                self._info = self.client.info(self._name)
                self._ssh = self.client.endpoint.connect(self._name)
            return self._ssh

    def sh(self, cmd: str, *, check: bool = True,
           env: Optional[Mapping[str, str]] = None,
           timeout: Optional[float] = None,
           stdin: Optional[Union[bytes, str]] = None) -> Result:
        """Runs ``cmd`` with ``/bin/sh -c`` in the guest and returns its
        Result once it exits. ``stdin`` is fed to it (then EOF; without
        it, EOF at once); ``env`` adds variables. Raises CommandError on a
        non-zero status unless ``check`` is False, Timeout (the command is
        ended) after ``timeout`` seconds."""
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        status, out, err = _ssh.run(self._connection(), cmd, env=env,
                                    stdin=data, timeout=timeout)
        result = Result(status, out, err)
        if check and status != 0:
            raise CommandError(result, cmd)
        return result

    def spawn(self, argv: Sequence[str], *,
              env: Optional[Mapping[str, str]] = None,
              text: bool = True) -> Process:
        """Starts ``argv`` (quoted word by word, no shell expansion) and
        returns its Process to stream stdin, stdout and stderr."""
        if isinstance(argv, (str, bytes)):
            raise TypeError("spawn takes a list of words; use sh() for a "
                            "shell command string")
        command = command_line(argv)
        chan = _ssh.open_exec(self._connection(), command, env)
        return Process(chan, command, text=text)

    def _sftp_client(self) -> paramiko.SFTPClient:
        conn = self._connection()
        with self._lock:
            if self._sftp is None or self._sftp.sock.closed:
                self._sftp = conn.open_sftp()
            return self._sftp

    def upload(self, local_path: PathLike, remote_path: str) -> None:
        """Copies a local file into the sandbox (SFTP)."""
        self._sftp_client().put(os.fspath(local_path), remote_path)

    def download(self, remote_path: str, local_path: PathLike) -> None:
        """Copies a file of the sandbox to a local path (SFTP)."""
        self._sftp_client().get(remote_path, os.fspath(local_path))

    def write_file(self, path: str, data: Union[bytes, str]) -> None:
        """Writes ``data`` (a str as UTF-8) to ``path`` in the sandbox,
        replacing it."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        with self._sftp_client().open(path, "wb") as f:
            f.set_pipelined(True)
            f.write(data)

    def read_file(self, path: str) -> bytes:
        """Returns the contents of ``path`` in the sandbox."""
        with self._sftp_client().open(path, "rb") as f:
            f.prefetch()
            return bytes(f.read())

    def close(self) -> None:
        """Closes the connections; the sandbox keeps running."""
        with self._lock:
            if self._sftp is not None:
                self._sftp.close()
                self._sftp = None
            if self._ssh is not None:
                self._ssh.close()
                self._ssh = None
        if self._own_client:
            self.client.close()

    def kill(self) -> None:
        """Destroys the sandbox and closes the connections. Calling it
        again, or on a sandbox already gone, does nothing."""
        if self._killed:
            return
        with self._lock:
            if self._ssh is not None:
                self._ssh.close()
                self._ssh = None
                self._sftp = None
        try:
            self.client.kill(self._name)
        except NotFound:
            pass
        self._killed = True
        self.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def __repr__(self) -> str:
        return "Sandbox(%r)" % self._name
