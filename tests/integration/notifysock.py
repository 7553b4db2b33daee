"""A stand-in for systemd's notification socket (sd_notify(3)).

notifysock.py SOCKET OUT: binds a datagram socket at SOCKET and appends
each message it gets to OUT, one message per record, records ending with
a line "--". Runs until killed."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path + ".tmp")
os.chmod(path + ".tmp", 0o666)
os.rename(path + ".tmp", path)   # exists only once it is bound
with open(out, "a") as f:
    while True:
        msg = s.recv(65536)
        f.write(msg.decode("utf-8", "replace") + "\n--\n")
        f.flush()
