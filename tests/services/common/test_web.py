"""services.common.web: templates escape what users type, forms need their CSRF token."""
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from services.common import web


def make_app(tmp_path):
    (tmp_path / "hello.html").write_text(
        '{% extends "lab_base.html" %}{% from "lab_macros.html" import csrf with context %}'
        '{% block content %}<p>{{ name }}</p><form method="post">{{ csrf() }}</form>{% endblock %}')
    pages = web.Pages(tmp_path)
    app = FastAPI()
    web.mount_static(app)

    @app.get("/hello")
    async def hello(request: Request, name: str = ""):
        return pages.render(request, "hello.html", name=name)

    @app.post("/hello")
    async def post(request: Request):
        form = await web.require_csrf(request)
        return {"posted": form.get("x")}

    return app


def test_user_text_is_escaped_and_static_files_are_served(tmp_path):
    client = TestClient(make_app(tmp_path))
    page = client.get("/hello", params={"name": "<script>alert(1)</script>"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)</script>" not in page.text
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get(f"{web.STATIC_URL}/htmx.min.js").status_code == 200
    assert client.get(f"{web.STATIC_URL}/lab.css").status_code == 200


def test_a_post_needs_the_token_of_its_cookie(tmp_path):
    client = TestClient(make_app(tmp_path))
    page = client.get("/hello")
    token = client.cookies[web.CSRF_COOKIE]
    assert f'value="{token}"' in page.text
    assert client.post("/hello", data={"x": "1"}).status_code == 403
    assert client.post("/hello", data={"x": "1", "csrf_token": "forged" * 7}).status_code == 403
    assert client.post("/hello", data={"x": "1", "csrf_token": token}).json() == {"posted": "1"}
    assert client.post("/hello", data={"x": "2"}, headers={web.CSRF_HEADER: token}).json() == {"posted": "2"}
