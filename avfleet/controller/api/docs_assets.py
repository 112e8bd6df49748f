"""/docs from Swagger UI vendored into the package (static/swagger/), with no inline script.

FastAPI's own /docs loads Swagger UI from a CDN and starts it with an inline <script>; the first
breaks on a machine without internet, the second is refused by the Content-Security-Policy
(api/security.py). Here the page, the bundle, its CSS and a small start-up script are all served
from this origin. Vendored: swagger-ui-dist 5.35.0 from the npm registry (`npm pack swagger-ui-dist@5`),
swagger-ui-bundle.js and swagger-ui.css unchanged, with its LICENSE and NOTICE.
"""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

SWAGGER_VERSION = "5.35.0"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
PREFIX = "/docs/assets"

INIT_JS = """\
// Starts Swagger UI on this controller's own OpenAPI description (a file, so the CSP needs no inline script).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "%(openapi_url)s",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
"""

PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%(title)s - API</title>
<link rel="stylesheet" href="%(prefix)s/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="%(prefix)s/swagger-ui-bundle.js"></script>
<script src="%(prefix)s/swagger-init.js"></script>
</body>
</html>
"""

# A day: the file names carry no version, so an upgraded controller's new bundle is picked up next day.
CACHE = "public, max-age=86400"


@functools.cache
def _asset(name: str) -> bytes:
    return resources.files("avfleet.controller.api").joinpath("static", "swagger", name).read_bytes()


def install(app: FastAPI) -> None:
    """Serve /docs and its assets; create the app with `docs_url=None` so FastAPI's CDN page is gone."""
    from html import escape

    page = PAGE % {"title": escape(app.title), "prefix": PREFIX}
    init = (INIT_JS % {"openapi_url": app.openapi_url}).encode()

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(PREFIX + "/swagger-init.js", include_in_schema=False)
    def docs_init() -> Response:
        return Response(init, media_type="text/javascript; charset=utf-8", headers={"cache-control": CACHE})

    @app.get(PREFIX + "/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        if name not in ASSETS:  # a fixed list: no path from the request reaches the file system
            raise HTTPException(404, "not found")
        return Response(_asset(name), media_type=ASSETS[name], headers={"cache-control": CACHE})
