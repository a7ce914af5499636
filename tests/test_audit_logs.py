"""Server log sources: stderr/csvlog/jsonlog, log_line_prefix, incremental reads, rotation,
and every form of pgaudit line.

The log text below was written by a real server: PostgreSQL 15.20 (Debian
15.20-0+deb12u1) with pgaudit 1.7.0 (postgresql-15-pgaudit 1.7.0-2), started
by tests/test_pgaudit_cluster.py's fixture (``pgaudit.log = 'ddl, role'``,
``log_line_prefix = '%m [%p] %q%u@%d '``, the logging collector writing
stderr, csvlog and jsonlog), ``CREATE EXTENSION pgaudit`` in ``app``. Workload:
``alice`` creates ``shop.invoices`` (primary key, two lines of text) and adds a
column; ``bob`` grants to PUBLIC, alters role ``carol`` with a password,
tries ``CREATE EXTENSION no_such_ext`` (logged by pgaudit *before* it runs,
then refused) and an ALTER TABLE he may not make (refused before pgaudit logs
it); ``alice`` creates and drops ``shop.scratch``. Copied unchanged, one
block per server configuration.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftd.attribute.sources import source
from driftd.attribute.sources.base import PollResult
from driftd.attribute.sources.pgaudit import (
    AuditLine,
    audit_extract,
    audit_statement,
    identifiers,
    object_statement,
    parse_line,
)
from driftd.attribute.sources.pglog import (
    DEBIAN_PREFIX,
    EventBuilder,
    LineParser,
    LogRecord,
    parse_log_time,
)
from driftd.attribute.sources.state import JsonFileAuditState, MemoryAuditState
from driftd.attribute.sources.tail import csv_splitter
from driftd.attribute.sqlrefs import Ref
from driftd.config import Config
from driftd.config.load import parse

T0 = datetime(2026, 12, 5, 11, 45, 2, 567000, tzinfo=UTC)  # alice's ALTER TABLE
SINCE, UNTIL = T0 - timedelta(hours=1), T0 + timedelta(hours=1)

# -- real server output ------------------------------------------------------------

# Default settings, stderr.
STDERR = """\
2026-12-05 11:45:02.554 UTC [22288] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.invoices,"CREATE TABLE shop.invoices (id bigint PRIMARY KEY,
\t  total numeric)",<not logged>
2026-12-05 11:45:02.554 UTC [22288] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.invoices_pkey,"CREATE TABLE shop.invoices (id bigint PRIMARY KEY,
\t  total numeric)",<not logged>
2026-12-05 11:45:02.567 UTC [22288] alice@app LOG:  AUDIT: SESSION,2,1,DDL,ALTER TABLE,TABLE,shop.orders,ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'call 555-0100',<not logged>
2026-12-05 11:45:02.584 UTC [22289] bob@app LOG:  AUDIT: SESSION,1,1,ROLE,GRANT,TABLE,,GRANT SELECT ON shop.customers TO PUBLIC,<not logged>
2026-12-05 11:45:02.611 UTC [22289] bob@app LOG:  AUDIT: SESSION,2,1,ROLE,ALTER ROLE,,,ALTER ROLE carol CONNECTION LIMIT 3 PASSWORD <REDACTED>,<not logged>
2026-12-05 11:45:02.612 UTC [22289] bob@app LOG:  AUDIT: SESSION,3,1,DDL,CREATE EXTENSION,,,CREATE EXTENSION no_such_ext,<not logged>
2026-12-05 11:45:02.612 UTC [22289] bob@app ERROR:  extension "no_such_ext" is not available
2026-12-05 11:45:02.612 UTC [22289] bob@app DETAIL:  Could not open extension control file "/usr/share/postgresql/15/extension/no_such_ext.control": No such file or directory.
2026-12-05 11:45:02.612 UTC [22289] bob@app HINT:  The extension must first be installed on the system where PostgreSQL is running.
2026-12-05 11:45:02.612 UTC [22289] bob@app STATEMENT:  CREATE EXTENSION no_such_ext
2026-12-05 11:45:02.613 UTC [22289] bob@app ERROR:  must be owner of table orders
2026-12-05 11:45:02.613 UTC [22289] bob@app STATEMENT:  ALTER TABLE shop.orders ADD COLUMN bob_was_here int
"""  # noqa: E501

# Default settings, stderr, later in the same run: alice's second session, and a
# database without CREATE EXTENSION pgaudit (no event triggers: the object fields
# stay empty and CREATE TABLE gives no CREATE INDEX line).
STDERR_LATER = """\
2026-12-05 11:45:02.636 UTC [22290] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.scratch,CREATE TABLE shop.scratch (id int PRIMARY KEY),<not logged>
2026-12-05 11:45:02.636 UTC [22290] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.scratch_pkey,CREATE TABLE shop.scratch (id int PRIMARY KEY),<not logged>
2026-12-05 11:45:02.638 UTC [22290] alice@app LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE,shop.scratch,DROP TABLE shop.scratch,<not logged>
2026-12-05 11:45:02.638 UTC [22290] alice@app LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE CONSTRAINT,scratch_pkey on shop.scratch,DROP TABLE shop.scratch,<not logged>
2026-12-05 11:45:02.638 UTC [22290] alice@app LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,INDEX,shop.scratch_pkey,DROP TABLE shop.scratch,<not logged>
2026-12-05 11:45:02.908 UTC [22291] postgres@postgres LOG:  AUDIT: SESSION,1,1,DDL,CREATE DATABASE,,,CREATE DATABASE plain OWNER alice,<not logged>
2026-12-05 11:45:02.940 UTC [22292] alice@plain LOG:  AUDIT: SESSION,1,1,DDL,CREATE TABLE,,,CREATE TABLE t (id int PRIMARY KEY),<not logged>
2026-12-05 11:45:02.943 UTC [22292] alice@plain LOG:  AUDIT: SESSION,2,1,ROLE,GRANT,,,GRANT SELECT ON t TO PUBLIC,<not logged>
"""  # noqa: E501

# log_error_verbosity = verbose, stderr: the SQLSTATE before the message, LOCATION lines.
STDERR_VERBOSE = """\
2026-12-05 11:45:06.941 UTC [22396] alice@app LOG:  00000: AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.invoices,"CREATE TABLE shop.invoices (id bigint PRIMARY KEY,
\t  total numeric)",<not logged>
2026-12-05 11:45:06.941 UTC [22396] alice@app LOCATION:  log_audit_event, pgaudit.c:783
2026-12-05 11:45:06.941 UTC [22396] alice@app LOG:  00000: AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.invoices_pkey,"CREATE TABLE shop.invoices (id bigint PRIMARY KEY,
\t  total numeric)",<not logged>
2026-12-05 11:45:06.941 UTC [22396] alice@app LOCATION:  log_audit_event, pgaudit.c:783
2026-12-05 11:45:06.946 UTC [22396] alice@app LOG:  00000: AUDIT: SESSION,2,1,DDL,ALTER TABLE,TABLE,shop.orders,ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'call 555-0100',<not logged>
2026-12-05 11:45:06.946 UTC [22396] alice@app LOCATION:  log_audit_event, pgaudit.c:783
2026-12-05 11:45:06.952 UTC [22397] bob@app LOG:  00000: AUDIT: SESSION,1,1,ROLE,GRANT,TABLE,,GRANT SELECT ON shop.customers TO PUBLIC,<not logged>
2026-12-05 11:45:06.952 UTC [22397] bob@app LOCATION:  log_audit_event, pgaudit.c:783
2026-12-05 11:45:06.966 UTC [22397] bob@app LOG:  00000: AUDIT: SESSION,2,1,ROLE,ALTER ROLE,,,ALTER ROLE carol CONNECTION LIMIT 3 PASSWORD <REDACTED>,<not logged>
2026-12-05 11:45:06.966 UTC [22397] bob@app LOCATION:  log_audit_event, pgaudit.c:783
2026-12-05 11:45:06.966 UTC [22397] bob@app LOG:  00000: AUDIT: SESSION,3,1,DDL,CREATE EXTENSION,,,CREATE EXTENSION no_such_ext,<not logged>
2026-12-05 11:45:06.966 UTC [22397] bob@app LOCATION:  log_audit_event, pgaudit.c:783
2026-12-05 11:45:06.967 UTC [22397] bob@app ERROR:  0A000: extension "no_such_ext" is not available
2026-12-05 11:45:06.967 UTC [22397] bob@app DETAIL:  Could not open extension control file "/usr/share/postgresql/15/extension/no_such_ext.control": No such file or directory.
2026-12-05 11:45:06.967 UTC [22397] bob@app HINT:  The extension must first be installed on the system where PostgreSQL is running.
2026-12-05 11:45:06.967 UTC [22397] bob@app LOCATION:  parse_extension_control_file, extension.c:671
2026-12-05 11:45:06.967 UTC [22397] bob@app STATEMENT:  CREATE EXTENSION no_such_ext
2026-12-05 11:45:06.967 UTC [22397] bob@app ERROR:  42501: must be owner of table orders
2026-12-05 11:45:06.967 UTC [22397] bob@app LOCATION:  aclcheck_error, aclchk.c:3793
2026-12-05 11:45:06.967 UTC [22397] bob@app STATEMENT:  ALTER TABLE shop.orders ADD COLUMN bob_was_here int
"""  # noqa: E501

# pgaudit.log_statement_once = on: alice creates and drops shop.scratch.
STDERR_ONCE = """\
2026-12-05 11:45:12.033 UTC [22661] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.scratch,CREATE TABLE shop.scratch (id int PRIMARY KEY),<not logged>
2026-12-05 11:45:12.033 UTC [22661] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.scratch_pkey,<previously logged>,<previously logged>
2026-12-05 11:45:12.040 UTC [22661] alice@app LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE,shop.scratch,DROP TABLE shop.scratch,<not logged>
2026-12-05 11:45:12.040 UTC [22661] alice@app LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE CONSTRAINT,scratch_pkey on shop.scratch,<previously logged>,<previously logged>
2026-12-05 11:45:12.040 UTC [22661] alice@app LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,INDEX,shop.scratch_pkey,<previously logged>,<previously logged>
"""  # noqa: E501

# pgaudit.log_statement = off.
STDERR_OFF = """\
2026-12-05 11:45:16.602 UTC [22779] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.invoices,<not logged>,<not logged>
2026-12-05 11:45:16.602 UTC [22779] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.invoices_pkey,<not logged>,<not logged>
2026-12-05 11:45:16.606 UTC [22779] alice@app LOG:  AUDIT: SESSION,2,1,DDL,ALTER TABLE,TABLE,shop.orders,<not logged>,<not logged>
2026-12-05 11:45:16.616 UTC [22780] bob@app LOG:  AUDIT: SESSION,1,1,ROLE,GRANT,TABLE,,<not logged>,<not logged>
2026-12-05 11:45:16.632 UTC [22780] bob@app LOG:  AUDIT: SESSION,2,1,ROLE,ALTER ROLE,,,<not logged>,<not logged>
2026-12-05 11:45:16.633 UTC [22780] bob@app LOG:  AUDIT: SESSION,3,1,DDL,CREATE EXTENSION,,,<not logged>,<not logged>
2026-12-05 11:45:16.633 UTC [22780] bob@app ERROR:  extension "no_such_ext" is not available
2026-12-05 11:45:16.633 UTC [22780] bob@app DETAIL:  Could not open extension control file "/usr/share/postgresql/15/extension/no_such_ext.control": No such file or directory.
2026-12-05 11:45:16.633 UTC [22780] bob@app HINT:  The extension must first be installed on the system where PostgreSQL is running.
2026-12-05 11:45:16.633 UTC [22780] bob@app STATEMENT:  CREATE EXTENSION no_such_ext
2026-12-05 11:45:16.635 UTC [22780] bob@app ERROR:  must be owner of table orders
2026-12-05 11:45:16.635 UTC [22780] bob@app STATEMENT:  ALTER TABLE shop.orders ADD COLUMN bob_was_here int
2026-12-05 11:45:16.650 UTC [22781] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.scratch,<not logged>,<not logged>
2026-12-05 11:45:16.651 UTC [22781] alice@app LOG:  AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.scratch_pkey,<not logged>,<not logged>
2026-12-05 11:45:16.653 UTC [22781] alice@app LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE,shop.scratch,<not logged>,<not logged>
2026-12-05 11:45:16.653 UTC [22781] alice@app LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE CONSTRAINT,scratch_pkey on shop.scratch,<not logged>,<not logged>
2026-12-05 11:45:16.653 UTC [22781] alice@app LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,INDEX,shop.scratch_pkey,<not logged>,<not logged>
"""  # noqa: E501

# Default settings, csvlog (the same run as STDERR).
CSVLOG = """\
2026-12-05 11:45:02.554 UTC,"alice","app",22288,"127.0.0.1:47674",6b13f93e.5710,1,"CREATE TABLE",2026-12-05 11:45:02 UTC,3/17,735,LOG,00000,"AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.invoices,""CREATE TABLE shop.invoices (id bigint PRIMARY KEY,
  total numeric)"",<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.554 UTC,"alice","app",22288,"127.0.0.1:47674",6b13f93e.5710,2,"CREATE TABLE",2026-12-05 11:45:02 UTC,3/17,735,LOG,00000,"AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.invoices_pkey,""CREATE TABLE shop.invoices (id bigint PRIMARY KEY,
  total numeric)"",<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.567 UTC,"alice","app",22288,"127.0.0.1:47674",6b13f93e.5710,3,"ALTER TABLE",2026-12-05 11:45:02 UTC,3/18,736,LOG,00000,"AUDIT: SESSION,2,1,DDL,ALTER TABLE,TABLE,shop.orders,ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'call 555-0100',<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.584 UTC,"bob","app",22289,"127.0.0.1:47688",6b13f93e.5711,1,"GRANT",2026-12-05 11:45:02 UTC,3/20,737,LOG,00000,"AUDIT: SESSION,1,1,ROLE,GRANT,TABLE,,GRANT SELECT ON shop.customers TO PUBLIC,<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.611 UTC,"bob","app",22289,"127.0.0.1:47688",6b13f93e.5711,2,"ALTER ROLE",2026-12-05 11:45:02 UTC,3/21,738,LOG,00000,"AUDIT: SESSION,2,1,ROLE,ALTER ROLE,,,ALTER ROLE carol CONNECTION LIMIT 3 PASSWORD <REDACTED>,<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.612 UTC,"bob","app",22289,"127.0.0.1:47688",6b13f93e.5711,3,"CREATE EXTENSION",2026-12-05 11:45:02 UTC,3/22,0,LOG,00000,"AUDIT: SESSION,3,1,DDL,CREATE EXTENSION,,,CREATE EXTENSION no_such_ext,<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.612 UTC,"bob","app",22289,"127.0.0.1:47688",6b13f93e.5711,4,"CREATE EXTENSION",2026-12-05 11:45:02 UTC,3/22,0,ERROR,0A000,"extension ""no_such_ext"" is not available","Could not open extension control file ""/usr/share/postgresql/15/extension/no_such_ext.control"": No such file or directory.","The extension must first be installed on the system where PostgreSQL is running.",,,,"CREATE EXTENSION no_such_ext",,,"","client backend",,0
2026-12-05 11:45:02.613 UTC,"bob","app",22289,"127.0.0.1:47688",6b13f93e.5711,5,"ALTER TABLE",2026-12-05 11:45:02 UTC,3/23,0,ERROR,42501,"must be owner of table orders",,,,,,"ALTER TABLE shop.orders ADD COLUMN bob_was_here int",,,"","client backend",,0
2026-12-05 11:45:02.636 UTC,"alice","app",22290,"127.0.0.1:47704",6b13f93e.5712,1,"CREATE TABLE",2026-12-05 11:45:02 UTC,3/25,739,LOG,00000,"AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.scratch,CREATE TABLE shop.scratch (id int PRIMARY KEY),<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.636 UTC,"alice","app",22290,"127.0.0.1:47704",6b13f93e.5712,2,"CREATE TABLE",2026-12-05 11:45:02 UTC,3/25,739,LOG,00000,"AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.scratch_pkey,CREATE TABLE shop.scratch (id int PRIMARY KEY),<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.638 UTC,"alice","app",22290,"127.0.0.1:47704",6b13f93e.5712,3,"DROP TABLE",2026-12-05 11:45:02 UTC,3/26,740,LOG,00000,"AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE,shop.scratch,DROP TABLE shop.scratch,<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.638 UTC,"alice","app",22290,"127.0.0.1:47704",6b13f93e.5712,4,"DROP TABLE",2026-12-05 11:45:02 UTC,3/26,740,LOG,00000,"AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE CONSTRAINT,scratch_pkey on shop.scratch,DROP TABLE shop.scratch,<not logged>",,,,,,,,,"","client backend",,0
2026-12-05 11:45:02.638 UTC,"alice","app",22290,"127.0.0.1:47704",6b13f93e.5712,5,"DROP TABLE",2026-12-05 11:45:02 UTC,3/26,740,LOG,00000,"AUDIT: SESSION,2,1,DDL,DROP TABLE,INDEX,shop.scratch_pkey,DROP TABLE shop.scratch,<not logged>",,,,,,,,,"","client backend",,0
"""  # noqa: E501

# Default settings, jsonlog (the same run as STDERR): no state_code when it is 00000.
JSONLOG = """\
{"timestamp":"2026-12-05 11:45:02.554 UTC","user":"alice","dbname":"app","pid":22288,"remote_host":"127.0.0.1","remote_port":47674,"session_id":"6b13f93e.5710","line_num":1,"ps":"CREATE TABLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/17","txid":735,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.invoices,\\"CREATE TABLE shop.invoices (id bigint PRIMARY KEY,\\n  total numeric)\\",<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.554 UTC","user":"alice","dbname":"app","pid":22288,"remote_host":"127.0.0.1","remote_port":47674,"session_id":"6b13f93e.5710","line_num":2,"ps":"CREATE TABLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/17","txid":735,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.invoices_pkey,\\"CREATE TABLE shop.invoices (id bigint PRIMARY KEY,\\n  total numeric)\\",<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.567 UTC","user":"alice","dbname":"app","pid":22288,"remote_host":"127.0.0.1","remote_port":47674,"session_id":"6b13f93e.5710","line_num":3,"ps":"ALTER TABLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/18","txid":736,"error_severity":"LOG","message":"AUDIT: SESSION,2,1,DDL,ALTER TABLE,TABLE,shop.orders,ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'call 555-0100',<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.584 UTC","user":"bob","dbname":"app","pid":22289,"remote_host":"127.0.0.1","remote_port":47688,"session_id":"6b13f93e.5711","line_num":1,"ps":"GRANT","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/20","txid":737,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,ROLE,GRANT,TABLE,,GRANT SELECT ON shop.customers TO PUBLIC,<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.611 UTC","user":"bob","dbname":"app","pid":22289,"remote_host":"127.0.0.1","remote_port":47688,"session_id":"6b13f93e.5711","line_num":2,"ps":"ALTER ROLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/21","txid":738,"error_severity":"LOG","message":"AUDIT: SESSION,2,1,ROLE,ALTER ROLE,,,ALTER ROLE carol CONNECTION LIMIT 3 PASSWORD <REDACTED>,<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.612 UTC","user":"bob","dbname":"app","pid":22289,"remote_host":"127.0.0.1","remote_port":47688,"session_id":"6b13f93e.5711","line_num":3,"ps":"CREATE EXTENSION","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/22","txid":0,"error_severity":"LOG","message":"AUDIT: SESSION,3,1,DDL,CREATE EXTENSION,,,CREATE EXTENSION no_such_ext,<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.612 UTC","user":"bob","dbname":"app","pid":22289,"remote_host":"127.0.0.1","remote_port":47688,"session_id":"6b13f93e.5711","line_num":4,"ps":"CREATE EXTENSION","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/22","txid":0,"error_severity":"ERROR","state_code":"0A000","message":"extension \\"no_such_ext\\" is not available","detail":"Could not open extension control file \\"/usr/share/postgresql/15/extension/no_such_ext.control\\": No such file or directory.","hint":"The extension must first be installed on the system where PostgreSQL is running.","statement":"CREATE EXTENSION no_such_ext","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.613 UTC","user":"bob","dbname":"app","pid":22289,"remote_host":"127.0.0.1","remote_port":47688,"session_id":"6b13f93e.5711","line_num":5,"ps":"ALTER TABLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/23","txid":0,"error_severity":"ERROR","state_code":"42501","message":"must be owner of table orders","statement":"ALTER TABLE shop.orders ADD COLUMN bob_was_here int","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.636 UTC","user":"alice","dbname":"app","pid":22290,"remote_host":"127.0.0.1","remote_port":47704,"session_id":"6b13f93e.5712","line_num":1,"ps":"CREATE TABLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/25","txid":739,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,shop.scratch,CREATE TABLE shop.scratch (id int PRIMARY KEY),<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.636 UTC","user":"alice","dbname":"app","pid":22290,"remote_host":"127.0.0.1","remote_port":47704,"session_id":"6b13f93e.5712","line_num":2,"ps":"CREATE TABLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/25","txid":739,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,DDL,CREATE INDEX,INDEX,shop.scratch_pkey,CREATE TABLE shop.scratch (id int PRIMARY KEY),<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.638 UTC","user":"alice","dbname":"app","pid":22290,"remote_host":"127.0.0.1","remote_port":47704,"session_id":"6b13f93e.5712","line_num":3,"ps":"DROP TABLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/26","txid":740,"error_severity":"LOG","message":"AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE,shop.scratch,DROP TABLE shop.scratch,<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.638 UTC","user":"alice","dbname":"app","pid":22290,"remote_host":"127.0.0.1","remote_port":47704,"session_id":"6b13f93e.5712","line_num":4,"ps":"DROP TABLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/26","txid":740,"error_severity":"LOG","message":"AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE CONSTRAINT,scratch_pkey on shop.scratch,DROP TABLE shop.scratch,<not logged>","backend_type":"client backend","query_id":0}
{"timestamp":"2026-12-05 11:45:02.638 UTC","user":"alice","dbname":"app","pid":22290,"remote_host":"127.0.0.1","remote_port":47704,"session_id":"6b13f93e.5712","line_num":5,"ps":"DROP TABLE","session_start":"2026-12-05 11:45:02 UTC","vxid":"3/26","txid":740,"error_severity":"LOG","message":"AUDIT: SESSION,2,1,DDL,DROP TABLE,INDEX,shop.scratch_pkey,DROP TABLE shop.scratch,<not logged>","backend_type":"client backend","query_id":0}
"""  # noqa: E501

# log_error_verbosity = verbose, jsonlog: func_name, file_name, file_line_num.
JSONLOG_VERBOSE = """\
{"timestamp":"2026-12-05 11:45:06.952 UTC","user":"bob","dbname":"app","pid":22397,"remote_host":"127.0.0.1","remote_port":52178,"session_id":"6b13f942.577d","line_num":1,"ps":"GRANT","session_start":"2026-12-05 11:45:06 UTC","vxid":"3/20","txid":737,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,ROLE,GRANT,TABLE,,GRANT SELECT ON shop.customers TO PUBLIC,<not logged>","func_name":"log_audit_event","file_name":"pgaudit.c","file_line_num":783,"backend_type":"client backend","query_id":0}
"""  # noqa: E501


# Not from the server: a line of another program in the same file.
FOREIGN_LINE = "some line from another program\n"


def _config(tmp_path: Path, body: str) -> Config:
    text = (
        '[environments.app]\nurl = "postgresql+psycopg://driftd@localhost/app"\n'
        'audit = ["src"]\n\n[audit.src]\n' + body
    )
    return parse(text, tmp_path / "driftd.toml")


def _poll(config: Config, state: MemoryAuditState) -> PollResult:
    return source(config, "src").poll(SINCE, UNTIL, state)


def _read(tmp_path: Path, name: str, text: str) -> tuple[PollResult, list[tuple[object, ...]]]:
    """Poll a pgaudit source over ``text``: the result and (user, statement, failed)."""
    log = tmp_path / name
    log.write_text(text)
    state = MemoryAuditState()
    result = _poll(_config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n'), state)
    events = state.events("src", SINCE, UNTIL)
    return result, [(e.db_user, e.statements[0].text, e.failed) for e in events]


# What the workload gives when pgaudit logs the statement text: one event per
# statement (the CREATE INDEX line of the primary key is the same statement), the
# password masked, the CREATE EXTENSION that the server then refused marked failed.
WORKLOAD = [
    ("alice", "CREATE TABLE shop.invoices (id bigint PRIMARY KEY,\n  total numeric)", False),
    ("alice", "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT ?", False),
    ("bob", "GRANT SELECT ON shop.customers TO PUBLIC", False),
    ("bob", "ALTER ROLE carol CONNECTION LIMIT ? PASSWORD ?", False),
    ("bob", "CREATE EXTENSION no_such_ext", True),
]


def test_stderr_pgaudit(tmp_path: Path) -> None:
    result, events = _read(tmp_path, "pg.log", STDERR + FOREIGN_LINE)
    assert result.bad_records == 1  # the other program's line
    assert result.unparsed_statements == 0
    assert events == WORKLOAD
    log = tmp_path / "pg.log"
    state = MemoryAuditState()
    _poll(_config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n'), state)
    alice = state.events("src", SINCE, UNTIL)[1]
    assert alice.at == T0 and alice.session == "22288" and alice.database == "app"
    assert alice.statements[0].refs == [
        Ref("relation", "shop.orders", ("columns", "note"), "create")
    ]


def test_stderr_verbose(tmp_path: Path) -> None:
    """``log_error_verbosity = verbose``: ``LOG:  00000: AUDIT: ...`` plus LOCATION lines
    (also between an ERROR and its STATEMENT)."""
    result, events = _read(tmp_path, "pg.log", STDERR_VERBOSE)
    assert (result.bad_records, result.unparsed_statements) == (0, 0)
    assert events == WORKLOAD
    parser = LineParser("stderr", DEBIAN_PREFIX, UTC)
    first = parser.stderr_line(STDERR_VERBOSE.splitlines()[0], "k")
    assert first is not None and first.sql_state == "00000"
    assert first.message.startswith("AUDIT: SESSION,1,1,DDL,CREATE TABLE,")
    error = parser.stderr_line(STDERR_VERBOSE.splitlines()[-3], "k")
    assert error is not None and (error.severity, error.sql_state) == ("ERROR", "42501")
    # Without verbose, "AUDIT: " is not taken for an SQLSTATE.
    plain = parser.stderr_line(STDERR.splitlines()[4], "k")
    assert plain is not None and plain.sql_state is None
    assert plain.message.startswith("AUDIT: SESSION,2,1,DDL,ALTER TABLE")


def test_log_statement_once(tmp_path: Path) -> None:
    """``<previously logged>``: the unit's first line has the text; no extra event and
    nothing counted as unparsed."""
    result, events = _read(tmp_path, "pg.log", STDERR_ONCE)
    assert (result.bad_records, result.unparsed_statements) == (0, 0)
    assert events == [
        ("alice", "CREATE TABLE shop.scratch (id int PRIMARY KEY)", False),
        ("alice", "DROP TABLE shop.scratch", False),
    ]


def test_previously_logged_without_its_first_line(tmp_path: Path) -> None:
    """The first line was read before (or lost to rotation): the object fields stand in."""
    lines = STDERR_ONCE.splitlines(keepends=True)
    result, events = _read(tmp_path, "pg.log", lines[1] + "".join(lines[3:]))
    assert (result.bad_records, result.unparsed_statements) == (0, 0)
    note = " (pgaudit: statement logged on an earlier line that was not read)"
    assert events == [
        ("alice", "CREATE INDEX shop.scratch_pkey" + note, False),
        ("alice", "DROP TABLE scratch_pkey on shop.scratch" + note, False),
    ]


def test_log_statement_off(tmp_path: Path) -> None:
    """``<not logged>``: the command and the object fields stand in for the statement;
    the lines of one statement add their objects to one event."""
    log = tmp_path / "pg.log"
    log.write_text(STDERR_OFF)
    state = MemoryAuditState()
    result = _poll(_config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n'), state)
    assert (result.bad_records, result.unparsed_statements) == (0, 0)
    got = [
        (e.db_user, e.statements[0].text, e.statements[0].refs, e.statements[0].parsed)
        for e in state.events("src", SINCE, UNTIL)
    ]
    note = " (pgaudit: statement not logged)"
    assert got == [
        (
            "alice",
            "CREATE TABLE shop.invoices" + note,
            [
                Ref("relation", "shop.invoices", (), "create"),
                Ref("index", "shop.invoices_pkey", (), "create"),
            ],
            True,
        ),
        ("alice", "ALTER TABLE shop.orders" + note, [Ref("relation", "shop.orders")], True),
        (
            "bob",
            "GRANT ON TABLE" + note,
            [
                Ref("relation", "*", ("grants",), "grant"),
                Ref("relation", "*", ("column_grants",), "grant"),
            ],
            True,
        ),
        ("bob", "ALTER ROLE" + note, [Ref("role", "*")], True),
        # No object fields and no kind in the command: only the time can match it.
        # (Refused, but its text is not logged to compare with the ERROR's.)
        ("bob", "CREATE EXTENSION" + note, [], False),
        (
            "alice",
            "CREATE TABLE shop.scratch" + note,
            [
                Ref("relation", "shop.scratch", (), "create"),
                Ref("index", "shop.scratch_pkey", (), "create"),
            ],
            True,
        ),
        (
            "alice",
            "DROP TABLE shop.scratch" + note,
            [
                Ref("relation", "shop.scratch", (), "drop"),
                Ref("relation", "shop.scratch", ("constraints", "scratch_pkey"), "drop"),
                Ref("index", "shop.scratch_pkey", (), "drop"),
            ],
            True,
        ),
    ]


def test_database_without_the_extension(tmp_path: Path) -> None:
    """No ``CREATE EXTENSION pgaudit``: empty object fields; the text still parses."""
    result, events = _read(tmp_path, "pg.log", STDERR_LATER)
    assert (result.bad_records, result.unparsed_statements) == (0, 0)
    assert events[-2:] == [
        ("alice", "CREATE TABLE t (id int PRIMARY KEY)", False),
        ("alice", "GRANT SELECT ON t TO PUBLIC", False),
    ]


def test_statement_ids_count_per_backend(tmp_path: Path) -> None:
    """alice's and bob's backends both number their statements from 1: interleaved
    (server lines, reordered), neither is taken for a repeat of the other."""
    once = STDERR_ONCE.splitlines(keepends=True)
    lines = STDERR.splitlines(keepends=True)
    # alice's CREATE TABLE (1,1), bob's GRANT (1,1), alice's CREATE INDEX (1,1) line.
    text = "".join(lines[0:2]) + lines[5] + once[1].replace("22661", "22288")
    result, events = _read(tmp_path, "pg.log", text)
    assert result.bad_records == 0
    assert [(user, failed) for user, _, failed in events] == [("alice", False), ("bob", False)]
    # A later backend that got the same pid from the OS is another user: no repeat.
    reused = lines[5].replace("bob@app", "carol@app")
    _, events = _read(tmp_path, "pg2.log", lines[5] + reused)
    assert [user for user, _, _ in events] == ["bob", "carol"]


def test_csvlog_pgaudit(tmp_path: Path) -> None:
    result, events = _read(tmp_path, "pg.csv", CSVLOG)
    assert (result.bad_records, result.unparsed_statements) == (0, 0)
    assert events == [
        *WORKLOAD,
        ("alice", "CREATE TABLE shop.scratch (id int PRIMARY KEY)", False),
        ("alice", "DROP TABLE shop.scratch", False),
    ]
    record = next(LineParser("csvlog", DEBIAN_PREFIX, UTC).records(CSVLOG.encode(), "f", 0))
    assert isinstance(record, LogRecord)
    assert (record.session_id, record.pid, record.sql_state) == ("6b13f93e.5710", "22288", "00000")


def test_jsonlog_pgaudit(tmp_path: Path) -> None:
    result, events = _read(tmp_path, "pg.json", JSONLOG)
    assert (result.bad_records, result.unparsed_statements) == (0, 0)
    assert events == [
        *WORKLOAD,
        ("alice", "CREATE TABLE shop.scratch (id int PRIMARY KEY)", False),
        ("alice", "DROP TABLE shop.scratch", False),
    ]
    parser = LineParser("jsonlog", DEBIAN_PREFIX, UTC)
    records = [r for r in parser.records(JSONLOG.encode(), "f", 0) if isinstance(r, LogRecord)]
    assert records[0].sql_state is None  # 00000 is left out of jsonlog
    assert [r.sql_state for r in records if r.severity == "ERROR"] == ["0A000", "42501"]
    (verbose,) = parser.records(JSONLOG_VERBOSE.encode(), "f", 0)
    assert isinstance(verbose, LogRecord)
    assert verbose.message.startswith("AUDIT: SESSION,1,1,ROLE,GRANT,")


def test_incremental_reads_follow_appends_rotation_and_truncation(tmp_path: Path) -> None:
    lines = STDERR.splitlines(keepends=True)
    later = STDERR_LATER.splitlines(keepends=True)
    log = tmp_path / "pg.log"
    log.write_text("".join(lines[:4]))  # CREATE TABLE and its CREATE INDEX line
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n')
    state = MemoryAuditState()
    _poll(config, state)
    assert len(state.events("src", SINCE, UNTIL)) == 1
    # A half-written line is left for the next run.
    with log.open("a") as fh:
        fh.write(lines[4] + lines[5][:30])
    _poll(config, state)
    assert len(state.events("src", SINCE, UNTIL)) == 2
    offset = state.cursor("src")["files"]  # type: ignore[index]
    with log.open("a") as fh:
        fh.write(lines[5][30:])
    _poll(config, state)
    assert len(state.events("src", SINCE, UNTIL)) == 3
    assert state.cursor("src")["files"] != offset  # type: ignore[index]

    # logrotate: the old file moves to .1 after one more line, a new file starts.
    with log.open("a") as fh:
        fh.write(lines[6])
    os.rename(log, tmp_path / "pg.log.1")
    log.write_text(later[0])
    result = _poll(config, state)
    assert result.problems == []
    texts = [e.statements[0].text for e in state.events("src", SINCE, UNTIL)]
    assert texts[-2:] == [
        "ALTER ROLE carol CONNECTION LIMIT ? PASSWORD ?",
        "CREATE TABLE shop.scratch (id int PRIMARY KEY)",
    ]

    # copytruncate: same inode, shorter content: read from the start again.
    log.write_text(later[-1])
    _poll(config, state)
    last = state.events("src", SINCE, UNTIL)[-1]
    assert (last.db_user, last.database) == ("alice", "plain")
    # Nothing is read twice: a run with nothing new adds nothing.
    before = len(state.events("src", SINCE, UNTIL))
    assert _poll(config, state).new_events == 0
    assert len(state.events("src", SINCE, UNTIL)) == before


def test_first_run_reads_only_the_tail_of_a_big_file(tmp_path: Path) -> None:
    log = tmp_path / "pg.log"
    filler = "2026-12-05 10:00:00.000 UTC [1] postgres@app LOG:  checkpoint complete\n" * 200
    log.write_text(filler + STDERR)
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\nmax_read_bytes = 4096\n')
    state = MemoryAuditState()
    _poll(config, state)
    assert len(state.events("src", SINCE, UNTIL)) == 5
    assert state.cursor("src")["files"][next(iter(state.cursor("src")["files"]))]["offset"] == (  # type: ignore[index]
        log.stat().st_size
    )


def test_glob_of_collector_files(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    a = tmp_path / "log" / "postgresql-2026-12-05_000000.log"
    b = tmp_path / "log" / "postgresql-2026-12-05_120000.log"
    lines = STDERR.splitlines(keepends=True)
    a.write_text("".join(lines[4:5]))
    b.write_text("".join(lines[5:6]))
    os.utime(a, (1, 1))
    config = _config(tmp_path, 'type = "pgaudit"\npath = "log/postgresql-*.log"\n')
    state = MemoryAuditState()
    _poll(config, state)
    assert [e.db_user for e in state.events("src", SINCE, UNTIL)] == ["alice", "bob"]


def _csv_row(at: str, user: str, pid: int, severity: str, message: str, query: str = "") -> str:
    row = [
        at,
        user,
        "app",
        str(pid),
        "10.0.0.5:5000",
        "65a1.1",
        "1",
        "idle",
        at,
        "3/7",
        "0",
        severity,
        "00000",
        message,
        "",
        "",
        "",
        "",
        "",
        query,
        "",
        "",
        "psql",
        "client backend",
        "",
        "0",
    ]
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue()


def test_csvlog_quoting_and_partial_records(tmp_path: Path) -> None:
    """Built rows (not from a server): a quoted comma inside the statement, a statement
    the server refused, and a record still being written."""
    log = tmp_path / "pg.csv"
    log.write_text(
        _csv_row(
            "2026-12-05 11:45:02.567 UTC",
            "alice",
            1,
            "LOG",
            'AUDIT: SESSION,1,1,DDL,ALTER TABLE,,,"ALTER TABLE app.orders\n  ADD COLUMN '
            "note text DEFAULT 'a,b'\",<not logged>",
        )
        + _csv_row(
            "2026-12-05 11:45:12.000 UTC",
            "bob",
            2,
            "LOG",
            "AUDIT: SESSION,1,1,DDL,DROP TABLE,,,DROP TABLE app.nope,<not logged>",
        )
        + _csv_row(
            "2026-12-05 11:45:12.001 UTC",
            "bob",
            2,
            "ERROR",
            'table "nope" does not exist',
            query="DROP TABLE app.nope",
        )
        + '2026-12-05 11:45:13.000 UTC,"carol","app",3,"partial record without end'
    )
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n')
    state = MemoryAuditState()
    _poll(config, state)
    events = state.events("src", SINCE, UNTIL)
    assert [(e.db_user, e.failed) for e in events] == [("alice", False), ("bob", True)]
    assert (
        events[0].statements[0].text == "ALTER TABLE app.orders\n  ADD COLUMN note text DEFAULT ?"
    )
    # The unterminated last record waits for its end.
    saved = state.cursor("src")
    assert saved is not None
    cursor = next(iter(saved["files"].values()))
    assert cursor["offset"] < log.stat().st_size


def test_csv_splitter_keeps_quoted_newlines() -> None:
    assert csv_splitter(b'a,"x\ny"\nb,"open\n') == len(b'a,"x\ny"\n')
    assert csv_splitter(b"no newline") == 0
    assert csv_splitter(CSVLOG.encode()) == len(CSVLOG.encode())


def test_jsonlog_and_pglog(tmp_path: Path) -> None:
    log = tmp_path / "pg.json"
    records = [
        {
            "timestamp": "2026-12-05 11:45:02.567 UTC",
            "user": "alice",
            "dbname": "app",
            "pid": 11,
            "error_severity": "LOG",
            "message": "statement: GRANT admins TO bob",
            "backend_type": "client backend",
        },
        {
            "timestamp": "2026-12-05 11:45:03.000 UTC",
            "user": "alice",
            "dbname": "app",
            "pid": 11,
            "error_severity": "LOG",
            "message": "execute <unnamed>: ALTER ROLE bob PASSWORD 'hunter2'",
        },
        {
            "timestamp": "2026-12-05 11:45:04.000 UTC",
            "user": "alice",
            "dbname": "app",
            "pid": 11,
            "error_severity": "LOG",
            "message": "duration: 0.5 ms  statement: SELECT 1",
        },
    ]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\n{broken\n")
    config = _config(tmp_path, f'type = "pglog"\npath = "{log}"\n')
    state = MemoryAuditState()
    result = _poll(config, state)
    assert result.bad_records == 1
    texts = [e.statements[0].text for e in state.events("src", SINCE, UNTIL)]
    assert texts == ["GRANT admins TO bob", "ALTER ROLE bob PASSWORD ?"]
    assert "hunter2" not in json.dumps(state.to_json())


def test_pglog_ignores_pgaudit_lines(tmp_path: Path) -> None:
    log = tmp_path / "pg.log"
    log.write_text(STDERR)
    state = MemoryAuditState()
    result = _poll(_config(tmp_path, f'type = "pglog"\npath = "{log}"\n'), state)
    assert (result.bad_records, state.events("src", SINCE, UNTIL)) == (0, [])


@pytest.mark.parametrize(
    ("prefix", "line", "user", "pid"),
    [
        (DEBIAN_PREFIX, "2026-11-22 16:44:11.996 UTC [6619] alice@app LOG:  x", "alice", "6619"),
        (
            "%t:%r:%u@%d:[%p]:",
            "2026-11-22 16:44:11 UTC:10.0.0.1(5432):alice@app:[42]:LOG:  x",
            "alice",
            "42",
        ),
        ("%m [%p] %q%u@%d ", "2026-11-22 16:44:11.996 UTC [99] LOG:  x", None, "99"),
        ("%n|%c|%a|%-10u|", "1795365851.996|65a1.2|psql|alice     |LOG:  x", "alice", None),
        (
            "< %m %e %x %v %l %% >",
            "< 2026-11-22 16:44:11.996 CET 00000 0 3/4 7 % >LOG:  x",
            None,
            None,
        ),
    ],
)
def test_log_line_prefixes(prefix: str, line: str, user: str | None, pid: str | None) -> None:
    record = LineParser("stderr", prefix, UTC).stderr_line(line, "k")
    assert record is not None
    assert record.message == "x" and record.severity == "LOG"
    assert ((record.user or "").strip() or None) == user
    assert record.pid == pid
    assert record.at is not None


def test_parse_log_time_zones() -> None:
    moment = datetime(2026, 11, 22, 16, 44, 11, 996000, tzinfo=UTC)
    assert parse_log_time("2026-11-22 16:44:11.996 UTC", UTC) == moment
    assert parse_log_time("2026-11-22 17:44:11.996 +01", UTC) == moment
    assert parse_log_time("2026-11-22 22:14:11.996 +05:30", UTC) == moment
    assert parse_log_time("2026-11-22 99:00:00 UTC", UTC) is None
    assert parse_log_time("garbage", UTC) is None


def test_audit_statement_fields() -> None:
    lines = [
        r.message
        for r in LineParser("stderr", DEBIAN_PREFIX, UTC).records(
            (STDERR + STDERR_ONCE + STDERR_OFF).encode(), "f", 0
        )
        if isinstance(r, LogRecord) and r.message.startswith("AUDIT: ")
    ]
    assert audit_statement(lines[3]) == "GRANT SELECT ON shop.customers TO PUBLIC"
    # Passwords come redacted; made a literal so the statement parses (and is masked).
    assert audit_statement(lines[4]) == (
        "ALTER ROLE carol CONNECTION LIMIT 3 PASSWORD '<REDACTED>'"
    )
    assert parse_line(lines[3]) == AuditLine(
        "SESSION",
        "1",
        "1",
        "ROLE",
        "GRANT",
        "TABLE",
        "",
        "GRANT SELECT ON shop.customers TO PUBLIC",
    )
    once, off = lines[7], lines[11]
    assert "<previously logged>" in once and "<not logged>,<not logged>" in off
    assert audit_statement(once) is None and audit_statement(off) is None
    got = audit_extract(once)
    assert got is not None and got.sql is None and got.unit == ("1", "1")
    # pgaudit's CSV: a field is quoted when it holds a comma or a quote.
    assert audit_statement('AUDIT: OBJECT,1,1,DDL,X,,,"a ""b"", c",<none>') == 'a "b", c'
    assert audit_statement("checkpoint starting") is None
    for bad in (
        "AUDIT: SESSION,1",
        'AUDIT: SESSION,1,1,DDL,X,,,"open',
        "AUDIT: NOPE,1,1,a,b,c,d,e",
    ):
        with pytest.raises(ValueError):
            audit_statement(bad)


@pytest.mark.parametrize(
    ("command", "otype", "name", "refs"),
    [
        # Identities as pgaudit 1.7's regression output (expected/pgaudit.out) shows them.
        (
            "ALTER TABLE",
            "TABLE COLUMN",
            "test.test2.description",
            [Ref("relation", "test.test2", ("columns", "description"), "alter")],
        ),
        (
            "DROP TABLE",
            "TABLE CONSTRAINT",
            "test_pkey on test.test2",
            [Ref("relation", "test.test2", ("constraints", "test_pkey"), "drop")],
        ),
        (
            "CREATE FUNCTION",
            "FUNCTION",
            "public.int_add(integer,integer)",
            [Ref("function", "public.int_add", (), "replace", True, ("integer", "integer"))],
        ),
        ("CREATE SCHEMA", "SCHEMA", "foo", [Ref("schema", "foo", (), "create")]),
        (
            "CREATE TABLE",
            "TABLE",
            'shop."Odd.Name"',
            [Ref("relation", "shop.Odd.Name", (), "create")],
        ),
        (
            "CREATE TRIGGER",
            "TRIGGER",
            '"T ""1""" on shop.orders',
            [Ref("relation", "shop.orders", ("triggers", 'T "1"'), "create")],
        ),
        ("ALTER SYSTEM", "", "", [Ref("setting", "*")]),
        ("GRANT ROLE", "", "", [Ref("role", "*", ("member_of",), "grant")]),
        ("DO", "", "", []),
    ],
)
def test_object_statement(command: str, otype: str, name: str, refs: list[Ref]) -> None:
    line = AuditLine("SESSION", "1", "1", "DDL", command, otype, name, "<not logged>")
    statement = object_statement(line)
    assert statement.refs == refs
    assert statement.parsed == bool(refs)
    assert statement.command == command
    assert statement.text.startswith(command) and "statement not logged" in statement.text


def test_identifiers() -> None:
    assert identifiers("shop.orders") == ["shop", "orders"]
    assert identifiers('"a.b"."c""d"') == ["a.b", 'c"d']


def test_reads_and_writes_without_text_are_no_events() -> None:
    builder = EventBuilder(audit_extract, PollResult())
    record = LogRecord(
        key="k",
        at=T0,
        severity="LOG",
        message="AUDIT: OBJECT,1,1,READ,SELECT,TABLE,public.account,<not logged>,<not logged>",
        user="u",
        pid="1",
    )
    builder.add(record)
    assert builder.events == []


def test_error_without_matching_statement_does_not_cancel(tmp_path: Path) -> None:
    builder = EventBuilder(audit_extract, PollResult())
    parser = LineParser("stderr", DEBIAN_PREFIX, UTC)
    text = (
        "2026-11-22 16:44:11.996 UTC [1] a@app LOG:  AUDIT: SESSION,1,1,DDL,ALTER TABLE,,,"
        "ALTER TABLE t ADD COLUMN c int,<not logged>\n"
        '2026-11-22 16:44:12.000 UTC [1] a@app ERROR:  relation "x" does not exist\n'
        "2026-11-22 16:44:12.000 UTC [1] a@app STATEMENT:  SELECT * FROM x\n"
    )
    for record in parser.records(text.encode(), "f", 0):
        builder.add(record)
    assert [e.failed for e in builder.events] == [False]


def test_jsonl_source(tmp_path: Path) -> None:
    log = tmp_path / "proxy.jsonl"
    rows = [
        {
            "ts": int(T0.timestamp() * 1000),
            "query": "ALTER TABLE public.t ADD COLUMN c int DEFAULT 42",
            "who": {"email": "alice@example.com"},
            "login": "svc",
            "conn": "c-1",
        },
        {"ts": "2026-11-22T16:45:00Z", "query": "SELECT 1", "who": {"email": "bob@example.com"}},
        {"ts": "not a time", "query": "DROP TABLE x"},
        [1, 2],
    ]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = _config(
        tmp_path,
        f'type = "jsonl"\npath = "{log}"\n[audit.src.fields]\ntime = "ts"\nstatement = "query"\n'
        'actor = "who.email"\ndb_user = "login"\nsession = "conn"\n',
    )
    state = MemoryAuditState()
    result = _poll(config, state)
    assert result.bad_records == 2
    (event,) = state.events("src", SINCE, UNTIL)
    assert (event.actor, event.db_user, event.session) == ("alice@example.com", "svc", "c-1")
    assert event.statements[0].text == "ALTER TABLE public.t ADD COLUMN c int DEFAULT ?"
    assert event.at == T0


def test_json_file_state_round_trip(tmp_path: Path) -> None:
    log = tmp_path / "pg.log"
    log.write_text(STDERR)
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{log}"\n')
    state = JsonFileAuditState(tmp_path / "state" / "audit.json")
    _poll(config, state)
    state.save()
    assert oct((tmp_path / "state" / "audit.json").stat().st_mode & 0o777) == "0o600"
    again = JsonFileAuditState(tmp_path / "state" / "audit.json")
    assert again.load_error is None
    assert again.cursor("src") == state.cursor("src")
    assert [e.to_json() for e in again.events("src", SINCE, UNTIL)] == [
        e.to_json() for e in state.events("src", SINCE, UNTIL)
    ]
    (tmp_path / "state" / "audit.json").write_text("{not json")
    broken = JsonFileAuditState(tmp_path / "state" / "audit.json")
    assert broken.load_error and "starting afresh" in broken.load_error


def test_memory_state_is_bounded_and_dedupes() -> None:
    from driftd.attribute.sources.events import AuditEvent

    state = MemoryAuditState(max_events=3)
    now = datetime.now(UTC)
    events = [AuditEvent(f"k{i}", now - timedelta(minutes=10 - i), []) for i in range(5)]
    state.add_events("s", events)
    state.add_events("s", events[-1:])
    kept = state.events("s", now - timedelta(hours=1), now)
    assert [e.key for e in kept] == ["k2", "k3", "k4"]
    state.add_events("s", [AuditEvent("old", now - timedelta(days=400), [])])
    assert "old" not in [e.key for e in state.events("s", now - timedelta(days=500), now)]


def test_log_source_config_errors(tmp_path: Path) -> None:
    from driftd.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'type = "pgaudit"\npath = "x"\nformat = "xml"\n')
    assert "audit.src.format" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'type = "pgaudit"\npath = "x"\ntimezone = "Mars/Olympus"\n')
    assert "unknown time zone" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'type = "splunk"\n')
    assert "audit.src.type" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'type = "pglog"\n')
    assert "audit.src.path" in str(info.value) and "missing" in str(info.value)


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    config = _config(tmp_path, f'type = "pgaudit"\npath = "{tmp_path}/nope.log"\n')
    result = _poll(config, MemoryAuditState())
    assert result.summary("src") == [f"audit.src: log file {tmp_path}/nope.log does not exist"]
