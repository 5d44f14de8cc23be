"""The scenario steps for the network: `ec2` (one call of boto3's EC2 client) and `firewall`
(`lab firewall HOST allow|block PORT/PROTO`). lab/scenarios/steps.py lists them in ACTIONS.

Security group ids are made by the ec2 service, so a scenario names them by what they belong to:
  $sg:InstanceRDC, $sg:InstanceOkta   the first group of that instance (DescribeInstances, by its
                                      Name tag or id)
  $sg:directory                       the seed directory's group (DescribeDirectories'
                                      ConnectSettings.SecurityGroupId)
  $sgr:HOST:PROTO:PORT                the ids of HOST's group's ingress rules covering PORT/PROTO
                                      (DescribeSecurityGroupRules); in a list it stands for all of them
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..state import api_url

if TYPE_CHECKING:
    from ..scenarios.steps import Step

_SG = re.compile(r"^\$sg:([A-Za-z0-9-]+)$")
_SGR = re.compile(r"^\$sgr:([A-Za-z0-9-]+):(tcp|udp|icmp|-1|all):(\d+)$")


def ec2_client(topology: dict[str, Any]) -> Any:
    """boto3's EC2 client pointed at the lab's ec2 service, with the lab's access keys."""
    import boto3  # here: only scenarios with EC2 steps need it

    if "ec2" not in topology["services"]:
        from ..scenarios.outcome import StepFailed
        raise StepFailed("this lab has no ec2 service (security groups)")
    creds = topology["credentials"]
    return boto3.client("ec2", endpoint_url=api_url(topology, "ec2"), region_name=creds["aws_region"],
                        aws_access_key_id=creds["aws_access_key_id"],
                        aws_secret_access_key=creds["aws_secret_access_key"])


def group_of(step: Step, ec2: Any, owner: str) -> str:
    from ..scenarios.outcome import StepFailed

    if owner.lower() == "directory":
        ds = step.runner.client.aws("ds")
        d = ds.describe_directories(DirectoryIds=[step.runner.client.directory_id()])["DirectoryDescriptions"][0]
        group = (d.get("ConnectSettings") or {}).get("SecurityGroupId")
        if not group:
            raise StepFailed(f"step {step.index}: the directory has no SecurityGroupId")
        return str(group)
    for reservation in ec2.describe_instances()["Reservations"]:
        for instance in reservation["Instances"]:
            names = {t["Value"].lower() for t in instance.get("Tags", []) if t["Key"] == "Name"}
            if owner.lower() in names or instance["InstanceId"] == owner:
                groups = instance.get("SecurityGroups") or []
                if groups:
                    return str(groups[0]["GroupId"])
    raise StepFailed(f"step {step.index}: no instance {owner} with a security group")


def rules_of(step: Step, ec2: Any, owner: str, protocol: str, port: int) -> list[str]:
    group = group_of(step, ec2, owner)
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    wanted = "-1" if protocol == "all" else protocol
    return [r["SecurityGroupRuleId"] for r in rules if not r.get("IsEgress") and r.get("IpProtocol") == wanted
            and (wanted == "-1" or int(r.get("FromPort", -1)) <= port <= int(r.get("ToPort", -1)))]


def resolve_groups(step: Step, ec2: Any, value: Any) -> Any:
    """`$sg:` and `$sgr:` names replaced by the ec2 service's ids."""
    if isinstance(value, str):
        if m := _SG.match(value):
            return group_of(step, ec2, m.group(1))
        if m := _SGR.match(value):
            ids = rules_of(step, ec2, m.group(1), m.group(2), int(m.group(3)))
            if not ids:
                from ..scenarios.outcome import StepFailed
                raise StepFailed(f"step {step.index}: no inbound rule of {m.group(1)}'s group covers "
                                 f"{m.group(3)}/{m.group(2)}")
            return ids
        return value
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            got = resolve_groups(step, ec2, item)
            out += got if isinstance(got, list) and isinstance(item, str) else [got]
        return out
    if isinstance(value, dict):
        return {k: resolve_groups(step, ec2, v) for k, v in value.items()}
    return value


def ec2_step(step: Step) -> None:
    """`ec2: {call: revoke_security_group_ingress, params: {...}, expect_error, expect, remember}`."""
    from ..scenarios.outcome import StepFailed
    from ..scenarios.placeholders import resolve
    from ..scenarios.steps import judge_aws_call

    r, index, arg = step.runner, step.index, step.arg
    ec2 = ec2_client(r.client.topology)
    call = str(arg["call"])
    method = getattr(ec2, call, None)
    if method is None:
        raise StepFailed(f"step {index}: boto3's EC2 client has no {call}")
    params = resolve_groups(step, ec2, resolve(dict(arg.get("params") or {}), r.client, r.remembered))
    judge_aws_call(step, call, method, params)


def firewall_step(step: Step) -> None:
    """`firewall: {host: InstanceOkta, action: block, port: 1812/udp, from: ADDRESS}`."""
    from ..scenarios.placeholders import resolve
    from . import lifecycle

    arg = resolve(dict(step.arg), step.runner.client, step.runner.remembered)
    lifecycle.change(step.runner.state_dir, str(arg["host"]), str(arg["action"]), str(arg["port"]), arg.get("from"))
    step.runner.progress(f"    Windows firewall on {arg['host']}: {arg['action']} {arg['port']}"
                         + (f" from {arg['from']}" if arg.get("from") else ""))
