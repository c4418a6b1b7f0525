"""Imports every kernel model so Alembic and create_all see the whole kernel schema."""

from core.accounts.factor_models import RecoveryCode, UserFactor  # noqa: F401
from core.accounts.models import LoginThrottle, Membership, SecurityPolicy, User, WebSession  # noqa: F401
from core.audit.chain_models import (  # noqa: F401
    AuditCheckpoint,
    AuditRetentionLock,
    AuditSeal,
    AuditVerification,
)
from core.audit.models import AuditEntry  # noqa: F401
from core.calendar.models import CalendarDay, CalendarYear  # noqa: F401
from core.jobs_models import JobRun  # noqa: F401
from core.link_models import ActionLink  # noqa: F401
from core.org.models import Department, OrgUnit  # noqa: F401
from core.ratelimit import RateCounter  # noqa: F401
