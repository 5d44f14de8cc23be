"""The browser setup itself: Chromium opens a page the lab serves (the lab's static files)."""
import threading

import uvicorn
from fastapi import FastAPI

from services.common import web


def test_chromium_renders_a_page_with_the_labs_static_files(page, shot, tmp_path):
    app = FastAPI()
    web.mount_static(app)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        response = page.goto(f"http://127.0.0.1:{port}{web.STATIC_URL}/lab.css")
        assert response is not None and response.ok
        assert "system-ui" in page.content()
        assert shot(page, "static-css").exists()
    finally:
        server.should_exit = True
        thread.join(10)
