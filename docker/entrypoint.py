"""The image's entry point: `entrypoint.py SERVICE` runs `python -m <its package> --service SERVICE`;
`entrypoint.py provision` enrols the seed users' Okta Verify once every service is up.

The topology comes from `$LAB_TOPOLOGY` (mounted read-only by docker-compose.yml). Credentials in
it can be overridden by the environment, so a plain `docker compose up` need not use the demo
credentials of the committed topology:

    LAB_OKTA_API_TOKEN  LAB_OKTA_AGENT_TOKEN  LAB_RADIUS_SHARED_SECRET  LAB_AWS_ACCESS_KEY_ID
    LAB_AWS_SECRET_ACCESS_KEY  LAB_AWS_REGION  LAB_ADMIN_TOKEN

When any is set (non-empty), the merged topology is written to a private file under /tmp (a tmpfs
in docker-compose.yml) and the service reads that one. Python only, standard library only, so that
it runs before anything else is known to work.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

CREDENTIAL_ENV = {
    "okta_api_token": "LAB_OKTA_API_TOKEN",
    "okta_agent_token": "LAB_OKTA_AGENT_TOKEN",
    "radius_shared_secret": "LAB_RADIUS_SHARED_SECRET",
    "aws_access_key_id": "LAB_AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "LAB_AWS_SECRET_ACCESS_KEY",
    "aws_region": "LAB_AWS_REGION",
    "admin_token": "LAB_ADMIN_TOKEN",
    "console_password": "LAB_CONSOLE_PASSWORD",
}


def fail(message: str, code: int = 4) -> None:
    print(f"entrypoint: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def effective_topology(path: str) -> tuple[str, dict]:
    """The topology file the service should read, and its contents."""
    try:
        with open(path, encoding="utf-8") as fh:
            topology = json.load(fh)
    except (OSError, ValueError) as exc:
        fail(f"cannot read the topology {path}: {exc}")
    overrides = {key: os.environ[env] for key, env in CREDENTIAL_ENV.items() if os.environ.get(env)}
    if not overrides:
        return path, topology
    topology.setdefault("credentials", {}).update(overrides)
    fd, merged = tempfile.mkstemp(prefix="lab-topology-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:   # mkstemp makes it 0600
        json.dump(topology, fh)
    return merged, topology


def main(argv: list[str]) -> None:
    if len(argv) < 1 or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("usage: entrypoint.py SERVICE | provision")
        sys.exit(0 if argv else 2)
    name = argv[0]
    path, topology = effective_topology(os.environ.get("LAB_TOPOLOGY", "/etc/lab/topology.json"))
    os.environ["LAB_TOPOLOGY"] = path
    if name == "provision":
        import yaml

        from lab import provision  # the lab package is installed in the image

        with open(topology["seed"], encoding="utf-8") as fh:
            seed = yaml.safe_load(fh) or {}
        if topology.get("blank"):
            print("provision: blank lab, nothing to enrol", flush=True)
            return
        done = provision.enrol_okta_verify(topology, seed, progress=lambda m: print(m, flush=True))
        print(f"provision: {len(done)} users enrolled", flush=True)
        return
    if name not in topology.get("services", {}):
        fail(f"no service {name!r} in {path}; services: {', '.join(topology.get('services', {}))}", 2)
    if topology.get("firewall_gate"):
        from lab.firewall import gate  # standard library only

        # Fail closed: this namespace is new, and empty of the lab's rules until the enforcer enters it.
        if not gate.wait_open():
            fail(f"the lab's network rules are not in force in this container after {gate.WAIT:.0f} s "
                 "(is the firewall enforcer running? `lab status`): not serving without them", 5)
    # The topology names each entry's program (a second RADIUS agent runs services.radius_agent).
    module = topology["services"][name].get("package") or "services." + name.replace("-", "_")
    os.execv(sys.executable, [sys.executable, "-m", module, "--service", name, "--topology", path, *argv[1:]])


if __name__ == "__main__":
    main(sys.argv[1:])
