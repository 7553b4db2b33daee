"""Python SDK for sandgate, the SSH gateway that gives each session a
microVM.

    from sandgate import Sandbox

    with Sandbox.create("gw.example.com", 2222, token="sg_...",
                        host_key="ssh-ed25519 AAAA...") as sb:
        print(sb.sh("uname -a").stdout)

Everything goes over SSH: control commands as the ``sandgate`` user
(docs/control.md), commands and files in a sandbox as its name.
"""

from .client import Client, format_duration
from .errors import (AuthError, CommandError, Exists, HostKeyError,
                     LimitError, NotFound, Refused, SandgateError,
                     StartFailed, Timeout, Unavailable, UsageError)
from .sandbox import Process, Result, Sandbox

__version__ = "0.1.0"

__all__ = [
    "Sandbox", "Client", "Process", "Result", "format_duration",
    "SandgateError", "UsageError", "NotFound", "Exists", "LimitError",
    "Refused", "Unavailable", "StartFailed", "CommandError", "AuthError",
    "HostKeyError", "Timeout",
]
