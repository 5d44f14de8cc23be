"""EC2 → Security Groups: the groups of the account (id, name, VPC, description, inbound rule count),
a group's page with its inbound and outbound rules (the lab tag `lab:matched-packets`: the kernel's
counter for the rule) and the two rule editors, as the console's "Edit inbound rules" and "Edit
outbound rules" do: add up to ROWS rules in one save (one Authorize call with every filled row, so
EC2 takes them all or none) and delete one (Revoke by SecurityGroupRuleIds).

The form becomes IpPermissions here and nothing more: EC2 judges it (a duplicate rule is EC2's
InvalidPermission.Duplicate on the form, a port of "http" is EC2's own refusal).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.web import require_csrf

from . import forms
from .aws import NOT_AVAILABLE, ApiError
from .console import Console

# The editor's "Type" choices: (IpProtocol, the console's name). "-1" is EC2's "all protocols".
PROTOCOLS = (("tcp", "Custom TCP"), ("udp", "Custom UDP"), ("-1", "All traffic"), ("icmp", "All ICMP - IPv4"))
PROTOCOL_NAMES = {"tcp": "TCP", "udp": "UDP", "-1": "All", "icmp": "ICMP", "6": "TCP", "17": "UDP", "1": "ICMP"}
MATCHED_TAG = "lab:matched-packets"
CIDR_SOURCE = "cidr"          # the Source list's first choice: the CIDR block field
ROWS = 3                      # rule rows per save; the first row's field names have no suffix
# direction → (the API's verbs, the page's words)
DIRECTIONS = {"inbound": ("authorize_security_group_ingress", "revoke_security_group_ingress"),
              "outbound": ("authorize_security_group_egress", "revoke_security_group_egress")}
FIELDS = ("protocol", "ports", "source", "cidr", "description")


def row_fields(form: dict[str, Any], index: int) -> dict[str, Any]:
    """Row `index`'s fields under their plain names (row 0: `ports`; row 1: `ports-1`, ...)."""
    suffix = f"-{index}" if index else ""
    return {name: form.get(name + suffix, "") for name in FIELDS}


def row_used(row: dict[str, Any]) -> bool:
    """A row beyond the first counts when something besides its Type was filled in."""
    return bool(forms.text(row, "ports") or forms.text(row, "cidr") or forms.text(row, "description")
                or (forms.text(row, "source") or CIDR_SOURCE) != CIDR_SOURCE)


def permissions(form: dict[str, Any]) -> list[dict[str, Any]]:
    """Every filled row → IpPermissions (the first row always: an empty one is EC2's to refuse)."""
    rows = [row_fields(form, i) for i in range(ROWS)]
    return [ingress_permission(row) for i, row in enumerate(rows) if i == 0 or row_used(row)]


def port_range(text: str) -> tuple[Any, Any]:
    """`22` → (22, 22); `1000-2000` → (1000, 2000); a part that is not a number goes as typed."""
    low, sep, high = text.partition("-")
    low_n = forms.number({"p": low}, "p")
    return low_n, (forms.number({"p": high}, "p") if sep else low_n)


def ingress_permission(form: dict[str, Any]) -> dict[str, Any]:
    """One row of the editor → one IpPermissions member. All traffic and ICMP have no ports (EC2's
    -1 for ICMP: every type and code); the source (the destination, outbound) is a CIDR block or a
    security group."""
    protocol = forms.text(form, "protocol")
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if protocol == "icmp":
        permission |= {"FromPort": -1, "ToPort": -1}
    elif protocol != "-1":
        low, high = port_range(forms.text(form, "ports"))
        permission |= forms.without_empty({"FromPort": low, "ToPort": high})
    description = forms.text(form, "description")
    source = forms.text(form, "source") or CIDR_SOURCE
    if source == CIDR_SOURCE:
        permission["IpRanges"] = [forms.without_empty({"CidrIp": forms.text(form, "cidr"), "Description": description})]
    else:
        permission["UserIdGroupPairs"] = [forms.without_empty({"GroupId": source, "Description": description})]
    return permission


def rule_view(rule: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """One DescribeSecurityGroupRules rule as the console's table shows it."""
    protocol = str(rule.get("IpProtocol", ""))
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if protocol in ("-1", "icmp", "1") and low in (None, -1):
        ports = "All"
    else:
        ports = str(low) if low == high else f"{low} - {high}"
    ref = (rule.get("ReferencedGroupInfo") or {}).get("GroupId")
    cidr = rule.get("CidrIpv4") or rule.get("CidrIpv6") or rule.get("PrefixListId") or ""
    source = (f"{ref} ({names[ref]})" if ref in names else ref) if ref else cidr
    tags = {t.get("Key"): t.get("Value") for t in rule.get("Tags") or []}
    return {"id": rule.get("SecurityGroupRuleId", ""), "protocol": PROTOCOL_NAMES.get(protocol, protocol),
            "ports": ports, "source": source, "description": rule.get("Description") or "",
            "matched": tags.get(MATCHED_TAG)}


def router(console: Console) -> APIRouter:
    r = APIRouter()
    render, aws = console.render, console.aws

    async def groups() -> list[dict[str, Any]]:
        return await aws.all_pages("ec2", "describe_security_groups", "SecurityGroups")

    async def rules(**params: Any) -> list[dict[str, Any]]:
        return await aws.all_pages("ec2", "describe_security_group_rules", "SecurityGroupRules", **params)

    def unavailable(request: Request, exc: ApiError) -> Response:
        return render(request, "console/ec2_unavailable.html", exc.status, nav="ec2", error=exc)

    @r.get("/ec2/securitygroups", response_class=HTMLResponse)
    async def listing(request: Request) -> Response:
        console.session(request)
        try:
            found = await groups()
            inbound = Counter(rule.get("GroupId") for rule in await rules() if not rule.get("IsEgress"))
        except ApiError as exc:
            if exc.code == NOT_AVAILABLE:
                return unavailable(request, exc)
            raise
        return render(request, "console/ec2_groups.html", nav="ec2", groups=found, inbound=inbound)

    async def group_page(request: Request, group_id: str, status: int = 200, error: Any = None,
                         form: dict[str, Any] | None = None, notice: str = "") -> Response:
        try:
            everyone = await groups()
        except ApiError as exc:
            if exc.code == NOT_AVAILABLE:
                return unavailable(request, exc)
            raise
        group = next((g for g in everyone if g.get("GroupId") == group_id), None)
        if group is None:
            raise ApiError("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")
        names = {g["GroupId"]: g.get("GroupName", "") for g in everyone}
        found = await rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
        inbound = [rule_view(x, names) for x in found if not x.get("IsEgress")]
        outbound = [rule_view(x, names) for x in found if x.get("IsEgress")]
        blank = {"direction": ""}
        return render(request, "console/ec2_group.html", status, nav="ec2", group=group, rules=inbound,
                      outbound=outbound, groups=everyone, protocols=PROTOCOLS, error=error, notice=notice,
                      form=form or blank, rows=ROWS)

    @r.get("/ec2/securitygroups/{group_id}", response_class=HTMLResponse)
    async def group(request: Request, group_id: str) -> Response:
        console.session(request)
        added, deleted = request.query_params.get("added", ""), request.query_params.get("deleted", "")
        way = "Outbound" if request.query_params.get("direction") == "outbound" else "Inbound"
        count = len([x for x in added.split(",") if x])
        notice = (f"{way} rule{'s' if count > 1 else ''} {added.replace(',', ', ')} added." if added else
                  f"{way} rule {deleted} deleted." if deleted else "")
        return await group_page(request, group_id, notice=notice)

    async def add(request: Request, group_id: str, direction: str) -> Response:
        console.session(request)
        form = await require_csrf(request)
        try:
            result = await aws.call("ec2", DIRECTIONS[direction][0], GroupId=group_id,
                                    IpPermissions=permissions(form))
        except ApiError as exc:
            if exc.code == NOT_AVAILABLE:
                return unavailable(request, exc)
            return await group_page(request, group_id, 400, error=exc, form=dict(form) | {"direction": direction})
        made = [x.get("SecurityGroupRuleId", "") for x in result.get("SecurityGroupRules") or []]
        return RedirectResponse(f"/ec2/securitygroups/{group_id}?direction={direction}&added={','.join(made)}",
                                status_code=303)

    async def delete(request: Request, group_id: str, rule_id: str, direction: str) -> Response:
        console.session(request)
        await require_csrf(request)
        try:
            await aws.call("ec2", DIRECTIONS[direction][1], GroupId=group_id, SecurityGroupRuleIds=[rule_id])
        except ApiError as exc:
            if exc.code == NOT_AVAILABLE:
                return unavailable(request, exc)
            return await group_page(request, group_id, 400, error=exc, form={"direction": direction})
        return RedirectResponse(f"/ec2/securitygroups/{group_id}?direction={direction}&deleted={rule_id}",
                                status_code=303)

    @r.post("/ec2/securitygroups/{group_id}/rules", response_class=HTMLResponse)
    async def add_inbound(request: Request, group_id: str) -> Response:
        return await add(request, group_id, "inbound")

    @r.post("/ec2/securitygroups/{group_id}/egress-rules", response_class=HTMLResponse)
    async def add_outbound(request: Request, group_id: str) -> Response:
        return await add(request, group_id, "outbound")

    @r.post("/ec2/securitygroups/{group_id}/rules/{rule_id}/delete", response_class=HTMLResponse)
    async def delete_inbound(request: Request, group_id: str, rule_id: str) -> Response:
        return await delete(request, group_id, rule_id, "inbound")

    @r.post("/ec2/securitygroups/{group_id}/egress-rules/{rule_id}/delete", response_class=HTMLResponse)
    async def delete_outbound(request: Request, group_id: str, rule_id: str) -> Response:
        return await delete(request, group_id, rule_id, "outbound")

    return r
