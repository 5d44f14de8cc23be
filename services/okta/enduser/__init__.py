"""The org's pages for end users (issue 12): sign-in (signin.py), the activation link
(activation.py), the dashboard and settings (home.py), over a browser session (sessions.py).
Templates: services/okta/templates/enduser/. Nothing but sign-in and activation is reachable
without a session."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from services.common.web import Pages

from ..org import Org
from . import activation, home, signin
from .sessions import Sessions

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def router(org: Org) -> APIRouter:
    pages = Pages(TEMPLATES, shared={"org_name": org.name})
    sessions = Sessions(org)
    flow_pages = signin.SignIn(org, pages, sessions)
    r = APIRouter()
    r.include_router(signin.router(pages, sessions, flow_pages))
    r.include_router(activation.router(org, pages, sessions, flow_pages))
    r.include_router(home.router(org, pages, sessions))
    return r
