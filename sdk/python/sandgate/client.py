"""The control connection: ``sandgate@gateway`` and its commands
(docs/control.md)."""

from __future__ import annotations

import datetime
import json
import shlex
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import paramiko

from . import _ssh
from .errors import SandgateError, error_from_output

__all__ = ["Client", "Duration", "format_duration", "command_line",
           "create_args", "CONTROL_USER"]

CONTROL_USER = "sandgate"
# The gateway gives up on create and kill after 180 s (unavailable).
CREATE_TIMEOUT = 300.0
KILL_TIMEOUT = 240.0
# a whole disk copied (the gateway gives up after 15 minutes)
SNAPSHOT_TIMEOUT = 960.0
COMMAND_TIMEOUT = 60.0

Duration = Union[int, float, str, datetime.timedelta]


def format_duration(d: Duration) -> str:
    """A duration as the gateway writes it: whole seconds (``90``) for a
    number or timedelta; a string (``"90s"``, ``"30m"``, ``"2h"``,
    ``"1d"``) is passed as given for the gateway to check."""
    if isinstance(d, bool):
        raise TypeError("a duration is seconds or a string like '30m', "
                        "not a bool")
    if isinstance(d, datetime.timedelta):
        d = d.total_seconds()
    if isinstance(d, float):
        if not d.is_integer():
            raise ValueError("a duration is whole seconds, not %r" % d)
        d = int(d)
    if isinstance(d, int):
        if d < 0:
            raise ValueError("a duration cannot be negative: %d" % d)
        return str(d)
    if isinstance(d, str):
        return d.strip()
    raise TypeError("a duration is seconds or a string like '30m', not %s"
                    % type(d).__name__)


def command_line(words: Sequence[str]) -> str:
    """Joins words into one command string, each quoted as a POSIX shell
    would need, so spaces and metacharacters stay inside their word."""
    return " ".join(shlex.quote(str(w)) for w in words)


def _list_word(items: Sequence[str], what: str) -> str:
    if isinstance(items, str):
        raise TypeError("%s is a list of strings, not a string" % what)
    return ",".join(items)


def create_args(name: str, *, image: Optional[str] = None,
                memory_mb: Optional[int] = None,
                vcpus: Optional[int] = None,
                lifetime: Optional[Duration] = None,
                idle_timeout: Optional[Duration] = None,
                allow_net: Optional[Sequence[str]] = None,
                secrets: Optional[Sequence[str]] = None,
                env: Optional[Mapping[str, str]] = None,
                snapshot: Optional[str] = None,
                volumes: Optional[Sequence[str]] = None) -> List[str]:
    """The words of ``create NAME [OPTIONS] --json``.

    None leaves an option out (the token's value or the gateway's default
    applies). ``allow_net`` and ``secrets`` are lists; an empty list asks
    for none (``--allow-net ''``, ``--secret ''``). ``volumes`` is a list
    of ``"VOL:/path"`` or ``"VOL:/path:ro"``, one ``--volume`` each.
    Values are not checked here: the gateway reports a bad one as a
    UsageError.
    """
    words = ["create", name]
    if image is not None:
        words += ["--image", image]
    if snapshot is not None:
        words += ["--snapshot", snapshot]
    if memory_mb is not None:
        words += ["--memory", str(memory_mb)]
    if vcpus is not None:
        words += ["--vcpus", str(vcpus)]
    if lifetime is not None:
        words += ["--lifetime", format_duration(lifetime)]
    if idle_timeout is not None:
        words += ["--idle-timeout", format_duration(idle_timeout)]
    if allow_net is not None:
        words += ["--allow-net", _list_word(allow_net, "allow_net")]
    if secrets is not None:
        words += ["--secret", _list_word(secrets, "secrets")]
    for key, value in (env or {}).items():
        words += ["--env", "%s=%s" % (key, value)]
    if isinstance(volumes, str):
        raise TypeError("volumes is a list of strings, not a string")
    for vol in volumes or []:
        words += ["--volume", vol]
    words.append("--json")
    return words


class Client:
    """A connection to the gateway's control user, running one command
    per SSH channel. Opened on first use and kept open; reopened if it
    dropped. Usable as a context manager (closes on exit).

    Authentication: ``token`` (sent as the SSH password, or by
    keyboard-interactive) and/or ``key_filename`` (a key listed for the
    token). With neither, the SSH agent and ~/.ssh keys are tried.

    Host key: ``host_key`` (a public key line, ``"ssh-ed25519 AAAA..."``)
    pins it; else it must be in ``known_hosts`` (default
    ~/.ssh/known_hosts; the entry for a port other than 22 is
    ``[host]:port``). ``insecure_accept_any_host_key=True`` skips the check.
    """

    def __init__(self, host: str, port: int = 22,
                 token: Optional[str] = None, *,
                 key_filename: Optional[Union[str, List[str]]] = None,
                 host_key: Optional[str] = None,
                 known_hosts: Optional[str] = None,
                 insecure_accept_any_host_key: bool = False,
                 connect_timeout: float = _ssh.CONNECT_TIMEOUT) -> None:
        self.endpoint = _ssh.Endpoint(
            host=host, port=int(port), token=token,
            key_filename=key_filename, host_key=host_key,
            known_hosts=known_hosts,
            insecure_accept_any_host_key=insecure_accept_any_host_key,
            connect_timeout=connect_timeout)
        self.endpoint.check()
        self._ssh: Optional[paramiko.SSHClient] = None
        self._lock = threading.Lock()

    def _connection(self) -> paramiko.SSHClient:
        with self._lock:
            t = self._ssh.get_transport() if self._ssh else None
            if t is None or not t.is_active():
                if self._ssh is not None:
                    self._ssh.close()
                self._ssh = None
                self._ssh = self.endpoint.connect(CONTROL_USER)
            return self._ssh

    def run(self, words: Sequence[str],
            timeout: Optional[float] = COMMAND_TIMEOUT) -> Dict[str, Any]:
        """Runs one control command (its words, ``--json`` included) and
        returns its JSON document. Raises the SandgateError subclass its
        error code maps to."""
        line = command_line(words)
        status, out, err = _ssh.run(self._connection(), line,
                                    timeout=timeout)
        if status != 0:
            raise error_from_output(err, status)
        try:
            doc = json.loads(out.decode("utf-8"))
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise SandgateError("the gateway sent no JSON object for %s: "
                                "%.200r" % (words[0], out))
        return doc

    def help(self) -> Dict[str, Any]:
        """``help``: ``{"commands": [{"name", "usage", "summary"}]}``."""
        return self.run(["help", "--json"])

    def whoami(self) -> Dict[str, Any]:
        """``whoami``: the token, its limits and what is in use."""
        return self.run(["whoami", "--json"])

    def ls(self) -> List[Dict[str, Any]]:
        """``ls``: the token's sandboxes (a list of SANDBOX dicts)."""
        doc = self.run(["ls", "--json"])
        return list(doc.get("sandboxes", []))

    def create(self, name: str, *, image: Optional[str] = None,
               memory_mb: Optional[int] = None,
               vcpus: Optional[int] = None,
               lifetime: Optional[Duration] = None,
               idle_timeout: Optional[Duration] = None,
               allow_net: Optional[Sequence[str]] = None,
               secrets: Optional[Sequence[str]] = None,
               env: Optional[Mapping[str, str]] = None,
               snapshot: Optional[str] = None,
               volumes: Optional[Sequence[str]] = None,
               timeout: Optional[float] = CREATE_TIMEOUT) -> Dict[str, Any]:
        """``create NAME``: makes a named sandbox and returns its SANDBOX
        dict once its agent answers. Options as in :func:`create_args`;
        ``snapshot`` starts it from the token's snapshot of that name,
        ``volumes`` (``["data:/data", "deps:/deps:ro"]``) mounts the
        token's volumes."""
        words = create_args(name, image=image, memory_mb=memory_mb,
                            vcpus=vcpus, lifetime=lifetime,
                            idle_timeout=idle_timeout, allow_net=allow_net,
                            secrets=secrets, env=env, snapshot=snapshot,
                            volumes=volumes)
        return self.run(words, timeout=timeout)

    def info(self, name: str) -> Dict[str, Any]:
        """``info NAME``: one sandbox's SANDBOX dict."""
        return self.run(["info", name, "--json"])

    def extend(self, name: str, duration: Duration) -> Dict[str, Any]:
        """``extend NAME DURATION``: moves its end later; returns SANDBOX."""
        return self.run(
            ["extend", name, format_duration(duration), "--json"])

    def kill(self, name: str,
             timeout: Optional[float] = KILL_TIMEOUT) -> Dict[str, Any]:
        """``kill NAME``: destroys it, returning once it is gone;
        ``{"killed": [{"id", "name"}]}``."""
        return self.run(["kill", name, "--json"],
                        timeout=timeout)

    def snapshot(self, name: str, snap: str,
                 timeout: Optional[float] = SNAPSHOT_TIMEOUT) -> Dict[str, Any]:
        """``snapshot NAME SNAP``: saves the sandbox's disk as the token's
        snapshot ``snap`` (its guest paused meanwhile; run ``sync`` in it
        first) and returns its SNAPSHOT dict once made."""
        return self.run(["snapshot", name, snap, "--json"], timeout=timeout)

    def snapshots(self) -> List[Dict[str, Any]]:
        """``snapshot ls``: the token's snapshots (SNAPSHOT dicts)."""
        return list(self.run(["snapshot", "ls", "--json"]).get("snapshots", []))

    def snapshot_rm(self, snap: str) -> Dict[str, Any]:
        """``snapshot rm SNAP``: removes it; ``{"removed": SNAP}``."""
        return self.run(["snapshot", "rm", snap, "--json"])

    def hibernate(self, name: str,
                  timeout: Optional[float] = SNAPSHOT_TIMEOUT
                  ) -> Dict[str, Any]:
        """``hibernate NAME``: saves the sandbox to disk with its memory
        (its sessions end); the next connection to it resumes it. Returns
        its SANDBOX dict (state ``hibernated``)."""
        return self.run(["hibernate", name, "--json"], timeout=timeout)

    def expose(self, name: str, port: int, *, public: bool = False,
               ttl: Optional[Duration] = None) -> Dict[str, Any]:
        """``expose NAME PORT [--public] [--ttl D]``: an HTTPS URL for the
        sandbox's ``port``; ``{"url", "link", "public", "port", "sandbox",
        "name", "expires"}``. The URL is private to the token (send it as
        ``Authorization: Bearer``) unless ``public``; ``link`` is the
        signed link for a browser, valid ``ttl`` (or 365 days) and never
        longer than the port stays exposed."""
        words = ["expose", name, str(int(port))]
        if public:
            words.append("--public")
        if ttl is not None:
            words += ["--ttl", format_duration(ttl)]
        return self.run(words + ["--json"])

    def unexpose(self, name: str, port: int) -> Dict[str, Any]:
        """``unexpose NAME PORT``: the URL goes, with its links;
        ``{"unexposed": {"sandbox", "port"}}``."""
        return self.run(["unexpose", name, str(int(port)), "--json"])

    def volume_create(self, vol: str, size: str, *,
                      from_snapshot: Optional[str] = None,
                      timeout: Optional[float] = SNAPSHOT_TIMEOUT
                      ) -> Dict[str, Any]:
        """``volume create VOL SIZE [--from SNAP]``: a disk of the
        token's that outlives sandboxes (``size`` such as ``"10G"`` or
        ``"512M"``), blank ext4 or the filesystem of a snapshot; returns
        its VOLUME dict once made."""
        words = ["volume", "create", vol, str(size)]
        if from_snapshot is not None:
            words += ["--from", from_snapshot]
        return self.run(words + ["--json"], timeout=timeout)

    def volumes(self) -> List[Dict[str, Any]]:
        """``volume ls``: the token's volumes (VOLUME dicts)."""
        return list(self.run(["volume", "ls", "--json"]).get("volumes", []))

    def volume_rm(self, vol: str) -> Dict[str, Any]:
        """``volume rm VOL``: removes it (refused while a sandbox mounts
        it); ``{"removed": VOL}``."""
        return self.run(["volume", "rm", vol, "--json"])

    def close(self) -> None:
        """Closes the connection (the next command opens a new one)."""
        with self._lock:
            if self._ssh is not None:
                self._ssh.close()
                self._ssh = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Client(%r, %d)" % (self.endpoint.host, self.endpoint.port)
