"""Directory → Directory Integrations: the Active Directory, its agents (registered, last seen),
and the Import tab (Import Now, full or incremental; the jobs and their results)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from . import error_of
from .client import ApiError, OrgApi

if TYPE_CHECKING:
    from . import Console


async def _directories(api: OrgApi) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The directories and each one's import jobs, newest first."""
    dirs = await api.get("/api/v1/directories")
    return dirs, {d["id"]: list(reversed(await api.get(f"/api/v1/directories/{d['id']}/imports"))) for d in dirs}


def router(console: Console) -> APIRouter:
    r = APIRouter()

    async def page(request: Request, error: dict[str, Any] | None = None, status_code: int = 200) -> Response:
        dirs, jobs = await _directories(console.api(request))
        return console.render(request, "admin/directories.html", section="directories",
                              title="Directory Integrations", dirs=dirs, jobs=jobs, error=error,
                              status_code=status_code)

    @r.get("/admin/directories")
    async def directories(request: Request) -> Response:
        return await page(request)

    @r.get("/admin/directories/jobs")
    async def jobs_fragment(request: Request) -> Response:
        """The import jobs table alone: htmx refreshes it while a job runs."""
        dirs, jobs = await _directories(console.api(request))
        return console.render(request, "admin/import_jobs.html", section="directories", dirs=dirs, jobs=jobs)

    @r.post("/admin/directories/{dir_id}/import")
    async def import_now(request: Request, dir_id: str) -> Response:
        form = await console.form(request)
        full = form.get("mode") != "incremental"
        try:
            job = await console.api(request).post(f"/api/v1/directories/{dir_id}/import", {"full": full})
        except ApiError as exc:
            return await page(request, error_of(exc), exc.status)
        console.flash(request, f"{'Full' if full else 'Incremental'} import requested ({job['status']}): "
                               "the AD agent picks it up at its next poll.")
        return RedirectResponse("/admin/directories#import", status_code=303)

    return r
