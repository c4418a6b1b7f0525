"""Security headers on every response. No inline script anywhere, so the CSP can forbid it."""

from __future__ import annotations

from flask import request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def init_app(app):
    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.endpoint == "static" or (request.endpoint or "").endswith(".static"):
            response.headers["Cache-Control"] = "public, max-age=86400"
        else:
            # Pages and API answers carry personal data: never kept by a browser or proxy.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response
