"""template.yaml against the rest of the repository, without deploying anything.

* Each function's Timeout / MemorySize (Globals when the function sets none) equals the
  `[package.metadata.lambda.deploy]` of its crate: `cargo lambda deploy` and `sam deploy`
  must not disagree, and changing one side only fails here.
* The operational alarms exist, watch what the runbook says they watch, notify
  AlarmTopicArn only when it is set, and point to a runbook entry that exists.
* Webhooks and booking pages are throttled separately, on the routes that really exist.
* The eligibility re-decide schedule and the permissions its sweep needs.
* Who may use which key (NumberKey's key policy is the list of who may open a number),
  point-in-time recovery, the inbound-sms function (docs/threat-model.md cites these).

The template is read with cfn-lint's decoder (it understands !Ref, !Sub, !If...): no stack,
no AWS account, no network.
"""

from __future__ import annotations

import fnmatch
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
    assert len(functions) == 5
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
    # A sweep claims until the next one starts (Timeout - margin = the schedule's period), so a
    # backlog drains at the send rate with no idle gap each minute and no two sweeps claiming
    # at once.
    period = sender["Events"]["Sweep"]["Properties"]["ScheduleExpression"]
    assert period == "rate(1 minute)" and timeout - margin == 60, (timeout, margin, period)


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
    "InboundSmsErrorsAlarm": ("AWS/Lambda", "Errors", "Sum", 300, "GreaterThanThreshold", 0),
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
    "InboundSmsErrorsAlarm": [{"Name": "FunctionName", "Value": ref("InboundSmsFunction")}],
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
BOOKING_ROUTES = {"GET /r/{token}", "POST /r/{token}", "POST /r/{token}/opt-out",
                  "POST /r/{token}/reschedule", "POST /r/{token}/cancel", "GET /o/{token}", "POST /o/{token}"}


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


def test_booking_serves_every_booking_route_and_may_query_bookings(template):
    res = template["Resources"]
    booking_integration = {"Fn::Sub": "integrations/${BookingIntegration}"}
    for route in resources(template, "AWS::ApiGatewayV2::Route").values():
        if route["Properties"]["RouteKey"] in BOOKING_ROUTES:
            assert route["Properties"]["Target"] == booking_integration, route["Properties"]["RouteKey"]
    # API Gateway may invoke booking on /r/... and on the short opt-out link /o/...
    sources = {p["Properties"]["SourceArn"]["Fn::Sub"].rsplit("}", 1)[1]
               for p in resources(template, "AWS::Lambda::Permission").values()
               if p["Properties"]["FunctionName"] == ref("BookingFunction")}
    assert sources == {"/*/*/r/*", "/*/*/o/*"}
    # Bookings are BOOKING#{hash}#{id} items under the account, read by Query.
    assert allowed(res["BookingFunction"], "dynamodb:Query", {"Fn::GetAtt": ["Table", "Arn"]})


# ---------------------------------------------------------------------------- keys

ROOT_PRINCIPAL = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
# Every KMS action that uses a key's material (as opposed to administering the key).
USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
               "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair",
               "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateMac", "kms:VerifyMac",
               "kms:Sign", "kms:Verify", "kms:DeriveSharedSecret"]
# The encryption context's keys are exactly {account_id}.
ACCOUNT_CONTEXT_ONLY = {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "account_id"},
                        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": "account_id"}}
# Another number to call: {account_id, purpose: callback-number}, nothing else.
CALLBACK_NUMBER_CONTEXT = {"Null": {"kms:EncryptionContext:account_id": "false"},
                           "StringEquals": {"kms:EncryptionContext:purpose": "callback-number"},
                           "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["account_id", "purpose"]}}
# Either of the two (a person's export opens both kinds).
ANY_NUMBER_CONTEXT = {"Null": {"kms:EncryptionContext:account_id": "false"},
                      "StringEqualsIfExists": {"kms:EncryptionContext:purpose": "callback-number"},
                      "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["account_id", "purpose"]}}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def key_statements(template: dict, key: str) -> list[tuple[str | None, dict]]:
    """(condition or None, statement) for each statement of a key's policy."""
    out = []
    for s in template["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]:
        if "Fn::If" in s:
            condition, then, otherwise = s["Fn::If"]
            assert otherwise == ref("AWS::NoValue"), key
            out.append((condition, then))
        else:
            out.append((None, s))
    return out


def use_actions(statement: dict) -> set[str]:
    assert "NotAction" not in statement and "NotPrincipal" not in statement
    patterns = as_list(statement["Action"])
    return {a for a in USE_ACTIONS if any(fnmatch.fnmatchcase(a, p) for p in patterns)}


def test_number_key_policy_lists_who_may_open_a_number(template):
    statements = key_statements(template, "NumberKey")
    assert all(s["Effect"] == "Allow" for _, s in statements)
    # The account root (every IAM administrator) administers the key and may not use it.
    root = [s for _, s in statements if s["Principal"] == {"AWS": ROOT_PRINCIPAL}]
    assert len(root) == 1
    assert use_actions(root[0]) == set(), "the account root must not use NumberKey"
    assert "kms:PutKeyPolicy" in root[0]["Action"] or "kms:Put*" in root[0]["Action"]
    assert "kms:ScheduleKeyDeletion" in root[0]["Action"]
    # Use: exactly these principals and actions, each bound to its context: callers' numbers
    # {account_id}, other numbers to call {account_id, purpose: callback-number}.
    uses = {}
    for condition, s in statements:
        actions = use_actions(s)
        if not actions:
            continue
        principal = s["Principal"]["AWS"]
        uses[json.dumps(principal, sort_keys=True)] = (condition, actions)
        context = {"BookingSeals": CALLBACK_NUMBER_CONTEXT, "CallbackNumberReaderOpens": CALLBACK_NUMBER_CONTEXT,
                   "SubjectExportOpens": ANY_NUMBER_CONTEXT}.get(s["Sid"], ACCOUNT_CONTEXT_ONLY)
        assert s["Condition"] == context, principal
        assert s["Resource"] == "*"
    role = lambda name: json.dumps({"Fn::GetAtt": [name, "Arn"]}, sort_keys=True)  # noqa: E731
    assert uses == {
        # Seal only: a caller's number (intake), another number to call (booking page).
        role("WebhookIntakeFunctionRole"): (None, {"kms:GenerateDataKey"}),
        role("BookingFunctionRole"): (None, {"kms:GenerateDataKey"}),
        # Open only: the sender, to text the caller.
        role("SenderFunctionRole"): (None, {"kms:Decrypt"}),
        # Open only, and only when their parameter names a role.
        json.dumps(ref("SubjectExportRoleArn")): ("HasSubjectExportRole", {"kms:Decrypt"}),
        json.dumps(ref("CallbackNumberReaderRoleArn")): ("HasCallbackNumberReader", {"kms:Decrypt"}),
    }
    params = template["Parameters"]
    for param, condition in [("SubjectExportRoleArn", "HasSubjectExportRole"),
                             ("CallbackNumberReaderRoleArn", "HasCallbackNumberReader")]:
        assert params[param]["Default"] == "", param
        assert params[param]["AllowedPattern"] == params["SubjectExportRoleArn"]["AllowedPattern"], param
        assert re.fullmatch(params[param]["AllowedPattern"], ""), param
        assert template["Conditions"][condition] == {
            "Fn::Not": [{"Fn::Equals": [ref(param), ""]}]}, condition


def test_no_iam_policy_mentions_the_number_key(template):
    # NumberKey's key policy grants use by itself; an IAM statement would be ignored (the
    # root does not delegate use) and would make the key and the roles depend on each other.
    for name, function in resources(template, "AWS::Serverless::Function").items():
        assert "NumberKey" not in json.dumps(function["Properties"].get("Policies", [])), name
        assert "Role" not in function["Properties"], f"{name}: the key policy names SAM's {name}Role"
    for name, role in resources(template, "AWS::IAM::Role").items():
        assert "NumberKey" not in json.dumps(role["Properties"]), name


def test_other_keys_delegate_to_iam_and_rotation(template):
    res = template["Resources"]
    for key in ["HashKey", "SecretsKey"]:
        assert [s for _, s in key_statements(template, key)] == [{
            "Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": ROOT_PRINCIPAL},
            "Action": "kms:*", "Resource": "*"}], key
    assert res["NumberKey"]["Properties"]["EnableKeyRotation"] is True
    assert res["SecretsKey"]["Properties"]["EnableKeyRotation"] is True
    # HMAC keys cannot rotate automatically, and opt-outs are looked up by a stable hash.
    assert res["HashKey"]["Properties"]["KeySpec"] == "HMAC_256"
    assert not res["HashKey"]["Properties"].get("EnableKeyRotation", False)
    for key in ["NumberKey", "HashKey", "SecretsKey"]:
        assert res[key]["DeletionPolicy"] == "Retain", key


def test_only_the_sender_publishes_sms(template):
    for name, function in resources(template, "AWS::Serverless::Function").items():
        publishes = any(s["Effect"] == "Allow" and "sns:Publish" in as_list(s["Action"])
                        for s in statements(function))
        assert publishes == (name == "SenderFunction"), name


# ---------------------------------------------------------------------------- backups


def test_point_in_time_recovery_follows_its_parameter(template):
    param = template["Parameters"]["PointInTimeRecoveryDays"]
    assert param["Type"] == "Number"
    assert (int(param["Default"]), int(param["MinValue"]), int(param["MaxValue"])) == (7, 0, 35)
    assert template["Conditions"]["HasPointInTimeRecovery"] == {
        "Fn::Not": [{"Fn::Equals": [ref("PointInTimeRecoveryDays"), 0]}]}
    table = template["Resources"]["Table"]["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": {"Fn::If": ["HasPointInTimeRecovery", True, False]},
        "RecoveryPeriodInDays": {"Fn::If": ["HasPointInTimeRecovery", ref("PointInTimeRecoveryDays"),
                                            ref("AWS::NoValue")]},
    }
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}


# ---------------------------------------------------------------------------- inbound SMS


def test_inbound_sms_subscribes_to_the_topic_in_use(template):
    res = template["Resources"]
    assert template["Parameters"]["InboundSmsTopicArn"]["Default"] == ""
    assert template["Conditions"]["CreateInboundSmsTopic"] == {"Fn::Equals": [ref("InboundSmsTopicArn"), ""]}
    topic = res["InboundSmsTopic"]
    assert topic["Condition"] == "CreateInboundSmsTopic"
    assert topic["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    in_use = {"Fn::If": ["CreateInboundSmsTopic", ref("InboundSmsTopic"), ref("InboundSmsTopicArn")]}
    function = res["InboundSmsFunction"]
    assert function["Metadata"] == {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": "inbound-sms"}}
    events = list(function["Properties"]["Events"].values())
    assert events == [{"Type": "SNS", "Properties": {"Topic": in_use}}]
    assert template["Outputs"]["InboundSmsTopicArn"]["Value"] == in_use
    # End User Messaging publishes through a role of this account (aws/sns cannot name it).
    channel = res["InboundSmsChannelRole"]
    assert channel["Condition"] == "CreateInboundSmsTopic"
    trust = channel["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "sms-voice.amazonaws.com"}]
    granted = [s for p in channel["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert granted == [{"Effect": "Allow", "Action": "sns:Publish", "Resource": ref("InboundSmsTopic")}]


def test_inbound_sms_may_record_opt_outs_and_nothing_more(template):
    res = template["Resources"]
    function = res["InboundSmsFunction"]
    table = {"Fn::GetAtt": ["Table", "Arn"]}
    for action in ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"]:
        assert allowed(function, action, table), action
    assert allowed(function, "kms:GenerateMac", {"Fn::GetAtt": ["HashKey", "Arn"]})
    assert allowed(function, "events:PutEvents", {"Fn::GetAtt": ["EventBus", "Arn"]})
    granted = {a for s in statements(function) if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert granted == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "kms:GenerateMac",
                       "kms:Decrypt", "events:PutEvents"}
    # Decrypt opens caller-hash keys only: the secrets key, purpose caller-hash-key (never the
    # webhook secrets, never a number).
    for name in ["InboundSmsFunction", "WebhookIntakeFunction"]:
        decrypts = [s for s in statements(res[name]) if "kms:Decrypt" in as_list(s["Action"])
                    and s.get("Condition", {}).get("StringEquals", {}).get(
                        "kms:EncryptionContext:purpose") == "caller-hash-key"]
        assert [(s["Sid"], s["Resource"]) for s in decrypts] == [
            ("CallerHashKeyDecrypt", {"Fn::GetAtt": ["SecretsKey", "Arn"]})], name
    inbound_decrypts = [s for s in statements(function) if "kms:Decrypt" in as_list(s["Action"])]
    assert [s["Sid"] for s in inbound_decrypts] == ["CallerHashKeyDecrypt"]
    # No NumberKey use: not named in its key policy.
    principals = json.dumps([s["Principal"] for _, s in key_statements(template, "NumberKey")])
    assert "InboundSmsFunction" not in principals
    # Settings from Globals, not overridden.
    assert "Environment" not in function["Properties"]
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == ref("Table")
    assert variables["HASH_KEY_ID"] == ref("HashKey")
    assert variables["EVENT_BUS_NAME"] == ref("EventBus")


def test_failed_inbound_sms_are_kept_and_logs_expire(template):
    res = template["Resources"]
    config = res["InboundSmsFunction"]["Properties"]["EventInvokeConfig"]
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS", "Destination": {"Fn::GetAtt": ["InboundSmsFailureQueue", "Arn"]}}
    assert int(config["MaximumRetryAttempts"]) == 2
    queue = res["InboundSmsFailureQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    # Records hold the inbound SMS (number in clear): kept days, not weeks.
    assert int(queue["MessageRetentionPeriod"]) <= 4 * 86400
    log_group = res["InboundSmsLogGroup"]["Properties"]
    assert log_group == {"LogGroupName": {"Fn::Sub": "/aws/lambda/${InboundSmsFunction}"},
                         "RetentionInDays": ref("LogRetentionDays")}


def test_the_example_event_rule_matches_events_rappel_emits(template):
    """The optional CallbackNotificationRule listens for event types that exist: each has its
    JSON Schema in events/schemas (generated from shared/src/events.rs)."""
    rule = template["Resources"]["CallbackNotificationRule"]
    assert rule["Condition"] == "HasCallbackNotificationTopic"
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["rappel"]
    assert set(pattern["detail-type"]) == {"CallbackRequested", "CallbackRescheduled", "CallbackCancelled"}
    schemas = Path(__file__).resolve().parents[2] / "events" / "schemas"
    for kind in pattern["detail-type"]:
        assert (schemas / f"{kind}.json").exists(), kind


def test_the_funnel_dashboard_is_valid_json_and_shows_every_step(template):
    """The dashboard reads the metrics shared/src/funnel.rs emits, in the namespace the
    functions get (METRICS_NAMESPACE), for every step."""
    body = template["Resources"]["FunnelDashboard"]["Properties"]["DashboardBody"]
    body = next(iter(body.values())) if isinstance(body, dict) else body  # !Sub
    board = json.loads(body.replace("${AWS::StackName}", "stack").replace("${AWS::Region}", "eu-west-3"))
    text = json.dumps(board)
    funnel = (Path(__file__).resolve().parents[2] / "shared" / "src" / "funnel.rs").read_text()
    steps = re.findall(r'Step::(\w+) => "(\w+)"', funnel)
    assert len(steps) == 7
    for _, name in steps:
        assert f'MetricName=\\"{name}\\"' in text, name
    assert "{Rappel/stack,account_id" in text
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    namespace = env["METRICS_NAMESPACE"]
    namespace = next(iter(namespace.values())) if isinstance(namespace, dict) else namespace
    assert namespace == "Rappel/${AWS::StackName}"
