"""The SDK's SSH code against the stand-in gateway of fakegw.py (no VMs)."""

import os
import threading

import pytest

import sandgate
from fakegw import KEY_LINE, TOKEN, FakeGateway


@pytest.fixture(scope="module")
def gw():
    g = FakeGateway()
    yield g
    g.close()


@pytest.fixture
def conn(gw):
    return dict(host=gw.host, port=gw.port, token=TOKEN, host_key=KEY_LINE)


def test_control_commands(gw, conn):
    with sandgate.Client(**conn) as c:
        assert c.whoami()["token"] == "fake"
        info = c.create("web one", env={"K": "a b"}, secrets=[])
        assert info["options"] == {"--env": "K=a b", "--secret": ""}
        assert gw.lines[-1] == "create 'web one' --secret '' --env 'K=a b' " \
                               "--json"
        assert [s["name"] for s in c.ls()] == ["web one"]
        assert c.extend("web one", 60)["ends"] == info["ends"] + 60
        with pytest.raises(sandgate.Exists):
            c.create("web one")
        with pytest.raises(sandgate.UsageError) as e:
            c.create("other", memory_mb="lots")
        assert e.value.status == 2
        c.kill("web one")
        with pytest.raises(sandgate.NotFound) as e:
            c.info("web one")
        assert e.value.message == "no sandbox web one (see ls)"
        assert c.help()["commands"][0]["name"] == "ls"


def test_snapshots(gw, conn):
    with sandgate.Client(**conn) as c:
        c.create("web")
        assert c.snapshot("web", "with-deps")["from"] == "web"
        assert gw.lines[-1] == "snapshot web with-deps --json"
        assert [s["name"] for s in c.snapshots()] == ["with-deps"]
        with pytest.raises(sandgate.Exists):
            c.snapshot("web", "with-deps")
        with pytest.raises(sandgate.NotFound):
            c.snapshot("nosuch", "x")
        c.create("job", snapshot="with-deps")
        assert gw.lines[-1] == "create job --snapshot with-deps --json"
        assert c.snapshot_rm("with-deps") == {"removed": "with-deps"}
        assert c.snapshots() == []
        with pytest.raises(sandgate.NotFound):
            c.snapshot_rm("with-deps")
    sb = sandgate.Sandbox.create(**conn, name="from-snap")
    try:
        assert sb.snapshot("s2")["name"] == "s2"
    finally:
        sb.kill()
    other = sandgate.Sandbox.create(**conn, name="again", snapshot="s2")
    assert gw.lines[-1] == "create again --snapshot s2 --json"
    other.kill()


def test_volumes(gw, conn):
    with sandgate.Client(**conn) as c:
        v = c.volume_create("data", "10G")
        assert gw.lines[-1] == "volume create data 10G --json"
        assert v["name"] == "data" and v["from"] is None
        c.volume_create("deps", "2G", from_snapshot="with-deps")
        assert gw.lines[-1] == "volume create deps 2G --from with-deps --json"
        assert [v["name"] for v in c.volumes()] == ["data", "deps"]
        with pytest.raises(sandgate.Exists):
            c.volume_create("data", "1G")
        c.create("vm", volumes=["data:/data", "deps:/deps:ro"])
        assert gw.lines[-1] == "create vm --volume data:/data " \
                               "--volume deps:/deps:ro --json"
        with pytest.raises(TypeError):
            c.create("vm2", volumes="data:/data")
        c.kill("vm")
        assert c.volume_rm("data") == {"removed": "data"}
        c.volume_rm("deps")
        assert c.volumes() == []
        with pytest.raises(sandgate.NotFound):
            c.volume_rm("data")
    sb = sandgate.Sandbox.create(**conn, name="with-vol",
                                 volumes=["x:/x"])
    assert gw.lines[-1] == "create with-vol --volume x:/x --json"
    sb.kill()


def test_hibernate(gw, conn):
    with sandgate.Client(**conn) as c:
        with pytest.raises(sandgate.NotFound):
            c.hibernate("nosuch")
    sb = sandgate.Sandbox.create(**conn, name="sleepy")
    try:
        assert sb.sh("echo hi").stdout == "hi\n"
        assert sb.hibernate()["state"] == "hibernated"
        assert gw.lines[-1] == "hibernate sleepy --json"
        assert sb.sh("echo again").stdout == "again\n"
    finally:
        sb.kill()


def test_expose(gw, conn):
    sb = sandgate.Sandbox.create(**conn, name="exposed")
    try:
        e = sb.expose_http(8000)
        assert gw.lines[-1] == "expose exposed 8000 --json"
        assert e["url"] == "https://8000-exposed-0a1b2c3d.sandgate.test/"
        assert e["link"].startswith(e["url"]) and not e["public"]
        e = sb.expose_http(3000, public=True, ttl=90)
        assert gw.lines[-1] == "expose exposed 3000 --public --ttl 90 --json"
        assert e["public"] and e["link"] == e["url"]
        assert sb.unexpose_http(3000)["unexposed"]["port"] == 3000
        assert gw.lines[-1] == "unexpose exposed 3000 --json"
        with pytest.raises(sandgate.NotFound):
            sb.unexpose_http(3000)
    finally:
        sb.kill()


def test_sandbox_lifecycle(gw, conn):
    with sandgate.Sandbox.create(**conn, lifetime="10m") as sb:
        assert sb.name.startswith("sb-") and len(sb.name) == 11
        assert sb.id == gw.sandboxes[sb.name]["id"]
        again = sandgate.Sandbox.connect(conn["host"], sb.name,
                                         port=conn["port"], token=TOKEN,
                                         host_key=KEY_LINE)
        assert again.info()["name"] == sb.name
        again.close()
        assert sb.name in gw.sandboxes
    assert sb.name not in gw.sandboxes
    sb.kill()  # again: nothing happens
    with pytest.raises(sandgate.NotFound):
        sandgate.Sandbox.connect(conn["host"], "missing", port=conn["port"],
                                 token=TOKEN, host_key=KEY_LINE)


@pytest.fixture
def sb(gw, conn):
    with sandgate.Sandbox.create(**conn) as s:
        yield s


def test_sh(sb):
    r = sb.sh("echo hi; echo oops >&2")
    assert (r.stdout, r.stderr, r.status) == ("hi\n", "oops\n", 0)
    with pytest.raises(sandgate.CommandError) as e:
        sb.sh("echo bad >&2; exit 3")
    assert e.value.result.status == 3 and "bad" in str(e.value)
    assert sb.sh("exit 4", check=False).status == 4
    assert sb.sh("echo $A", env={"A": "x y"}).stdout == "x y\n"
    assert sb.sh("cat", stdin="in put").stdout == "in put"
    assert sb.sh("cat").stdout == ""  # stdin is closed, cat does not hang


def test_sh_big_stdin_and_output(sb):
    data = bytes(range(256)) * 8192  # 2 MiB both ways at once
    r = sb.sh("cat; cat >&2 </dev/null; echo end >&2", stdin=data)
    assert r.stdout_bytes == data and r.stderr == "end\n"


def test_sh_timeout(sb):
    with pytest.raises(sandgate.Timeout):
        sb.sh("sleep 5", timeout=0.3)
    assert sb.sh("echo still").stdout == "still\n"


def test_spawn(sb):
    p = sb.spawn(["sh", "-c", "while read l; do echo \"got $l\"; done; "
                              "echo done >&2; exit 5"])
    for word in ("a", "b c"):
        p.stdin.write(word + "\n")
        assert p.stdout.readline() == "got %s\n" % word
    p.stdin.close()
    assert list(p.stdout) == []
    assert p.stderr.read() == "done\n"
    assert p.wait(timeout=10) == 5 and p.poll() == 5


def test_spawn_quotes_argv_and_binary(sb):
    p = sb.spawn(["printf", "%s|", "a b", "$HOME", "it's"], text=False)
    assert p.stdout.read() == b"a b|$HOME|it's|"
    assert p.wait(10) == 0


def test_spawn_kill(sb):
    p = sb.spawn(["sleep", "30"])
    with pytest.raises(sandgate.Timeout):
        p.wait(timeout=0.2)
    p.kill()
    assert p.wait(timeout=10) == -1


def test_wrong_token(conn):
    with pytest.raises(sandgate.AuthError):
        sandgate.Client(**dict(conn, token="sg_wrong")).whoami()


def test_host_key_mismatch(gw, conn, tmp_path):
    other = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XL"
             "z2qYjJa8CGmj3B1Ea")
    with pytest.raises(sandgate.HostKeyError):
        sandgate.Client(**dict(conn, host_key=other)).whoami()
    kh = tmp_path / "known_hosts"
    kh.write_text("[%s]:%d %s\n" % (gw.host, gw.port, other))
    with pytest.raises(sandgate.HostKeyError):
        sandgate.Client(gw.host, gw.port, TOKEN, known_hosts=str(kh)).whoami()


def test_host_key_known_hosts(gw, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    with pytest.raises(sandgate.HostKeyError) as e:
        sandgate.Client(gw.host, gw.port, TOKEN, known_hosts=str(kh)).whoami()
    assert "unknown" in str(e.value)
    kh.write_text("[%s]:%d %s\n" % (gw.host, gw.port, KEY_LINE))
    with sandgate.Client(gw.host, gw.port, TOKEN, known_hosts=str(kh)) as c:
        assert c.whoami()["token"] == "fake"
    with sandgate.Client(gw.host, gw.port, TOKEN,
                         insecure_accept_any_host_key=True) as c:
        assert c.whoami()["token"] == "fake"


def test_control_connection_reopens(gw, conn):
    with sandgate.Client(**conn) as c:
        c.whoami()
        c._ssh.get_transport().close()  # the gateway went away and back
        assert c.whoami()["token"] == "fake"


def test_files(sb, tmp_path):
    data = os.urandom(300000)
    src, back = tmp_path / "src", tmp_path / "back"
    src.write_bytes(data)
    sb.upload(src, str(tmp_path / "remote"))
    sb.download(str(tmp_path / "remote"), back)
    assert back.read_bytes() == data
    sb.write_file(str(tmp_path / "t"), "héllo")
    assert sb.read_file(str(tmp_path / "t")) == "héllo".encode()
    with pytest.raises(IOError):
        sb.read_file(str(tmp_path / "missing"))


def test_connection_lost_and_back(sb):
    sb.sh("true")
    threading.Timer(0.3, sb._ssh.get_transport().close).start()
    with pytest.raises(sandgate.SandgateError) as e:
        sb.sh("sleep 3")
    assert e.value.code == "connection"
    assert sb.sh("echo back").stdout == "back\n"


def test_gone_sandbox_is_not_recreated(gw, conn):
    box = sandgate.Sandbox.create(**conn)
    del gw.sandboxes[box.name]  # ended elsewhere (lifetime, kill)
    with pytest.raises(sandgate.NotFound):
        box.sh("true")
    box.kill()  # already gone: nothing to do
    with pytest.raises(sandgate.NotFound):
        box.sh("true")


def test_create_timeout_kills(gw, conn):
    with pytest.raises(sandgate.Timeout):
        sandgate.Sandbox.create(**conn, name="slow", image="slow",
                                timeout=0.3)
    assert gw.lines[-1] == "kill slow --json"
