"""The case registry's models (DOMAIN.md §2, DESIGN.md §4), split by subject:

- ``case``: Case, Party, CaseEvent, Deadline, CaseCounter and the enums with their Chinese labels;
- ``handling``: department assignments (dispatch and summons), answer documents and their service records,
  mediation sessions, extensions and 督办 records;
- ``aftercare``: evaluations, follow-up visits, 复查/复核 reviews and attachments;
- ``search``: searches typed into the case list, kept server-side under a random id.
"""

from center.cases.models.aftercare import *  # noqa: F403
from center.cases.models.case import *  # noqa: F403
from center.cases.models.case import ID_TYPE_LABELS, IdType  # noqa: F401
from center.cases.models.handling import *  # noqa: F403
from center.cases.models.search import *  # noqa: F403
