"""`lab class manifests --trainees N --out DIR`: a class on Kubernetes, one namespace per trainee.

`add_parser(class_sub)` registers the `manifests` action under `lab class`; `main(argv)` is the same
command on its own (`python -m lab.k8s`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import docker_compose as dc
from . import manifests

EXIT_OK, EXIT_USAGE = 0, 2
DESCRIPTION = """Write the Kubernetes objects of a class: per trainee a namespace (lab-trainee-NN) with
the lab's services (Deployment, Service, PersistentVolumeClaim each), its topology and seed
(ConfigMaps), the seed's security groups as NetworkPolicies and a default-deny, and the Okta
Verify enrolment Job. One file per trainee: DIR/<namespace>.yaml. docs/kubernetes.md says how to
run them."""
EPILOG = """examples:
  lab class manifests --trainees 20 --out class/ --secrets
  lab class manifests --trainees 20 --out class/ --image registry.example.com/okta-workspaces-lab:1
  kubectl apply -f class/ -f class/secrets/      (the namespaces first, then their Secrets)

Credentials are never in DIR/*.yaml: every pod reads the namespace's Secret lab-credentials.
--secrets writes one per trainee under DIR/secrets/ (0600, kept across runs; keep it out of git)."""


def add_parser(class_sub: Any) -> argparse.ArgumentParser:
    parser = class_sub.add_parser("manifests", help="Kubernetes objects for a class larger than one host",
                                  description=DESCRIPTION, epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    return parser


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trainees", type=int, required=True, metavar="N",
                        help=f"how many trainees (1-{manifests.MAX_TRAINEES}): one namespace each")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the files go")
    parser.add_argument("--image", default=dc.DEFAULT_IMAGE,
                        help=f"the lab's image, as `make images` builds it and your registry serves it "
                             f"(default {dc.DEFAULT_IMAGE})")
    parser.add_argument("--storage-class", metavar="NAME",
                        help="StorageClass of the state volumes (default: the cluster's default)")
    parser.add_argument("--blank", action="store_true",
                        help="blank labs (no AWS or Okta configuration): the trainees walk the walkthrough")
    parser.add_argument("--secrets", action="store_true",
                        help="also write each trainee's Secret with new credentials to DIR/secrets/")
    parser.add_argument("--json", action="store_true", help="what was written, as JSON")
    parser.set_defaults(func=cmd_manifests)


def cmd_manifests(args: argparse.Namespace) -> int:
    if not 1 <= args.trainees <= manifests.MAX_TRAINEES:
        print(f"lab: --trainees runs from 1 to {manifests.MAX_TRAINEES}, not {args.trainees}", file=sys.stderr)
        return EXIT_USAGE
    if args.out.exists() and not args.out.is_dir():
        print(f"lab: --out {args.out} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    options = manifests.Options(trainees=args.trainees, image=args.image, storage_class=args.storage_class,
                                blank=args.blank)
    written = manifests.write(args.out, options)
    secrets = manifests.write_secrets(args.out, options) if args.secrets else []
    if args.json:
        print(json.dumps({"manifests": [str(p) for p in written], "secrets": [str(p) for p in secrets],
                          "namespaces": [manifests.namespace_of(n) for n in range(1, args.trainees + 1)]}, indent=2))
        return EXIT_OK
    print(f"{len(written)} trainee namespaces written to {args.out}/ "
          f"({manifests.namespace_of(1)} ... {manifests.namespace_of(args.trainees)})")
    if secrets:
        print(f"{len(secrets)} Secrets in {args.out / manifests.SECRETS_DIR}/ (0600; keep them out of git)")
        print(f"next: kubectl apply -f {args.out}/ -f {args.out / manifests.SECRETS_DIR}/")
    else:
        print(f"next: kubectl apply -f {args.out}/, and each namespace's Secret {manifests.workloads.SECRET} "
              f"(--secrets writes them): the pods start once it exists")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.k8s", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))
