"""Error pages: every error a user can meet has a Chinese page (or JSON body under /api/)."""

from __future__ import annotations

from core.errors import DomainError, PermissionDenied

HTTP_MESSAGES = {
    400: "请求格式无效",
    401: "请先登录",
    403: "您没有执行此操作的权限",
    404: "未找到该页面或对象",
    405: "不支持该请求方式",
    413: "上传的内容过大",
    422: "提交的内容有误",
    429: "操作过于频繁，请稍后再试",
    500: "系统内部错误，请稍后重试；如持续出现请联系管理员",
}


def init_app(app):
    from flask import jsonify, render_template, request
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    from core.db import db

    def respond(code: int, message: str, errors: dict | None = None):
        if request.path.startswith("/api/"):
            body = {"error": code, "message": message}
            if errors:
                body["errors"] = errors
            return jsonify(body), code
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
        return respond(exc.status, exc.message, getattr(exc, "errors", None))

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        db.session.rollback()
        return respond(400, "页面已过期或来源无效（CSRF 校验失败），请刷新页面后重新提交")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        db.session.rollback()
        return respond(exc.code or 500, HTTP_MESSAGES.get(exc.code, "请求无法处理"))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        import logging

        db.session.rollback()
        logging.getLogger("core.errors").exception("unhandled error on %s", request.path)
        if app.config.get("TESTING") and app.config.get("PROPAGATE_TEST_ERRORS", False):
            raise exc
        return respond(500, HTTP_MESSAGES[500])
