"""The PostgreSQL dispatch table: every kind driftd collects, and how it is reverted.

A kind without a safe revert still has its entry (one that says why a person
must act): tests/test_revert.py fails when a kind of driftd.kinds has none.
"""

from __future__ import annotations

from driftd.revert.pg_catalog import (
    ACCESS_METHOD,
    CAST,
    FOREIGN_DATA_WRAPPER,
    OPERATOR,
    OPERATOR_CLASS,
    OPERATOR_FAMILY,
    TABLESPACE,
    TEXT_SEARCH_CONFIG,
    TEXT_SEARCH_DICTIONARY,
)
from driftd.revert.pg_objects import (
    COLLATION,
    DATABASE,
    EVENT_TRIGGER,
    EXTENSION,
    FOREIGN_SERVER,
    FUNCTION,
    PUBLICATION,
    ROLE,
    SCHEMA,
    SETTING,
    STATISTICS,
    SUBSCRIPTION,
    TYPE,
    USER_MAPPING,
)
from driftd.revert.pg_relations import SEQUENCE, TABLE, VIEW
from driftd.revert.postgres import KindRevert

HANDLERS: dict[str, KindRevert] = {
    "database": DATABASE,
    "schema": SCHEMA,
    "table": TABLE,
    "view": VIEW,
    "materialized_view": VIEW,
    "sequence": SEQUENCE,
    "function": FUNCTION,
    "type": TYPE,
    "collation": COLLATION,
    "statistics": STATISTICS,
    "access_method": ACCESS_METHOD,
    "cast": CAST,
    "operator": OPERATOR,
    "operator_class": OPERATOR_CLASS,
    "operator_family": OPERATOR_FAMILY,
    "text_search_config": TEXT_SEARCH_CONFIG,
    "text_search_dictionary": TEXT_SEARCH_DICTIONARY,
    "event_trigger": EVENT_TRIGGER,
    "extension": EXTENSION,
    "role": ROLE,
    "setting": SETTING,
    "tablespace": TABLESPACE,
    "publication": PUBLICATION,
    "subscription": SUBSCRIPTION,
    "foreign_data_wrapper": FOREIGN_DATA_WRAPPER,
    "foreign_server": FOREIGN_SERVER,
    "user_mapping": USER_MAPPING,
}
