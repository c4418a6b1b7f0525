"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from core.app import create_app

# Behind a reverse proxy set MEDIATION_PROXY_COUNT (core.config): only then is X-Forwarded-For believed.
app = create_app()
