"""A stand-in gateway for tests: a paramiko SSH server on 127.0.0.1.

The control user answers help/whoami/ls/create/info/extend/kill as
docs/control.md says (state in memory, no VMs); any other user is "in"
the sandbox of that name, where an exec request runs /bin/sh -c on this
machine with the env requests applied, and SFTP reaches its files.
Password auth only. Just enough to drive the SDK's SSH code; the real
thing is covered by test_live.py.
"""

import json
import os
import shlex
import socket
import subprocess
import threading
import time

import paramiko

TOKEN = "sg_fake_token"
KEY = paramiko.ECDSAKey.generate()
KEY_LINE = "%s %s" % (KEY.get_name(), KEY.get_base64())


class _Server(paramiko.ServerInterface):
    def __init__(self, gw):
        self.gw = gw
        self.user = None
        self.env = {}

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_password(self, username, password):
        if password == TOKEN:
            self.user = username
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_env_request(self, channel, name, value):
        self.env.setdefault(channel.get_id(), {})[
            name.decode() if isinstance(name, bytes) else name] = (
            value.decode() if isinstance(value, bytes) else value)
        return True

    def check_channel_exec_request(self, channel, command):
        command = command.decode()
        env = self.env.pop(channel.get_id(), {})
        if self.user == "sandgate":
            target, args = self.gw.control, (channel, command)
        else:
            target, args = _guest, (channel, command, env)
        # Started once the request's reply is out (see _handle_request).
        channel._fake_start = threading.Thread(target=target, args=args,
                                               daemon=True)
        return True


def _handle_request(chan, m):
    # paramiko answers an exec request after check_channel_exec_request
    # returns; a command that ended before that would close the channel
    # ahead of the reply, which no real server does.
    paramiko.Channel._handle_request(chan, m)
    start = chan.__dict__.pop("_fake_start", None)
    if start is not None:
        start.start()


class _Transport(paramiko.Transport):
    _channel_handler_table = {
        **paramiko.Transport._channel_handler_table,
        paramiko.common.MSG_CHANNEL_REQUEST: _handle_request,
    }


def _pump_out(src, send):
    try:
        for chunk in iter(lambda: src.read1(65536), b""):
            send(chunk)
    except (OSError, EOFError):
        pass  # the channel closed


def _guest(chan, command, env):
    proc = subprocess.Popen(["/bin/sh", "-c", command],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env=dict(os.environ, **env))
    pumps = [threading.Thread(target=_pump_out, args=(proc.stdout,
                                                      chan.sendall)),
             threading.Thread(target=_pump_out, args=(proc.stderr,
                                                      chan.sendall_stderr))]
    for t in pumps:
        t.start()

    def feed():
        try:
            for chunk in iter(lambda: chan.recv(65536), b""):
                proc.stdin.write(chunk)
                proc.stdin.flush()
        except (OSError, EOFError):
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    threading.Thread(target=feed, daemon=True).start()
    while proc.poll() is None:
        if chan.closed:  # the client closed the channel: end the process
            proc.kill()
        time.sleep(0.01)
    for t in pumps:
        t.join()
    if not chan.closed:
        chan.send_exit_status(proc.returncode)
        chan.shutdown_write()
        chan.close()


class _Handle(paramiko.SFTPHandle):
    def stat(self):
        return paramiko.SFTPAttributes.from_stat(
            os.fstat(self.readfile.fileno()))


class _SFTP(paramiko.SFTPServerInterface):
    """SFTP on this machine's files: just what the SDK uses."""

    def open(self, path, flags, attr):
        fd = os.open(path, flags, 0o644)
        mode = "wb" if flags & os.O_WRONLY else "r+b" if flags & os.O_RDWR \
            else "rb"
        h = _Handle(flags)
        h.readfile = h.writefile = os.fdopen(fd, mode)
        return h

    def stat(self, path):
        return paramiko.SFTPAttributes.from_stat(os.stat(path))

    lstat = stat


class FakeGateway:
    def __init__(self):
        self.sandboxes = {}
        self.snaps = {}
        self.vols = {}
        self.lines = []  # control command strings received
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.host, self.port = self.sock.getsockname()
        self.transports = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = _Transport(conn)
            t.add_server_key(KEY)
            t.set_subsystem_handler("sftp", paramiko.SFTPServer, _SFTP)
            self.transports.append(t)
            # With an event, negotiation runs in the transport's thread: a
            # client that rejects the host key does not stop this loop.
            t.start_server(event=threading.Event(), server=_Server(self))

    def close(self):
        self.sock.close()
        for t in self.transports:
            t.close()

    def control(self, chan, line):
        self.lines.append(line)
        words = shlex.split(line)
        try:
            doc = self._command([w for w in words if w != "--json"])
            chan.sendall((json.dumps(doc) + "\n").encode())
            status = 0
        except LookupError as e:
            code, message = e.args
            chan.sendall_stderr(json.dumps(
                {"error": {"code": code, "message": message}}).encode())
            status = 2 if code == "usage" else 1
        chan.send_exit_status(status)
        chan.close()

    def _snapshot(self, args):
        if args == ["ls"]:
            return {"snapshots": list(self.snaps.values())}
        if len(args) == 2 and args[0] == "rm":
            if args[1] not in self.snaps:
                raise LookupError("not_found", "no snapshot %s" % args[1])
            del self.snaps[args[1]]
            return {"removed": args[1]}
        name, snap = args
        if name not in self.sandboxes:
            raise LookupError("not_found", "no sandbox %s (see ls)" % name)
        if snap in self.snaps:
            raise LookupError("exists", "snapshot %s exists" % snap)
        self.snaps[snap] = {"name": snap, "token": "fake", "from": name,
                            "image": "default", "size": 1, "created": 1}
        return self.snaps[snap]

    def _volume(self, args):
        if args == ["ls"]:
            return {"volumes": list(self.vols.values())}
        if len(args) == 2 and args[0] == "rm":
            if args[1] not in self.vols:
                raise LookupError("not_found", "no volume %s" % args[1])
            del self.vols[args[1]]
            return {"removed": args[1]}
        if len(args) not in (3, 5) or args[0] != "create" or \
                (len(args) == 5 and args[3] != "--from"):
            raise LookupError("usage", "usage: volume create VOL SIZE")
        vol = args[1]
        if vol in self.vols:
            raise LookupError("exists", "volume %s exists" % vol)
        self.vols[vol] = {"name": vol, "token": "fake", "size": args[2],
                          "used": 0, "created": 1, "mounts": [],
                          "from": args[4] if len(args) == 5 else None}
        return self.vols[vol]

    def _command(self, w):
        cmd, args = w[0], w[1:]
        if cmd == "whoami":
            return {"token": "fake", "limits": {}, "usage": {}}
        if cmd == "ls":
            return {"sandboxes": list(self.sandboxes.values())}
        if cmd == "help":
            return {"commands": [{"name": "ls", "usage": "ls",
                                  "summary": "list the sandboxes"}]}
        if cmd == "snapshot":
            return self._snapshot(args)
        if cmd == "volume":
            return self._volume(args)
        if cmd == "hibernate":
            if args[0] not in self.sandboxes:
                raise LookupError("not_found", "no sandbox %s (see ls)"
                                  % args[0])
            self.sandboxes[args[0]]["state"] = "hibernated"
            return self.sandboxes[args[0]]
        name = args[0]
        if cmd == "create":
            opts = dict(zip(args[1::2], args[2::2]))
            if not opts.get("--memory", "1").isdigit():
                raise LookupError("usage", "--memory: write a number")
            if name in self.sandboxes:
                raise LookupError("exists", "%s exists" % name)
            if opts.get("--image") == "slow":
                time.sleep(2)
            now = int(time.time())
            self.sandboxes[name] = {"id": "%012x" % len(self.lines),
                                    "name": name, "ends": now + 600,
                                    "options": opts}
            return self.sandboxes[name]
        if name not in self.sandboxes:
            raise LookupError("not_found", "no sandbox %s (see ls)" % name)
        if cmd == "info":
            return self.sandboxes[name]
        if cmd == "extend":
            self.sandboxes[name]["ends"] += int(args[1])
            return self.sandboxes[name]
        if cmd == "kill":
            sb = self.sandboxes.pop(name)
            return {"killed": [{"id": sb["id"], "name": name}]}
        if cmd in ("expose", "unexpose"):
            port = int(args[1])
            ports = self.sandboxes[name].setdefault("exposed", [])
            url = "https://%d-%s-0a1b2c3d.sandgate.test/" % (port, name)
            if cmd == "unexpose":
                if port not in ports:
                    raise LookupError("not_found", "port %d of %s is not "
                                      "exposed" % (port, name))
                ports.remove(port)
                return {"unexposed": {"sandbox": self.sandboxes[name]["id"],
                                      "port": port}}
            ports.append(port)
            public = "--public" in args
            return {"url": url, "public": public, "port": port,
                    "link": url if public else url + "__sandgate/link?t=1.x",
                    "sandbox": self.sandboxes[name]["id"], "name": name,
                    "expires": None if public else 1}
        raise LookupError("usage", "unknown command")
