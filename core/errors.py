"""Domain errors. Views never build these responses themselves: the handlers in core/app.py do."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    default_message = "请求无法处理"

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class NotFound(DomainError):
    """Missing or outside the actor's jurisdiction: the two look the same on purpose."""

    status = 404
    default_message = "未找到该对象"


def as_id(value) -> int:
    """A URL or form id as a database id; anything else (text, 0, beyond 64 bits) is simply not found."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < number < 2**31:  # ids are 32-bit integers on PostgreSQL
        raise NotFound()
    return number


class PermissionDenied(DomainError):
    """The actor can see the object but may not perform this action on it."""

    status = 403
    default_message = "您没有执行此操作的权限"

    def __init__(self, message: str | None = None, *, action: str | None = None):
        super().__init__(message)
        self.action = action


class ValidationFailed(DomainError):
    """Bad input. ``errors`` maps field name → list of Chinese messages."""

    status = 422
    default_message = "提交的内容有误，请按提示修改"

    def __init__(self, errors: dict[str, list[str]] | None = None, message: str | None = None):
        super().__init__(message)
        self.errors = errors or {}


class InvalidTransition(DomainError):
    status = 422
    default_message = "当前状态下不能执行此操作"

