"""Unit tests: no gateway needed."""

import base64
import datetime
import shlex

import paramiko
import pytest

import sandgate
from sandgate import errors
from sandgate._ssh import Endpoint, known_hosts_name, parse_host_key
from sandgate.client import command_line, create_args, format_duration
from sandgate.sandbox import Result

# An ed25519 public key (RFC 8032 test vector 1's public key).
ED_RAW = bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def ssh_string(b):
    return len(b).to_bytes(4, "big") + b


ED_B64 = base64.b64encode(ssh_string(b"ssh-ed25519") +
                          ssh_string(ED_RAW)).decode()
ED_LINE = "ssh-ed25519 " + ED_B64


# --- quoting -------------------------------------------------------------

@pytest.mark.parametrize("word", [
    "plain", "two words", "", "it's", 'say "hi"', "$HOME", "a;b|c&d",
    "back\\slash", "`x`", "*", "new\nline", "--json", "-x",
])
def test_command_line_keeps_each_word(word):
    line = command_line(["info", word, "--json"])
    assert shlex.split(line) == ["info", word, "--json"]


def test_command_line_plain_words_unquoted():
    assert command_line(["ls", "--json"]) == "ls --json"
    assert command_line(["secret", ""]) == "secret ''"


# --- the create command line ----------------------------------------------

def test_create_args_minimal():
    assert create_args("web") == ["create", "web", "--json"]


def test_create_args_all_options():
    words = create_args(
        "web", image="default", memory_mb=1024, vcpus=2, lifetime="2h",
        idle_timeout=600, allow_net=["api.example.com:443", "pypi.org:443"],
        secrets=["OPENAI_KEY", "GH"], env={"A": "1", "B": "x y"})
    assert words == [
        "create", "web",
        "--image", "default", "--memory", "1024", "--vcpus", "2",
        "--lifetime", "2h", "--idle-timeout", "600",
        "--allow-net", "api.example.com:443,pypi.org:443",
        "--secret", "OPENAI_KEY,GH",
        "--env", "A=1", "--env", "B=x y",
        "--json",
    ]
    assert shlex.split(command_line(words)) == words


def test_create_args_empty_lists_mean_none():
    words = create_args("web", secrets=[], allow_net=[])
    assert words == ["create", "web", "--allow-net", "", "--secret", "",
                     "--json"]
    assert command_line(words) == \
        "create web --allow-net '' --secret '' --json"


def test_create_args_passes_bad_values_to_the_gateway():
    # The gateway checks values and answers with a usage error.
    assert create_args("web", memory_mb="lots")[2:4] == ["--memory", "lots"]


def test_create_args_list_not_string():
    with pytest.raises(TypeError):
        create_args("web", allow_net="example.com:443")


# --- durations -----------------------------------------------------------

@pytest.mark.parametrize("given, want", [
    (90, "90"), (0, "0"), (1800.0, "1800"), ("30m", "30m"), (" 2h ", "2h"),
    ("1d", "1d"), (datetime.timedelta(minutes=5), "300"),
])
def test_format_duration(given, want):
    assert format_duration(given) == want


@pytest.mark.parametrize("bad, exc", [
    (-1, ValueError), (1.5, ValueError), (True, TypeError),
    (None, TypeError), ([30], TypeError),
])
def test_format_duration_refuses(bad, exc):
    with pytest.raises(exc):
        format_duration(bad)


# --- error mapping -------------------------------------------------------

@pytest.mark.parametrize("code, cls, status", [
    ("usage", sandgate.UsageError, 2),
    ("not_found", sandgate.NotFound, 1),
    ("exists", sandgate.Exists, 1),
    ("limit", sandgate.LimitError, 1),
    ("refused", sandgate.Refused, 1),
    ("unavailable", sandgate.Unavailable, 1),
    ("failed", sandgate.StartFailed, 1),
])
def test_error_from_json(code, cls, status):
    err = ('{"error": {"code": "%s", "message": "no sandbox web (see ls)"}}'
           '\n' % code).encode()
    e = errors.error_from_output(err, status)
    assert type(e) is cls
    assert isinstance(e, sandgate.SandgateError)
    assert e.code == code
    assert e.status == status
    assert e.message == "no sandbox web (see ls)"
    assert str(e) == "no sandbox web (see ls)"


def test_error_unknown_code_is_base_class():
    e = errors.error_from_output(
        b'{"error": {"code": "brand_new", "message": "m"}}', 1)
    assert type(e) is sandgate.SandgateError
    assert e.code == "brand_new"


def test_error_from_plain_text():
    e = errors.error_from_output(b"sandgate: unknown command 'x'\n", 2)
    assert type(e) is sandgate.UsageError
    assert e.message == "unknown command 'x'"
    e = errors.error_from_output(b"sandgate: something broke\n", 1)
    assert type(e) is sandgate.SandgateError and e.code is None
    e = errors.error_from_output(b"", 1)
    assert "status 1" in e.message


def test_command_error_carries_result():
    r = Result(3, b"out", b"first\nlast line\n")
    e = sandgate.CommandError(r, "false")
    assert e.result is r and e.status == 3 and e.code == "command"
    assert "status 3" in str(e) and "last line" in str(e)
    assert isinstance(e, sandgate.SandgateError)


def test_timeout_is_builtin_timeout():
    e = sandgate.Timeout("slow")
    assert isinstance(e, TimeoutError)
    assert isinstance(e, sandgate.SandgateError)
    assert e.code == "timeout" and str(e) == "slow"


def test_result_decodes():
    r = Result(0, "héllo\n".encode(), b"\xff")
    assert r.stdout == "héllo\n" and r.stderr == "\ufffd" and r.ok


# --- host keys -----------------------------------------------------------

def test_parse_host_key_line():
    key = parse_host_key(ED_LINE)
    assert isinstance(key, paramiko.Ed25519Key)
    assert key.get_base64() == ED_B64


def test_parse_host_key_with_comment_and_known_hosts_form():
    a = parse_host_key(ED_LINE + " root@gateway extra words")
    b = parse_host_key("[gw]:2222 " + ED_LINE)
    assert a == b == parse_host_key(ED_LINE)


@pytest.mark.parametrize("bad", [
    "", "AAAA", "ssh-ed25519", "ssh-ed25519 !!notbase64!!",
    "ssh-dss " + ED_B64,
    "ssh-rsa " + ED_B64,  # says rsa, holds ed25519
])
def test_parse_host_key_refuses(bad):
    with pytest.raises(ValueError):
        parse_host_key(bad)


def test_known_hosts_name():
    assert known_hosts_name("gw", 22) == "gw"
    assert known_hosts_name("gw", 2222) == "[gw]:2222"


def test_endpoint_check():
    Endpoint("gw", host_key=ED_LINE).check()
    with pytest.raises(ValueError):
        Endpoint("gw", host_key="nonsense").check()
    with pytest.raises(ValueError):
        Endpoint("gw", host_key=ED_LINE,
                 insecure_accept_any_host_key=True).check()


def test_client_checks_host_key_without_connecting():
    with pytest.raises(ValueError):
        sandgate.Client("gw", 2222, "sg_x", host_key="ssh-ed25519 x")
    c = sandgate.Client("gw", 2222, "sg_x", host_key=ED_LINE)
    c.close()  # never connected: nothing to do


def test_spawn_refuses_a_string():
    sb = sandgate.Sandbox(sandgate.Client("gw", host_key=ED_LINE), "web")
    with pytest.raises(TypeError):
        sb.spawn("echo hi")


def test_create_refuses_a_name_ssh_cannot_join():
    with pytest.raises(ValueError):
        sandgate.Sandbox.create("gw", host_key=ED_LINE, name="a" * 33)
