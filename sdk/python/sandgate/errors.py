"""The exceptions the SDK raises.

Every error of the gateway carries the ``code`` of its JSON document
(docs/control.md, "Results") and maps to one class; errors that happen on
this side (a command in the sandbox failed, SSH authentication or the host
key was refused, a wait ran out) have their own classes and codes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Dict, Optional, Type

if TYPE_CHECKING:
    from .sandbox import Result

__all__ = [
    "SandgateError",
    "UsageError",
    "NotFound",
    "Exists",
    "LimitError",
    "Refused",
    "Unavailable",
    "StartFailed",
    "CommandError",
    "AuthError",
    "HostKeyError",
    "Timeout",
    "error_from_output",
]


class SandgateError(Exception):
    """Base of every error of this package.

    ``code`` is the gateway's error code (``"usage"``, ``"not_found"``, ...)
    or one of this package's (``"command"``, ``"auth"``, ``"host_key"``,
    ``"timeout"``, and ``"connection"`` for an SSH connection that dropped
    while a command ran); ``status`` is the exit status of the command
    that failed, when there was one.
    """

    code: Optional[str] = None

    def __init__(self, message: str, *, code: Optional[str] = None,
                 status: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status

    def __str__(self) -> str:
        return self.message


class UsageError(SandgateError):
    """The gateway did not understand the command (bad option or value)."""
    code = "usage"


class NotFound(SandgateError):
    """No such sandbox (names are per token)."""
    code = "not_found"


class Exists(SandgateError):
    """The token already runs a sandbox of that name."""
    code = "exists"


class LimitError(SandgateError):
    """A limit of the token would be exceeded."""
    code = "limit"


class Refused(SandgateError):
    """The gateway refused the request (for example a network entry
    outside the token's)."""
    code = "refused"


class Unavailable(SandgateError):
    """The gateway cannot serve the request now."""
    code = "unavailable"


class StartFailed(SandgateError):
    """The request was valid but failed (for example the VM did not
    start)."""
    code = "failed"


class CommandError(SandgateError):
    """A command run in the sandbox exited with a non-zero status.

    ``result`` holds its output and status.
    """
    code = "command"

    def __init__(self, result: "Result", command: str) -> None:
        detail = result.stderr.strip().splitlines()
        message = "command exited with status %d: %s" % (result.status,
                                                         command)
        if detail:
            message += " (" + detail[-1][:200] + ")"
        super().__init__(message, status=result.status)
        self.result = result
        self.command = command


class AuthError(SandgateError):
    """SSH authentication failed: a wrong or expired token or key."""
    code = "auth"


class HostKeyError(SandgateError):
    """The gateway's host key is unknown or does not match the one
    expected."""
    code = "host_key"


class Timeout(SandgateError, TimeoutError):
    """A command or a wait did not finish in the time given."""
    code = "timeout"


_BY_CODE: Dict[str, Type[SandgateError]] = {
    "usage": UsageError,
    "not_found": NotFound,
    "exists": Exists,
    "limit": LimitError,
    "refused": Refused,
    "unavailable": Unavailable,
    "failed": StartFailed,
}


def error_from_output(stderr: bytes, status: int) -> SandgateError:
    """Builds the exception for a control command that exited with
    ``status`` (non-zero) and wrote ``stderr``.

    Accepts the ``--json`` form ``{"error": {"code", "message"}}`` and the
    plain ``sandgate: MESSAGE`` line. An unknown code gives a plain
    :class:`SandgateError` with that code; without a code, status 2 means
    ``usage``.
    """
    text = stderr.decode("utf-8", "replace").strip()
    code: Optional[str] = None
    message = text
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        err = doc["error"]
        code = err.get("code") if isinstance(err.get("code"), str) else None
        if isinstance(err.get("message"), str):
            message = err["message"]
    elif message.startswith("sandgate: "):
        message = message[len("sandgate: "):]
    if code is None and status == 2:
        code = "usage"
    if not message:
        message = "control command failed with status %d" % status
    cls = _BY_CODE.get(code or "", SandgateError)
    return cls(message, code=code, status=status)
