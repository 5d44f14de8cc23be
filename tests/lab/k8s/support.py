"""What the Kubernetes tests share: the generated objects, and NetworkPolicy's decision in Python.

`admits` is Kubernetes' rule for ingress (the NetworkPolicy reference page, kubernetes.io
"Network Policies"): a pod no policy selects takes everything; a pod selected by at least one
policy with policyType Ingress takes only what one of those policies' rules allows (rules add up,
never subtract); a peer `podSelector` without `namespaceSelector` means pods of the policy's own
namespace; a rule without `ports` allows every port, one without `from` every source.
"""
from __future__ import annotations

from typing import Any

import yaml


def load(text: str) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)     # libyaml's when there: the same objects, faster
    return [o for o in yaml.load_all(text, Loader=loader) if o]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values):
            return False
    return True


def _peer_admits(peer: dict[str, Any], policy_ns: str, src: dict[str, Any]) -> bool:
    if "ipBlock" in peer:
        raise AssertionError("the lab's policies name pods, not address blocks")
    if "namespaceSelector" in peer:
        ns_ok = _selects(peer["namespaceSelector"], src["namespace_labels"])
    else:
        ns_ok = src["namespace"] == policy_ns
    return ns_ok and _selects(peer.get("podSelector") or {}, src["labels"])


def _port_admits(ports: list[dict[str, Any]] | None, protocol: str, port: int) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        if p["port"] <= port <= p.get("endPort", p["port"]):
            return True
    return False


def admits(policies: list[dict[str, Any]], src: dict[str, Any], dst: dict[str, Any], protocol: str, port: int) -> bool:
    """Whether a connection from pod SRC to pod DST on PORT/PROTOCOL (TCP, UDP) is let in. Pods are
    {"namespace", "namespace_labels", "labels"}."""
    selecting = [p for p in policies if p["metadata"]["namespace"] == dst["namespace"]
                 and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
                 and _selects(p["spec"]["podSelector"], dst["labels"])]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            if (not peers or any(_peer_admits(peer, policy["metadata"]["namespace"], src) for peer in peers)) \
                    and _port_admits(rule.get("ports"), protocol, port):
                return True
    return False


def pods(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{deployment name: pod} of one trainee's objects."""
    namespace = next(o for o in objects if o["kind"] == "Namespace")
    return {o["metadata"]["name"]: {"namespace": o["metadata"]["namespace"],
                                    "namespace_labels": namespace["metadata"]["labels"]
                                    | {"kubernetes.io/metadata.name": namespace["metadata"]["name"]},
                                    "labels": o["spec"]["template"]["metadata"]["labels"]}
            for o in objects if o["kind"] == "Deployment"}
