"""Permissions (can/require), jurisdiction scoping and the route registry."""

from core.auth.permissions import can, has_permission, require  # noqa: F401
