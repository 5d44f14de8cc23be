"""The lab CLI's contract where no running lab is needed."""
import json
import socket
import subprocess
import sys
from pathlib import Path

from lab import process_runtime as pr
from lab import topology as topo


def lab(*args, state_dir):
    return subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=60)


def test_help_lists_the_commands(tmp_path):
    out = lab("--help", state_dir=tmp_path).stdout
    for command in ("up", "down", "status", "logs", "users", "login", "phone", "events"):
        assert command in out


def test_the_installed_console_script_starts(tmp_path):
    """`lab` as installed, not `python -m lab.cli`: the script runs with the venv's bin/ first on
    sys.path, where impacket's `services.py` would shadow our `services` package if lab imported it."""
    script = Path(sys.executable).with_name("lab")
    assert script.exists(), "pip install -e . puts the lab script beside the interpreter"
    for args in (["--help"], ["ad", "--help"], ["import", "--help"]):
        result = subprocess.run([str(script), "--state-dir", str(tmp_path), *args], capture_output=True, text=True,
                                timeout=60, cwd=tmp_path)
        assert result.returncode == 0, result.stderr


def test_users_lists_seed_people_with_states(tmp_path):
    rows = json.loads(lab("users", "--json", state_dir=tmp_path).stdout)
    by_name = {r["username"]: r for r in rows}
    assert {"alice", "bob"} <= set(by_name)
    assert len([r for r in rows if r["okta_status"]]) >= 6
    assert by_name["dave"]["ad_state"] == "disabled"


def test_commands_on_a_stopped_lab_exit_2_or_1(tmp_path):
    assert lab("login", "alice", state_dir=tmp_path).returncode == 2
    assert "not running" in lab("login", "alice", state_dir=tmp_path).stderr
    assert lab("status", state_dir=tmp_path).returncode == 1
    assert lab("down", state_dir=tmp_path).returncode == 0


def test_usage_errors_exit_2(tmp_path):
    assert lab("phone", "respond", "alice", "shrug", state_dir=tmp_path).returncode == 2
    assert lab("frobnicate", state_dir=tmp_path).returncode == 2


def test_a_port_in_use_names_the_service_and_port(tmp_path):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.78.20", 1812))
    try:
        result = lab("up", "--subnet", "127.0.78", state_dir=tmp_path)
    finally:
        blocker.close()
    assert result.returncode == 2
    assert "radius-agent" in result.stderr and "1812" in result.stderr
    assert pr.running(tmp_path) == []


def test_credentials_are_made_once_and_private(tmp_path):
    first = topo.load_or_create_credentials(tmp_path)
    assert topo.load_or_create_credentials(tmp_path) == first
    assert (tmp_path / "credentials.json").stat().st_mode & 0o077 == 0


def test_an_older_state_directory_gains_the_agents_own_token(tmp_path):
    import json
    (tmp_path / "credentials.json").write_text(json.dumps({"okta_api_token": "00old", "radius_shared_secret": "s"}))
    creds = topo.load_or_create_credentials(tmp_path)
    assert creds["okta_api_token"] == "00old" and creds["radius_shared_secret"] == "s"
    assert creds["okta_agent_token"].startswith("00") and creds["okta_agent_token"] != "00old"
    assert topo.load_or_create_credentials(tmp_path) == creds


def test_an_older_state_directory_gains_the_admin_token(tmp_path):
    import json
    old = {"okta_api_token": "00old", "okta_agent_token": "00agent", "radius_shared_secret": "s"}
    (tmp_path / "credentials.json").write_text(json.dumps(old))
    creds = topo.load_or_create_credentials(tmp_path)
    assert {k: creds[k] for k in old} == old
    assert len(creds["admin_token"]) >= 32 and creds["admin_token"] not in old.values()
    assert topo.load_or_create_credentials(tmp_path)["admin_token"] == creds["admin_token"]
    topology = topo.build(tmp_path, subnet="127.0.45", credentials=creds)
    assert topology["credentials"]["admin_token"] == creds["admin_token"]     # what every service reads


def test_version(tmp_path):
    out = lab("--version", state_dir=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("lab ") and out.stdout.split()[1][0].isdigit()


def test_state_dir_after_the_command(tmp_path):
    """`lab status --state-dir D` as well as `lab --state-dir D status`; after the command wins."""
    (tmp_path / "d").mkdir()
    topo.write_topology(tmp_path / "d", topo.build(tmp_path / "d"))
    result = subprocess.run([sys.executable, "-m", "lab.cli", "logs", "nope", "--state-dir", str(tmp_path / "d")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "services: dc, mail" in result.stderr
    nowhere = subprocess.run([sys.executable, "-m", "lab.cli", "--state-dir", str(tmp_path / "x"), "logs",
                              "--state-dir", str(tmp_path / "d"), "nope"], capture_output=True, text=True, timeout=60)
    assert "services: dc, mail" in nowhere.stderr


def test_a_subnet_that_is_not_three_octets_or_not_loopback_is_refused(tmp_path):
    for subnet in ("127.0.50.1", "10.0", "127.0.256", "a.b.c"):
        result = lab("up", "--subnet", subnet, state_dir=tmp_path)
        assert result.returncode == 2 and "first three octets" in result.stderr, subnet
    result = lab("up", "--subnet", "10.0.0", state_dir=tmp_path)
    assert result.returncode == 2 and "loopback" in result.stderr and "in use" not in result.stderr
    assert not (tmp_path / "topology.json").exists(), "refused before anything was written"


def test_bash_completion_knows_commands_actions_and_choices(tmp_path):
    script = lab("completion", "bash", state_dir=tmp_path).stdout

    def complete(*words: str) -> list[str]:
        array = " ".join(f"'{w}'" for w in words)
        out = subprocess.run(["bash", "-c", f'{script}\nCOMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; '
                                            '_lab_complete; printf "%s\\n" "${COMPREPLY[@]}"'],
                             capture_output=True, text=True, timeout=30, check=True)
        return out.stdout.split()

    assert complete("lab", "st") == ["status"]
    assert {"code", "respond", "pushes"} <= set(complete("lab", "phone", ""))
    assert complete("lab", "phone", "respond", "alice", "a") == ["approve"]
    assert complete("lab", "up", "--runtime", "") == ["process", "docker"]
    assert "--subnet" in complete("lab", "--state-dir", "/tmp/x", "up", "--s")
    zsh = lab("completion", "zsh", state_dir=tmp_path)
    assert zsh.returncode == 0 and "bashcompinit" in zsh.stdout and "_lab_complete" in zsh.stdout
    assert lab("completion", "fish", state_dir=tmp_path).returncode == 2
