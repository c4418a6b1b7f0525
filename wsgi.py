"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from werkzeug.middleware.proxy_fix import ProxyFix

from core.app import create_app

app = create_app()
# One trusted reverse proxy (the government gateway) sets X-Forwarded-For / -Proto.
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
