"""template.yaml against the rest of the repository, without deploying anything.

* Each function's Timeout / MemorySize (Globals when the function sets none) equals the
  `[package.metadata.lambda.deploy]` of its crate: `cargo lambda deploy` and `sam deploy`
  must not disagree, and changing one side only fails here.
* The operational alarms exist, watch what the runbook says they watch, notify
  AlarmTopicArn only when it is set, and point to a runbook entry that exists.
* Webhooks and booking pages are throttled separately, on the routes that really exist.
* The eligibility re-decide schedule and the permissions its sweep needs.

The template is read with cfn-lint's decoder (it understands !Ref, !Sub, !If...): no stack,
no AWS account, no network.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "infra" / "README-deploy.md"


def plain(node):
    """cfn-lint's decoded nodes as plain dicts and lists."""
    return json.loads(json.dumps(node))


@pytest.fixture(scope="module")
def template() -> dict:
    return plain(cfn_yaml.load(str(ROOT / "template.yaml")))


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def ref(name: str) -> dict:
    return {"Ref": name}


# ---------------------------------------------------------------------------- sizes


def crate_deploy(binary: str) -> dict:
    manifest = ROOT / "functions" / binary / "Cargo.toml"
    assert manifest.exists(), f"no crate functions/{binary} for the template's binary {binary}"
    cargo = tomllib.loads(manifest.read_text())
    assert cargo["package"]["name"] == binary
    return cargo["package"]["metadata"]["lambda"]["deploy"]


def test_every_function_crate_is_a_function_of_the_template(template):
    binaries = {f["Metadata"]["BuildProperties"]["Binary"]
                for f in resources(template, "AWS::Serverless::Function").values()}
    crates = {p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml")}
    assert binaries == crates


def test_timeout_and_memory_agree_with_cargo_metadata(template):
    defaults = template["Globals"]["Function"]
    functions = resources(template, "AWS::Serverless::Function")
    assert len(functions) == 4
    for name, function in functions.items():
        props = function["Properties"]
        deploy = crate_deploy(function["Metadata"]["BuildProperties"]["Binary"])
        timeout = props.get("Timeout", defaults["Timeout"])
        memory = props.get("MemorySize", defaults["MemorySize"])
        assert (int(timeout), int(memory)) == (int(deploy["timeout"]), int(deploy["memory"])), (
            f"{name}: template says {timeout} s / {memory} MB, Cargo.toml "
            f"[package.metadata.lambda.deploy] says {deploy['timeout']} s / {deploy['memory']} MB"
        )


def deadline_margin_seconds() -> int:
    """The sender's DEADLINE_MARGIN (seconds) as written in its source, else 10."""
    pattern = re.compile(r"DEADLINE_MARGIN\s*:\s*[\w:]*Duration\s*=\s*[\w:]*Duration::from_secs\((\d+)\)")
    for source in (ROOT / "functions" / "sender" / "src").glob("*.rs"):
        found = pattern.search(source.read_text())
        if found:
            return int(found.group(1))
    return 10


def test_sender_timeout_leaves_room_beyond_its_deadline_margin(template):
    sender = template["Resources"]["SenderFunction"]["Properties"]
    timeout = int(sender.get("Timeout", template["Globals"]["Function"]["Timeout"]))
    margin = deadline_margin_seconds()
    # A sweep claims nothing once less than the margin is left: the timeout must be well
    # beyond it, or sweeps do (almost) no work.
    assert timeout > 20 and timeout >= 2 * margin, f"sender Timeout {timeout} s, margin {margin} s"


# ---------------------------------------------------------------------------- alarms

# Alarm -> (namespace, metric, statistic, period s, comparison, threshold). Namespace
# "Rappel" stands for the stack's own Rappel/${AWS::StackName}.
ALARMS = {
    "EligibilityDeadLetterAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 300,
                                   "GreaterThanThreshold", 0),
    "EligibilityIteratorAgeAlarm": ("AWS/Lambda", "IteratorAge", "Maximum", 300, "GreaterThanThreshold", 300000),
    "WebhookIntakeErrorsAlarm": ("AWS/Lambda", "Errors", "Sum", 300, "GreaterThanThreshold", 0),
    "EligibilityErrorsAlarm": ("AWS/Lambda", "Errors", "Sum", 300, "GreaterThanThreshold", 0),
    "SenderErrorsAlarm": ("AWS/Lambda", "Errors", "Sum", 300, "GreaterThanThreshold", 0),
    "BookingErrorsAlarm": ("AWS/Lambda", "Errors", "Sum", 300, "GreaterThanThreshold", 0),
    "SendInterruptedOrUncertainAlarm": ("Rappel", "SendsInterruptedOrUncertain", "Sum", 300,
                                        "GreaterThanThreshold", 0),
    "SenderUnreadableItemsAlarm": ("Rappel", "SenderUnreadableItems", "Sum", 300, "GreaterThanThreshold", 0),
    "EligibilityUnreadableItemsAlarm": ("Rappel", "EligibilityUnreadableItems", "Sum", 300,
                                        "GreaterThanThreshold", 0),
    "RedecidedCallsAlarm": ("Rappel", "RedecidedCalls", "Sum", 900, "GreaterThanOrEqualToThreshold", 1),
    "SmsSpendAlarm": ("AWS/SNS", "SMSMonthToDateSpentUSD", "Maximum", 300, "GreaterThanThreshold",
                      ref("SmsSpendAlarmUsd")),
}

# Alarm -> the dimension it watches.
DIMENSIONS = {
    "EligibilityDeadLetterAlarm": [{"Name": "QueueName",
                                    "Value": {"Fn::GetAtt": ["EligibilityDeadLetterQueue", "QueueName"]}}],
    "EligibilityIteratorAgeAlarm": [{"Name": "FunctionName", "Value": ref("EligibilityFunction")}],
    "WebhookIntakeErrorsAlarm": [{"Name": "FunctionName", "Value": ref("WebhookIntakeFunction")}],
    "EligibilityErrorsAlarm": [{"Name": "FunctionName", "Value": ref("EligibilityFunction")}],
    "SenderErrorsAlarm": [{"Name": "FunctionName", "Value": ref("SenderFunction")}],
    "BookingErrorsAlarm": [{"Name": "FunctionName", "Value": ref("BookingFunction")}],
}

# Metric -> (log group, the fields.event / fields.reason values its filter must name).
LOG_METRICS = {
    "SendsInterruptedOrUncertain": ("SenderLogGroup",
                                    ['$.fields.event = "message_finished"', '$.fields.reason = "send_interrupted"',
                                     '$.fields.reason = "send_uncertain"']),
    "SenderUnreadableItems": ("SenderLogGroup", ['$.fields.event = "unreadable_item"']),
    "EligibilityUnreadableItems": ("EligibilityLogGroup", ['$.fields.event = "unreadable_item"']),
    "RedecidedCalls": ("EligibilityLogGroup", ['$.fields.event = "redecided"']),
}

STACK_NAMESPACE = {"Fn::Sub": "Rappel/${AWS::StackName}"}


def test_every_operational_alarm_exists_and_watches_its_metric(template):
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert set(alarms) == set(ALARMS), "alarms added or removed: update ALARMS and the runbook"
    for name, (namespace, metric, statistic, period, comparison, threshold) in ALARMS.items():
        props = alarms[name]["Properties"]
        expected_namespace = STACK_NAMESPACE if namespace == "Rappel" else namespace
        assert props["Namespace"] == expected_namespace, name
        assert props["MetricName"] == metric, name
        assert props["Statistic"] == statistic, name
        assert int(props["Period"]) == period, name
        assert props["ComparisonOperator"] == comparison, name
        assert props["Threshold"] == threshold, name
        assert props.get("Dimensions", []) == DIMENSIONS.get(name, []), name
        assert props["TreatMissingData"] == "notBreaching", name


def test_log_metrics_come_from_the_right_log_group_and_event(template):
    filters = resources(template, "AWS::Logs::MetricFilter")
    by_metric = {}
    for name, f in filters.items():
        for transformation in f["Properties"]["MetricTransformations"]:
            assert transformation["MetricNamespace"] == STACK_NAMESPACE, name
            assert transformation["MetricValue"] == "1", name
            by_metric[transformation["MetricName"]] = f["Properties"]
    assert set(by_metric) == set(LOG_METRICS)
    for metric, (log_group, terms) in LOG_METRICS.items():
        props = by_metric[metric]
        assert props["LogGroupName"] == ref(log_group), metric
        pattern = props["FilterPattern"]
        assert pattern.strip().startswith("{") and pattern.strip().endswith("}"), metric
        for term in terms:
            assert term in pattern, f"{metric}: filter pattern lacks {term}"
    interrupted = by_metric["SendsInterruptedOrUncertain"]["FilterPattern"]
    assert "&&" in interrupted and "||" in interrupted


def test_alarms_notify_the_topic_only_when_it_is_set(template):
    parameter = template["Parameters"]["AlarmTopicArn"]
    assert parameter["Default"] == ""
    assert template["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [ref("AlarmTopicArn"), ""]}]}
    conditional = {"Fn::If": ["HasAlarmTopic", [ref("AlarmTopicArn")], ref("AWS::NoValue")]}
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == conditional, name
        assert alarm["Properties"]["OKActions"] == conditional, name
    assert int(template["Parameters"]["SmsSpendAlarmUsd"]["Default"]) == 50


def runbook_headings() -> list[str]:
    text = RUNBOOK.read_text()
    assert re.search(r"^## Runbook\s*$", text, re.M), "infra/README-deploy.md has no '## Runbook' section"
    runbook = text.split("## Runbook", 1)[1]
    runbook = re.split(r"^## ", runbook, flags=re.M)[0]
    return re.findall(r"^### (.+?)\s*$", runbook, re.M)


def test_every_alarm_points_to_an_existing_runbook_entry(template):
    headings = runbook_headings()
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        description = alarm["Properties"]["AlarmDescription"]
        if isinstance(description, dict):  # !Sub
            description = description["Fn::Sub"]
        assert "infra/README-deploy.md#runbook" in description, name
        entry = re.search(r'#runbook \("([^"]+)"\)', description)
        assert entry, f"{name}: description names no runbook entry"
        assert entry.group(1) in headings, f"{name}: no '### {entry.group(1)}' in the runbook"


# ---------------------------------------------------------------------------- throttling

WEBHOOK_ROUTE = "POST /webhooks/{provider}/{account_id}"
BOOKING_ROUTES = {"GET /r/{token}", "POST /r/{token}", "POST /r/{token}/opt-out"}


def test_each_route_has_its_own_throttle_and_webhooks_the_largest(template):
    stage = template["Resources"]["HttpApiStage"]
    routes = resources(template, "AWS::ApiGatewayV2::Route")
    route_keys = {r["Properties"]["RouteKey"] for r in routes.values()}
    assert route_keys == {WEBHOOK_ROUTE} | BOOKING_ROUTES
    settings = stage["Properties"]["RouteSettings"]
    assert set(settings) == route_keys, "RouteSettings keys must be the routes' RouteKey exactly"
    # The stage may only name routes that exist already.
    assert set(stage["DependsOn"]) == set(routes)

    webhook = settings[WEBHOOK_ROUTE]
    assert webhook == {"ThrottlingRateLimit": ref("WebhookRateLimit"),
                       "ThrottlingBurstLimit": ref("WebhookBurstLimit")}
    for key in BOOKING_ROUTES:
        assert settings[key] == {"ThrottlingRateLimit": ref("BookingRateLimit"),
                                 "ThrottlingBurstLimit": ref("BookingBurstLimit")}, key
    assert webhook != settings["GET /r/{token}"]

    params = template["Parameters"]
    default = stage["Properties"]["DefaultRouteSettings"]
    webhook_rate, webhook_burst = int(params["WebhookRateLimit"]["Default"]), int(params["WebhookBurstLimit"]["Default"])
    booking_rate, booking_burst = int(params["BookingRateLimit"]["Default"]), int(params["BookingBurstLimit"]["Default"])
    assert (webhook_rate, webhook_burst) == (200, 400)
    assert webhook_rate > booking_rate >= int(default["ThrottlingRateLimit"])
    assert webhook_burst > booking_burst >= int(default["ThrottlingBurstLimit"])
    assert webhook_burst >= webhook_rate and booking_burst >= booking_rate


# ---------------------------------------------------------------------------- re-decide sweep


def statements(function: dict) -> list[dict]:
    return [s for policy in function["Properties"]["Policies"] for s in policy["Statement"]]


def allowed(function: dict, action: str, resource) -> bool:
    for s in statements(function):
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        targets = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if s["Effect"] == "Allow" and action in actions and resource in targets:
            return True
    return False


def test_eligibility_is_scheduled_to_redecide_every_five_minutes(template):
    eligibility = template["Resources"]["EligibilityFunction"]
    schedules = [e["Properties"] for e in eligibility["Properties"]["Events"].values() if e["Type"] == "ScheduleV2"]
    assert len(schedules) == 1
    schedule = schedules[0]
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert json.loads(schedule["Input"]) == {"redecide": True}
    assert schedule.get("OmitName") is True
    # The stream stays its other event source.
    assert any(e["Type"] == "DynamoDB" for e in eligibility["Properties"]["Events"].values())


def test_eligibility_may_do_what_its_decisions_and_sweep_need(template):
    eligibility = template["Resources"]["EligibilityFunction"]
    table = {"Fn::GetAtt": ["Table", "Arn"]}
    gsi1 = {"Fn::Sub": "${Table.Arn}/index/GSI1"}
    assert allowed(eligibility, "dynamodb:Query", gsi1)
    # Decision, CONTACT#{hash}, CAP#{date}, and the transaction's Put/Update/Delete/ConditionCheck.
    for action in ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
                   "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"]:
        assert allowed(eligibility, action, table), action
    # Still no key at all: eligibility never sees a number.
    assert not any(a.startswith("kms:") for s in statements(eligibility)
                   for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
