"""WorkSpaces pages: directories (register one, its registration code, access control options per
device type, Web Access included) and WorkSpaces (launch one for a directory user with a bundle;
the list with user, computer name and state, live until every WorkSpace has settled).

Access control calls ModifyWorkspaceAccessProperties and reads WorkspaceAccessProperties from
DescribeWorkspaceDirectories, as botocore's model names them.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.web import require_csrf

from . import forms
from .aws import ApiError
from .console import Console

# WorkspaceAccessProperties members, with the names the console gives the device types.
DEVICE_TYPES = (("DeviceTypeWindows", "Windows"), ("DeviceTypeOsx", "macOS"), ("DeviceTypeWeb", "Web Access"),
                ("DeviceTypeIos", "iPadOS"), ("DeviceTypeAndroid", "Android"),
                ("DeviceTypeChromeOs", "ChromeOS"), ("DeviceTypeZeroClient", "Zero Client"),
                ("DeviceTypeLinux", "Linux"))
ACCESS = ("ALLOW", "DENY")
SETTLED_WORKSPACES = {"AVAILABLE", "ERROR", "STOPPED", "TERMINATED", "SUSPENDED", "UNHEALTHY", "IMPAIRED"}


def access_params(form: dict[str, Any]) -> dict[str, str]:
    return {member: forms.text(form, member) for member, _ in DEVICE_TYPES if forms.text(form, member)}


def router(console: Console) -> APIRouter:
    r = APIRouter()
    render, aws = console.render, console.aws

    async def registered() -> dict[str, dict[str, Any]]:
        found = await aws.all_pages("workspaces", "describe_workspace_directories", "Directories")
        return {d["DirectoryId"]: d for d in found}

    async def directory_rows() -> list[dict[str, Any]]:
        """Every Directory Service directory, with its WorkSpaces registration when it has one."""
        ds = await aws.all_pages("ds", "describe_directories", "DirectoryDescriptions")
        ws = await registered()
        return [{"ds": d, "ws": ws.get(d["DirectoryId"])} for d in ds]

    async def workspaces() -> list[dict[str, Any]]:
        return await aws.all_pages("workspaces", "describe_workspaces", "Workspaces")

    @r.get("/workspaces/directories", response_class=HTMLResponse)
    async def directories(request: Request) -> Response:
        console.session(request)
        return render(request, "console/ws_directories.html", nav="ws-dirs", rows=await directory_rows(), error=None)

    @r.post("/workspaces/directories/{directory_id}/register", response_class=HTMLResponse)
    async def register(request: Request, directory_id: str) -> Response:
        console.session(request)
        form = await require_csrf(request)
        params = forms.without_empty({"DirectoryId": directory_id,
                                      "EnableSelfService": form.get("self_service") == "on"})
        try:
            await aws.call("workspaces", "register_workspace_directory", **params)
        except ApiError as exc:
            return render(request, "console/ws_directories.html", 400, nav="ws-dirs", rows=await directory_rows(),
                          error=exc)
        return RedirectResponse(f"/workspaces/directories/{directory_id}", status_code=303)

    async def directory_page(request: Request, directory_id: str, status: int = 200,
                             error: Any = None, saved: bool = False) -> Response:
        found = await aws.call("workspaces", "describe_workspace_directories", DirectoryIds=[directory_id])
        if not found.get("Directories"):
            raise ApiError("ResourceNotFoundException",
                           f"Directory {directory_id} is not registered with WorkSpaces in this Region.")
        d = found["Directories"][0]
        return render(request, "console/ws_directory.html", status, nav="ws-dirs", d=d, error=error, saved=saved,
                      device_types=DEVICE_TYPES, access=ACCESS,
                      current=d.get("WorkspaceAccessProperties") or {})

    @r.get("/workspaces/directories/{directory_id}", response_class=HTMLResponse)
    async def directory(request: Request, directory_id: str) -> Response:
        console.session(request)
        return await directory_page(request, directory_id, saved=request.query_params.get("saved") == "1")

    @r.post("/workspaces/directories/{directory_id}/access", response_class=HTMLResponse)
    async def access(request: Request, directory_id: str) -> Response:
        console.session(request)
        form = await require_csrf(request)
        try:
            await aws.call("workspaces", "modify_workspace_access_properties", ResourceId=directory_id,
                           WorkspaceAccessProperties=access_params(form))
        except ApiError as exc:
            return await directory_page(request, directory_id, 400, error=exc)
        return RedirectResponse(f"/workspaces/directories/{directory_id}?saved=1", status_code=303)

    @r.get("/workspaces/", response_class=HTMLResponse)
    async def listing(request: Request) -> Response:
        console.session(request)
        items = await workspaces()
        return render(request, "console/ws_list.html", nav="ws", workspaces=items,
                      settled=all(w.get("State") in SETTLED_WORKSPACES for w in items))

    @r.get("/workspaces/rows", response_class=HTMLResponse)
    async def rows(request: Request) -> Response:
        console.session(request)
        items = await workspaces()
        return render(request, "console/ws_rows.html", workspaces=items,
                      settled=all(w.get("State") in SETTLED_WORKSPACES for w in items))

    async def launch_page(request: Request, form: dict[str, Any], status: int = 200, error: Any = None) -> Response:
        dirs = [d for d in (await registered()).values() if d.get("State") == "REGISTERED"]
        bundles = await aws.all_pages("workspaces", "describe_workspace_bundles", "Bundles", Owner="AMAZON")
        return render(request, "console/ws_launch.html", status, nav="ws", directories=dirs, bundles=bundles,
                      form=form, error=error)

    @r.get("/workspaces/launch", response_class=HTMLResponse)
    async def launch_form(request: Request) -> Response:
        console.session(request)
        return await launch_page(request, {"directory": request.query_params.get("directory", "")})

    @r.post("/workspaces/launch", response_class=HTMLResponse)
    async def launch(request: Request) -> Response:
        console.session(request)
        form = await require_csrf(request)
        request_ = forms.without_empty({"DirectoryId": forms.text(form, "directory"),
                                        "UserName": forms.text(form, "user"), "BundleId": forms.text(form, "bundle")})
        try:
            result = await aws.call("workspaces", "create_workspaces", Workspaces=[request_])
        except ApiError as exc:
            return await launch_page(request, form, 400, exc)
        failed = result.get("FailedRequests") or []
        if failed:
            f = failed[0]
            return await launch_page(request, form, 400, ApiError(f.get("ErrorCode") or "Failed",
                                                                  f.get("ErrorMessage") or ""))
        return RedirectResponse("/workspaces/", status_code=303)

    return r
