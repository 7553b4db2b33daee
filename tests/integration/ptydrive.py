#!/usr/bin/env python3
"""Drive an interactive program (the OpenSSH client) through a real pty.

usage: ptydrive.py SCRIPT -- COMMAND...

SCRIPT lines:  expect REGEX | send TEXT (\\n and \\r escapes) |
               resize ROWS COLS | waitfile PATH | wait-exit
(waitfile: until PATH exists, while the program's output is read)
Prints everything the program wrote to stdout; exits with the program's
exit status, or 124 when an expectation is not met within 30 s.
"""
import fcntl, os, pty, re, select, signal, struct, sys, termios, time

def main():
    sep = sys.argv.index("--")
    script = open(sys.argv[1]).read().splitlines()
    cmd = sys.argv[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""
    def pump(deadline):
        nonlocal seen
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
        if not r:
            return False
        try:
            d = os.read(fd, 65536)
        except OSError:
            return None
        if not d:
            return None
        sys.stdout.buffer.write(d)
        sys.stdout.flush()
        seen += d
        return True
    for line in script:
        if not line.strip():
            continue
        op, _, arg = line.partition(" ")
        if op == "expect":
            rx = re.compile(arg.encode())
            deadline = time.time() + float(os.environ.get("PTYDRIVE_TIMEOUT", "30"))
            while not rx.search(seen):
                if time.time() > deadline or pump(deadline) is None:
                    sys.stderr.write("ptydrive: timed out waiting for %r\n" % arg)
                    os.kill(pid, signal.SIGKILL)
                    sys.exit(124)
            seen = seen[rx.search(seen).end():]
        elif op == "send":
            os.write(fd, arg.encode().decode("unicode_escape").encode())
        elif op == "resize":
            rows, cols = map(int, arg.split())
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.kill(pid, signal.SIGWINCH)
        elif op == "waitfile":
            deadline = time.time() + float(os.environ.get("PTYDRIVE_TIMEOUT", "30")) * 10
            while not os.path.exists(arg):
                if time.time() > deadline or pump(time.time() + 0.1) is None:
                    sys.stderr.write("ptydrive: %s did not appear\n" % arg)
                    os.kill(pid, signal.SIGKILL)
                    sys.exit(124)
        elif op == "wait-exit":
            break
    deadline = time.time() + 30
    while time.time() < deadline:
        if pump(deadline) is None:
            break
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) & 0xff)

main()
