"""Error pages: every error a user can meet has a Chinese page (or JSON body under /api/)."""

from __future__ import annotations

from core.errors import DomainError, PermissionDenied

HTTP_MESSAGES = {
    400: "请求格式无效",
    401: "请先登录或提供有效的访问令牌",
    403: "您没有执行此操作的权限",
    404: "未找到该页面或对象",
    405: "不支持该请求方式",
    413: "上传的内容过大",
    422: "提交的内容有误",
    429: "操作过于频繁，请稍后再试",
    500: "系统内部错误，请稍后重试；如持续出现请联系管理员",
}


#: Error codes of the JSON envelope under /api/ by HTTP status (a 422 without field errors is a refused transition).
API_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
             405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
             422: "validation_failed", 429: "too_many_requests", 500: "server_error"}


def api_error(status: int, message: str | None = None, fields: dict | None = None, code: str | None = None):
    """The one error body of the JSON API: {"error": {"code", "message" (中文), "fields": {field: [中文]}}}."""
    from flask import jsonify

    if code is None:
        code = "invalid_transition" if status == 422 and not fields else API_CODES.get(status, "error")
    response = jsonify({"error": {"code": code, "message": message or HTTP_MESSAGES.get(status, "请求无法处理"),
                                  "fields": fields or {}}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def init_app(app):
    from flask import render_template, request
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    from core.db import db

    def respond(code: int, message: str, errors: dict | None = None):
        if is_api_path(request.path):
            return api_error(code, message, errors)
        try:
            return render_template("core/error.html", code=code, message=message, errors=errors or {}), code
        except Exception:  # noqa: BLE001 - the layout itself failed (e.g. no session): plain text
            return f"{code} {message}", code, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        db.session.rollback()
        if isinstance(exc, PermissionDenied):
            from core.audit.operations import record_security_event
            from core.web import current_actor

            record_security_event(current_actor(), "permission.denied", result="denied",
                                  object_type="action", object_id=exc.action)
        response = app.make_response(respond(exc.status, exc.message, getattr(exc, "errors", None)))
        if getattr(exc, "retry_after", None):  # a rate limit (core.ratelimit): when to come back
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        db.session.rollback()
        return respond(400, "页面已过期或来源无效（CSRF 校验失败），请刷新页面后重新提交")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        db.session.rollback()
        response = app.make_response(respond(exc.code or 500, HTTP_MESSAGES.get(exc.code, "请求无法处理")))
        # werkzeug's own headers of the error (a 405's Allow, a 416's Content-Range …) survive our body.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        import logging

        db.session.rollback()
        logging.getLogger("core.errors").exception("unhandled error on %s", request.path)
        if app.config.get("TESTING") and app.config.get("PROPAGATE_TEST_ERRORS", False):
            raise exc
        return respond(500, HTTP_MESSAGES[500])
