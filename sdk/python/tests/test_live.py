"""Integration tests against a running gateway.

Run only when these are set (else skipped):

    SANDGATE_TEST_HOST      the gateway's host name or address
    SANDGATE_TEST_PORT      its SSH port
    SANDGATE_TEST_TOKEN     a token's text (sg_...)
    SANDGATE_TEST_HOST_KEY  the gateway's public host key line
                            ("ssh-ed25519 AAAA...")
    SANDGATE_TEST_IMAGE     optional: the image to boot (SFTP tests are
                            skipped on "minimal")
    SANDGATE_TEST_ALLOWED_URL, SANDGATE_TEST_OTHER_URL
                            optional: two URLs the token may reach; the
                            allow_net test narrows a sandbox to the first

One sandbox is shared by the module (each boot costs seconds), and the
last test ends it with a with-block; the allow_net test boots another.
"""

import os
import urllib.parse

import pytest

import sandgate

ENV = {k: os.environ.get("SANDGATE_TEST_" + k)
       for k in ("HOST", "PORT", "TOKEN", "HOST_KEY", "IMAGE",
                 "ALLOWED_URL", "OTHER_URL")}

pytestmark = pytest.mark.skipif(
    not all(ENV[k] for k in ("HOST", "PORT", "TOKEN", "HOST_KEY")),
    reason="set SANDGATE_TEST_HOST, _PORT, _TOKEN and _HOST_KEY to run "
           "against a gateway")

CONN = dict(host=ENV["HOST"], port=int(ENV["PORT"] or 22),
            token=ENV["TOKEN"], host_key=ENV["HOST_KEY"])
IMAGE = ENV["IMAGE"] or None


@pytest.fixture(scope="module")
def client():
    with sandgate.Client(**CONN) as c:
        yield c


@pytest.fixture(scope="module")
def times(client):
    """A lifetime and idle timeout within the token's limits that leave
    room for extend."""
    limits = client.whoami()["limits"]
    most = limits.get("max_lifetime")
    lifetime = 600 if not most or most >= 1200 else most // 2
    idle = min(lifetime, limits.get("idle_timeout") or lifetime)
    return dict(lifetime=lifetime, idle_timeout=idle)


@pytest.fixture(scope="module")
def sb(times):
    box = sandgate.Sandbox.create(**CONN, image=IMAGE,
                                  env={"SG_TEST_VAR": "from create"},
                                  **times)
    yield box
    box.kill()


def test_sh(sb):
    assert sb.sh("echo hi").stdout == "hi\n"
    assert sb.sh("echo $SG_TEST_VAR").stdout == "from create\n"
    assert sb.sh('echo "$X"', env={"X": "a  b"}).stdout == "a  b\n"
    assert sb.sh("wc -c", stdin=b"12345").stdout.strip() == "5"


def test_sh_status(sb):
    with pytest.raises(sandgate.CommandError) as e:
        sb.sh("echo no >&2; exit 3")
    assert e.value.result.status == 3
    assert e.value.result.stderr == "no\n"
    r = sb.sh("exit 3", check=False)
    assert r.status == 3 and not r.ok


def test_stderr_separate(sb):
    r = sb.sh("echo out; echo err >&2")
    assert (r.stdout, r.stderr) == ("out\n", "err\n")


def test_spawn_streams(sb):
    p = sb.spawn(["sh", "-c", 'while read l; do echo "got $l"; done; '
                              "echo bye >&2"])
    for i in range(3):
        p.stdin.write("line %d\n" % i)
        assert p.stdout.readline() == "got line %d\n" % i
    p.stdin.close()
    assert p.stdout.read() == ""
    assert p.stderr.read() == "bye\n"
    assert p.wait(timeout=30) == 0


def test_spawn_lines_as_they_come(sb):
    p = sb.spawn(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; "
                              "done"])
    assert [line.strip() for line in p.stdout] == ["1", "2", "3"]
    assert p.wait(timeout=30) == 0


@pytest.mark.skipif(IMAGE == "minimal", reason="no SFTP on minimal")
def test_files(sb, tmp_path):
    data = os.urandom(1 << 20)
    src, back = tmp_path / "src", tmp_path / "back"
    src.write_bytes(data)
    sb.upload(src, "/tmp/sdk-test.bin")
    assert sb.sh("wc -c < /tmp/sdk-test.bin").stdout.strip() == str(1 << 20)
    sb.download("/tmp/sdk-test.bin", back)
    assert back.read_bytes() == data
    sb.write_file("/tmp/sdk-note", "héllo\n")
    assert sb.sh("cat /tmp/sdk-note").stdout == "héllo\n"
    assert sb.read_file("/tmp/sdk-note") == "héllo\n".encode()


def test_info_extend(sb):
    info = sb.info()
    assert info["name"] == sb.name and info["id"] == sb.id
    after = sb.extend(60)
    assert 59 <= after["ends"] - info["ends"] <= 61


def test_ls_whoami(sb, client):
    assert sb.name in [s["name"] for s in client.ls()]
    me = client.whoami()
    assert "limits" in me and me["usage"]["sandboxes"] >= 1


def test_connect_by_name(sb):
    other = sandgate.Sandbox.connect(CONN["host"], sb.name,
                                     port=CONN["port"], token=CONN["token"],
                                     host_key=CONN["host_key"])
    try:
        assert other.id == sb.id
        sb.sh("echo shared > /tmp/sdk-shared")
        assert other.sh("cat /tmp/sdk-shared").stdout == "shared\n"
    finally:
        other.close()
    assert sb.info()["name"] == sb.name  # close() did not kill it


def test_errors(sb, client):
    with pytest.raises(sandgate.Exists):
        client.create(sb.name)
    with pytest.raises(sandgate.NotFound) as e:
        client.info("sdk-no-such-" + os.urandom(4).hex())
    assert e.value.code == "not_found" and e.value.status == 1
    with pytest.raises(sandgate.UsageError) as e:
        client.create("sdk-bad-" + os.urandom(4).hex(), memory_mb="lots")
    assert e.value.status == 2


def test_wrong_credentials():
    with pytest.raises(sandgate.AuthError):
        sandgate.Client(**dict(CONN, token="sg_not_a_token")).whoami()
    other_key = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lk"
                 "BzoO4XLz2qYjJa8CGmj3B1Ea")
    with pytest.raises(sandgate.HostKeyError):
        sandgate.Client(**dict(CONN, host_key=other_key)).whoami()


@pytest.mark.skipif(not (ENV["ALLOWED_URL"] and ENV["OTHER_URL"]),
                    reason="set SANDGATE_TEST_ALLOWED_URL and _OTHER_URL")
def test_allow_net_narrows(times):
    url = urllib.parse.urlsplit(ENV["ALLOWED_URL"])
    port = url.port or (443 if url.scheme == "https" else 80)
    with sandgate.Sandbox.create(**CONN, image=IMAGE,
                                 allow_net=["%s:%d" % (url.hostname, port)],
                                 **times) as box:
        assert len(box.info()["allow_net"]) == 1
        # timeout bounds wget: GNU's tries 20 times, busybox's -T crashes
        box.sh("timeout 10 wget -q -O - '%s' >/dev/null" % ENV["ALLOWED_URL"])
        r = box.sh("timeout 10 wget -q -O - '%s'" % ENV["OTHER_URL"], check=False)
        assert r.status != 0


def test_with_block_kills(sb, client):
    # Last: ends the shared sandbox.
    with sb:
        sb.sh("true")
    assert sb.name not in [s["name"] for s in client.ls()]
    sb.kill()  # again: nothing to do
