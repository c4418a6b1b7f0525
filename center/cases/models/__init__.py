"""The case registry's models (DOMAIN.md §2, DESIGN.md §4), split by subject:

- ``case``: Case, Party, CaseEvent, Deadline, CaseCounter and the enums with their Chinese labels;
- ``handling``: answer documents and their service records, mediation sessions, extensions and 督办 records;
- ``aftercare``: evaluations, follow-up visits, 复查/复核 reviews and attachments;
- ``reach``: the scope table (who reaches a case, one indexed row per way in);
- ``search``: searches typed into the case list, kept server-side under a random id.

Department assignments (CaseAssignment, AssignmentStatus …) live in ``center.departments.models``; they are
re-exported here because ``center.cases.permissions`` (owned elsewhere) still imports them from this package.
"""

from center.cases.models.aftercare import *  # noqa: F403
from center.cases.models.case import *  # noqa: F403
from center.cases.models.case import ID_TYPE_LABELS, IdType  # noqa: F401
from center.cases.models.handling import *  # noqa: F403
from center.cases.models.reach import *  # noqa: F403
from center.cases.models.search import *  # noqa: F403
from center.departments.models import (  # noqa: F401 - re-exported, see above
    ASSIGNMENT_STATUS_LABELS,
    LIVE_ASSIGNMENT,
    AssignmentStatus,
    CaseAssignment,
)
