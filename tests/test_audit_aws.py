"""RDS logs from CloudWatch Logs (moto) and RDS API changes from CloudTrail (Stubber).

moto has no ``cloudtrail.lookup_events``; botocore's Stubber checks our
requests and the canned answers against the real service model instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from driftd.attribute.match import attribute
from driftd.attribute.sources import cloudtrail
from driftd.attribute.sources.state import MemoryAuditState
from driftd.config import Config
from driftd.config.load import parse
from driftd.drift import DriftItem
from tests import doc_examples

REGION = "eu-west-1"
NOW = datetime.now(UTC).replace(microsecond=0)
GROUP = "/aws/rds/instance/prod-db/postgresql"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def _config(tmp_path: Path, name: str, body: str) -> Config:
    text = (
        '[environments.prod]\nurl = "postgresql+psycopg://driftd@prod-db.rds/app"\n'
        f'audit = ["{name}"]\n\n[audit.{name}]\n{body}'
    )
    return parse(text, tmp_path / "driftd.toml")


def _rds_line(at: datetime, user: str, pid: int, message: str) -> str:
    stamp = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp}:10.1.2.3(51234):{user}@app:[{pid}]:{message}"


def test_cloudwatch_rds_logs(aws: None, tmp_path: Path) -> None:
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="prod-db.0")
    t0 = NOW - timedelta(minutes=30)
    lines = [
        (
            t0,
            _rds_line(
                t0,
                "alice",
                101,
                "LOG:  AUDIT: SESSION,1,1,DDL,ALTER TABLE,,,"
                "ALTER TABLE public.orders ADD COLUMN note text,<not logged>",
            ),
        ),
        (
            t0 + timedelta(seconds=5),
            _rds_line(
                t0 + timedelta(seconds=5),
                "bob",
                202,
                'LOG:  AUDIT: SESSION,1,1,ROLE,GRANT,,,"GRANT SELECT, INSERT ON public.customers '
                'TO reporting",<not logged>',
            ),
        ),
        (
            t0 + timedelta(seconds=9),
            _rds_line(
                t0 + timedelta(seconds=9),
                "bob",
                202,
                "LOG:  statement: CREATE ROLE reporting2 LOGIN PASSWORD 'Winter2026!'",
            ),
        ),
        (t0 + timedelta(seconds=10), "this is not a postgres log line"),
    ]
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="prod-db.0",
        logEvents=[{"timestamp": int(at.timestamp() * 1000), "message": m} for at, m in lines],
    )
    config = _config(
        tmp_path, "rds-logs", f'type = "cloudwatch"\ninstance = "prod-db"\nregion = "{REGION}"\n'
    )
    items = [
        DriftItem("table:public.orders", "modified", ["columns", "note"], None, {"type": "text"}),
        DriftItem(
            "table:public.customers",
            "modified",
            ["grants", "reporting"],
            None,
            ["INSERT", "SELECT"],
        ),
        DriftItem("role:reporting2", "added", [], None, {"login": True}),
    ]
    state = MemoryAuditState()
    problems = attribute(config.resolve("prod"), items, NOW - timedelta(hours=1), NOW, state=state)
    assert problems == ["audit.rds-logs: 1 unparseable record(s) skipped"]
    note, grant, role = (i.attribution[0] for i in items)
    assert (note["db_user"], note["source"], note["session"]) == ("alice", "cloudwatch", "101")
    assert grant["db_user"] == "bob"
    assert grant["statement"] == "GRANT SELECT, INSERT ON public.customers TO reporting"
    # log_statement lines carry the password in clear: never past the parser.
    assert role["statement"] == "CREATE ROLE reporting2 LOGIN PASSWORD ?"
    assert "Winter2026" not in json.dumps(state.to_json())
    assert role["reason"] == "exact object + path"
    doc_examples.check("cloudwatch", grant, "grant added (RDS pgaudit log)")
    # The cursor moved: a second run asks only from (cursor - overlap) on.
    assert state.cursor("rds-logs") == {
        "last_ms": int((t0 + timedelta(seconds=10)).timestamp() * 1000)
    }


def test_cloudwatch_missing_group_is_a_problem(aws: None, tmp_path: Path) -> None:
    config = _config(
        tmp_path, "rds-logs", f'type = "cloudwatch"\ncluster = "nope"\nregion = "{REGION}"\n'
    )
    item = DriftItem("role:x", "added", [], None, {})
    problems = attribute(config.resolve("prod"), [item], None, NOW, state=MemoryAuditState())
    assert len(problems) == 1 and "/aws/rds/cluster/nope/postgresql" in problems[0]
    assert item.attribution == []


def _trail_event(
    name: str, at: datetime, identity: dict[str, Any], params: dict[str, Any], event_id: str
) -> dict[str, Any]:
    detail = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "rds.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.7",
        "requestParameters": params,
        "responseElements": {"dBParameterGroupName": params.get("dBParameterGroupName")},
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
    }
    return {
        "EventId": event_id,
        "EventName": name,
        "ReadOnly": "false",
        "EventTime": at,
        "EventSource": "rds.amazonaws.com",
        "Username": identity.get("userName", "x"),
        "Resources": [],
        "CloudTrailEvent": json.dumps(detail),
    }


SSO = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLE:alice@example.com",
    "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DBAdmin_0a1b2c/alice@example.com",
    "accountId": "123456789012",
    "accessKeyId": "ASIAEXAMPLE",
    "sessionContext": {
        "sessionIssuer": {"type": "Role", "userName": "AWSReservedSSO_DBAdmin_0a1b2c"}
    },
}
IAM_USER = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLE",
    "arn": "arn:aws:iam::123456789012:user/terraform",
    "accountId": "123456789012",
    "userName": "terraform",
}


def test_cloudtrail_parameter_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client(
        "cloudtrail", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    t0 = NOW - timedelta(minutes=50)
    page1 = [
        _trail_event(
            "ModifyDBParameterGroup",
            t0,
            SSO,
            {
                "dBParameterGroupName": "prod-pg15",
                "parameters": [
                    {
                        "parameterName": "work_mem",
                        "parameterValue": "65536",
                        "applyMethod": "immediate",
                    }
                ],
            },
            "ev-1",
        ),
        _trail_event("DescribeDBInstances", t0, IAM_USER, {}, "ev-2"),
    ]
    page2 = [
        _trail_event(
            "ModifyDBParameterGroup",
            t0 + timedelta(minutes=5),
            IAM_USER,
            {
                "dBParameterGroupName": "staging-pg15",
                "parameters": [{"parameterName": "work_mem", "parameterValue": "1"}],
            },
            "ev-3",
        ),
        _trail_event(
            "ModifyDBInstance",
            t0 + timedelta(minutes=6),
            IAM_USER,
            {
                "dBInstanceIdentifier": "prod-db",
                "dBInstanceClass": "db.r6g.large",
            },
            "ev-4",
        ),
        _trail_event(
            "ModifyDBInstance",
            t0 + timedelta(minutes=7),
            IAM_USER,
            {
                "dBInstanceIdentifier": "prod-db",
                "dBParameterGroupName": "prod-pg15-b",
            },
            "ev-5",
        ),
    ]
    expected = {
        "LookupAttributes": [
            {"AttributeKey": "EventSource", "AttributeValue": "rds.amazonaws.com"}
        ],
        "StartTime": ANY,
        "EndTime": ANY,
        "MaxResults": 50,
    }
    stubber.add_response("lookup_events", {"Events": page1, "NextToken": "tok-2"}, expected)
    stubber.add_response("lookup_events", {"Events": page2}, {**expected, "NextToken": "tok-2"})

    class FakeSession:
        def client(self, service: str, endpoint_url: str | None = None) -> Any:
            assert service == "cloudtrail"
            return client

    monkeypatch.setattr(cloudtrail, "aws_session", lambda profile, region: FakeSession())
    config = _config(
        tmp_path,
        "trail",
        'type = "cloudtrail"\nrequest_interval = "0s"\n'
        'resources = ["prod-pg15", "prod-pg15-b", "prod-db"]\n',
    )
    items = [
        DriftItem("setting:work_mem", "modified", ["value"], "4MB", "64MB"),
        DriftItem("table:public.t", "modified", ["owner"], "a", "b"),
    ]
    with stubber:
        problems = attribute(
            config.resolve("prod"), items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState()
        )
    stubber.assert_no_pending_responses()
    assert problems == []
    work_mem = items[0].attribution
    assert work_mem[0]["actor"] == "alice@example.com"
    assert work_mem[0]["principal"] == SSO["arn"]
    assert work_mem[0]["statement"] == "ModifyDBParameterGroup prod-pg15: work_mem = ?"
    assert work_mem[0]["reason"] == "exact object + path"
    assert work_mem[0]["source"] == "cloudtrail"
    doc_examples.check("cloudtrail", work_mem[0], "parameter group setting changed")
    # The parameter group swap could explain any setting: a weaker candidate.
    assert [(a["actor"], a["reason"]) for a in work_mem[1:]] == [("terraform", "object only")]
    assert work_mem[1]["confidence"] < work_mem[0]["confidence"]
    # staging-pg15 is not this environment's; a class change is not about settings.
    assert "staging" not in json.dumps(work_mem)
    assert items[1].attribution == []


def test_cloudtrail_throttled_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client(
        "cloudtrail", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded")

    class FakeSession:
        def client(self, service: str, endpoint_url: str | None = None) -> Any:
            return client

    monkeypatch.setattr(cloudtrail, "aws_session", lambda profile, region: FakeSession())
    config = _config(tmp_path, "trail", 'type = "cloudtrail"\n')
    with stubber:
        problems = attribute(
            config.resolve("prod"),
            [DriftItem("setting:x", "modified", [], 1, 2)],
            None,
            NOW,
            state=MemoryAuditState(),
        )
    assert len(problems) == 1 and "ThrottlingException" in problems[0]
