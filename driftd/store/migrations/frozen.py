"""Column types the migrations share, frozen like the migrations themselves.

A migration must create the same schema forever, so these never change: a new
type for a later revision is a new name here.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
