"""/docs without a CDN: Swagger UI's files from the pinned flask-swagger-ui package.

flask-smorest renders /docs from its own template and loads `swagger-ui-bundle.js`,
`swagger-ui-standalone-preset.js` and `swagger-ui.css` from OPENAPI_SWAGGER_UI_URL. That URL is
this blueprint's static path, served from the package's `dist/` (Swagger UI, the version the
package is named after), so the page works offline and where the CDNs are unreachable. Only the
dist files are used, not the package's own blueprint. Upgrading is a new pin in requirements.txt.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Flask

SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
ASSETS_URL = "/docs/assets"  # OPENAPI_SWAGGER_UI_URL (app/config.py) is this, with a slash

blp = Blueprint(
    "swagger_ui_assets",
    __name__,
    static_folder=str(SWAGGER_UI_DIST),
    static_url_path=ASSETS_URL,
)


def init_api_docs(app: Flask) -> None:
    app.register_blueprint(blp)
