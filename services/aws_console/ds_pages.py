"""Directory Service pages: the directories list, "Set up directory" (AD Connector), a directory's
details with its Multi-factor authentication section (Enable / Edit / Disable RADIUS).

Every fact shown comes from DescribeDirectories; live parts (a directory's Stage, the RADIUS
status) are htmx fragments polled until they settle.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.web import require_csrf

from . import forms
from .aws import ApiError
from .console import Console

SIZES = ("Small", "Large")
PROTOCOLS = ("PAP", "CHAP", "MS-CHAPv1", "MS-CHAPv2")
SETTLED_STAGES = {"Active", "Failed", "Inoperable", "Deleted", "Impaired"}
SETTLED_RADIUS = {"Completed", "Failed"}


def connect_params(form: dict[str, Any]) -> dict[str, Any]:
    """The ConnectDirectory request the "Set up directory" form makes."""
    connect = forms.without_empty({
        "VpcId": forms.text(form, "vpc_id"),
        "SubnetIds": forms.items(form, "subnet_ids"),
        "CustomerDnsIps": forms.items(form, "dns_ips"),
        "CustomerUserName": forms.text(form, "service_account"),
    })
    return forms.without_empty({
        "Name": forms.text(form, "name"), "ShortName": forms.text(form, "short_name"),
        "Password": forms.secret(form, "password"), "Description": forms.text(form, "description"),
        "Size": forms.text(form, "size"), "ConnectSettings": connect})


def radius_params(form: dict[str, Any], *, editing: bool) -> dict[str, Any]:
    """RadiusSettings from the MFA form. Editing with the secret left blank keeps the stored one."""
    return forms.without_empty({
        "RadiusServers": forms.items(form, "servers"), "RadiusPort": forms.number(form, "port"),
        "RadiusTimeout": forms.number(form, "timeout"), "RadiusRetries": forms.number(form, "retries"),
        "SharedSecret": forms.secret(form, "secret") if (forms.secret(form, "secret") or not editing) else None,
        "AuthenticationProtocol": forms.text(form, "protocol"), "DisplayLabel": forms.text(form, "label"),
        "UseSameUsername": form.get("same_username") == "on",
    })


def settled(directory: dict[str, Any]) -> dict[str, bool]:
    """Which live parts of a directory's page have stopped changing (and stop polling)."""
    return {"stage_settled": directory.get("Stage") in SETTLED_STAGES,
            "radius_settled": not directory.get("RadiusSettings") or directory.get("RadiusStatus") in SETTLED_RADIUS}


def router(console: Console) -> APIRouter:
    r = APIRouter()
    render, aws = console.render, console.aws

    async def directory(directory_id: str) -> dict[str, Any]:
        found = await aws.call("ds", "describe_directories", DirectoryIds=[directory_id])
        return found["DirectoryDescriptions"][0]

    async def directories() -> list[dict[str, Any]]:
        return await aws.all_pages("ds", "describe_directories", "DirectoryDescriptions")

    @r.get("/directoryservice/", response_class=HTMLResponse)
    async def listing(request: Request) -> Response:
        console.session(request)
        error, items = None, []
        try:
            items = await directories()
        except ApiError as exc:
            error = exc
        return render(request, "console/ds_list.html", nav="ds", directories=items, error=error,
                      settled=all(d.get("Stage") in SETTLED_STAGES for d in items))

    @r.get("/directoryservice/rows", response_class=HTMLResponse)
    async def rows(request: Request) -> Response:
        console.session(request)
        items = await directories()
        return render(request, "console/ds_rows.html", directories=items,
                      settled=all(d.get("Stage") in SETTLED_STAGES for d in items))

    @r.get("/directoryservice/new", response_class=HTMLResponse)
    async def new(request: Request) -> Response:
        console.session(request)
        return render(request, "console/ds_new.html", nav="ds", form=console.connect_defaults(), error=None)

    @r.post("/directoryservice/new", response_class=HTMLResponse)
    async def create(request: Request) -> Response:
        console.session(request)
        form = await require_csrf(request)
        if forms.secret(form, "password") != forms.secret(form, "password_confirm"):
            problem = forms.Problem("The service account password and its confirmation do not match.")
            return render(request, "console/ds_new.html", 400, nav="ds", form=form, error=problem)
        try:
            created = await aws.call("ds", "connect_directory", **connect_params(form))
        except ApiError as exc:
            return render(request, "console/ds_new.html", 400, nav="ds", form=form, error=exc)
        return RedirectResponse(f"/directoryservice/{created['DirectoryId']}", status_code=303)

    @r.get("/directoryservice/{directory_id}", response_class=HTMLResponse)
    async def details(request: Request, directory_id: str) -> Response:
        console.session(request)
        try:
            d = await directory(directory_id)
        except ApiError as exc:
            return render(request, "console/not_found.html", exc.status, nav="ds", error=exc,
                          back="/directoryservice/")
        return render(request, "console/ds_detail.html", nav="ds", d=d, error=None, **settled(d))

    @r.get("/directoryservice/{directory_id}/live", response_class=HTMLResponse)
    async def live(request: Request, directory_id: str, part: str = "stage") -> Response:
        console.session(request)
        part = "radius" if part == "radius" else "stage"
        d = await directory(directory_id)
        return render(request, "console/ds_live.html", d=d, part=part, settled=settled(d)[f"{part}_settled"])

    @r.get("/directoryservice/{directory_id}/mfa", response_class=HTMLResponse)
    async def mfa_form(request: Request, directory_id: str) -> Response:
        console.session(request)
        d = await directory(directory_id)
        current = d.get("RadiusSettings") or {}
        form = {"servers": ", ".join(current.get("RadiusServers", [])), "port": current.get("RadiusPort", 1812),
                "timeout": current.get("RadiusTimeout", 10), "retries": current.get("RadiusRetries", 2),
                "protocol": current.get("AuthenticationProtocol", "PAP"),
                "label": current.get("DisplayLabel", ""),
                "same_username": "on" if current.get("UseSameUsername", True) else ""}
        return render(request, "console/ds_mfa.html", nav="ds", d=d, form=form, editing=bool(current),
                      protocols=PROTOCOLS, error=None)

    @r.post("/directoryservice/{directory_id}/mfa", response_class=HTMLResponse)
    async def mfa_save(request: Request, directory_id: str) -> Response:
        console.session(request)
        form = await require_csrf(request)
        d = await directory(directory_id)
        editing = bool(d.get("RadiusSettings"))
        again = dict(form, same_username="on" if form.get("same_username") == "on" else "")
        if forms.secret(form, "secret") != forms.secret(form, "secret_confirm"):
            problem = forms.Problem("The shared secret code and its confirmation do not match.")
            return render(request, "console/ds_mfa.html", 400, nav="ds", d=d, form=again, editing=editing,
                          protocols=PROTOCOLS, error=problem)
        operation = "update_radius" if editing else "enable_radius"
        try:
            await aws.call("ds", operation, DirectoryId=directory_id,
                           RadiusSettings=radius_params(form, editing=editing))
        except ApiError as exc:
            return render(request, "console/ds_mfa.html", 400, nav="ds", d=d, form=again, editing=editing,
                          protocols=PROTOCOLS, error=exc)
        return RedirectResponse(f"/directoryservice/{directory_id}#mfa", status_code=303)

    @r.post("/directoryservice/{directory_id}/mfa/disable", response_class=HTMLResponse)
    async def mfa_disable(request: Request, directory_id: str) -> Response:
        console.session(request)
        await require_csrf(request)
        try:
            await aws.call("ds", "disable_radius", DirectoryId=directory_id)
        except ApiError as exc:
            d = await directory(directory_id)
            return render(request, "console/ds_detail.html", 400, nav="ds", d=d, error=exc, **settled(d))
        return RedirectResponse(f"/directoryservice/{directory_id}#mfa", status_code=303)

    return r
