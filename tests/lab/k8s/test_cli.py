"""`lab class manifests` / `python -m lab.k8s`: files, exit codes, --json, and the `class` parser hook."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from lab.k8s import cli, manifests


def test_writes_one_file_per_trainee_and_drops_those_of_a_smaller_class(tmp_path, capsys):
    out = tmp_path / "class"
    assert cli.main(["--trainees", "3", "--out", str(out), "--secrets", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["namespaces"] == ["lab-trainee-01", "lab-trainee-02", "lab-trainee-03"]
    assert [p.rsplit("/", 1)[1] for p in report["manifests"]] == [f"{n}.yaml" for n in report["namespaces"]]
    assert len(report["secrets"]) == 3
    (out / "mine.yaml").write_text("kind: ConfigMap\n")          # not the generator's: kept
    assert cli.main(["--trainees", "2", "--out", str(out)]) == 0
    assert "2 trainee namespaces" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.yaml")) == ["lab-trainee-01.yaml", "lab-trainee-02.yaml", "mine.yaml"]
    assert (out / "lab-trainee-01.yaml").read_text() == manifests.files(manifests.Options(trainees=2))[
        "lab-trainee-01.yaml"]


def test_image_and_storage_class_reach_every_pod_and_claim(tmp_path):
    assert cli.main(["--trainees", "1", "--out", str(tmp_path), "--image", "registry.example/lab:7",
                     "--storage-class", "local-path"]) == 0
    text = (tmp_path / "lab-trainee-01.yaml").read_text()
    assert text.count("image: registry.example/lab:7") >= 10 and "okta-workspaces-lab:latest" not in text
    assert text.count("storageClassName: local-path") == 10


@pytest.mark.parametrize("argv, message", [
    (["--trainees", "0"], "1 to 1000"),
    (["--trainees", "1001"], "1 to 1000"),
])
def test_usage_errors_exit_2(tmp_path, capsys, argv, message):
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    afile = tmp_path / "file"
    afile.write_text("")
    assert cli.main(["--trainees", "1", "--out", str(afile)]) == 2
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--trainees", "1"])
    assert exit_.value.code == 2


def test_the_class_parser_takes_the_manifests_action(tmp_path):
    parser = argparse.ArgumentParser(prog="lab")
    class_parser = parser.add_subparsers(dest="command").add_parser("class")
    cli.add_parser(class_parser.add_subparsers(dest="action"))
    args = parser.parse_args(["class", "manifests", "--trainees", "1", "--out", str(tmp_path), "--blank"])
    assert args.func is cli.cmd_manifests and args.func(args) == 0
    assert "kind: Job" not in (tmp_path / "lab-trainee-01.yaml").read_text()


def test_python_m_lab_k8s_helps():
    proc = subprocess.run([sys.executable, "-m", "lab.k8s", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--trainees" in proc.stdout and "docs/kubernetes.md" in proc.stdout
