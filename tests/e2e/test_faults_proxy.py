"""The fault-injecting proxy (infra/local/faults.py) on its own: moto behind it, boto3 in front.

No Rust here: one moto for the module and one proxy per test, each on a free port, all stopped
at the end. boto3 makes exactly one attempt per call (`total_max_attempts=1`: botocore's
`max_attempts` counts retries only, so `max_attempts=1` would try twice), so every fault the proxy
injects is what the call sees. Numbers are DESIGN's test numbers only.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
MOTO_SERVER = ROOT / ".venv" / "bin" / "moto_server"
FAULTS = ROOT / "infra" / "local" / "faults.py"
sys.path.insert(0, str(ROOT / "infra" / "local"))

import faults as faults_module  # noqa: E402

REGION = "eu-west-3"
MOBILE = "+33600000001"
CONFIG = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)
CONNECTION_ERRORS = (botocore.exceptions.HTTPClientError, botocore.exceptions.ConnectionError)
ALL_KINDS = ["throttle", "error500", "reset_before", "reset_after", "delay"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def client(service: str, endpoint: str):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=CONFIG)


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    process = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 20
        while True:
            assert process.poll() is None, f"moto_server exited ({process.returncode})"
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=1):
                    break
            except (OSError, urllib.error.URLError):
                assert time.time() < deadline, "moto did not start"
                time.sleep(0.1)
        yield url
    finally:
        stop(process)


class Proxy:
    def __init__(self, url: str, process: subprocess.Popen):
        self.url = url
        self.process = process

    def state(self) -> dict:
        with urllib.request.urlopen(self.url + "/_faults", timeout=5) as res:
            return json.loads(res.read())

    def change(self, **changes) -> tuple[int, dict]:
        req = urllib.request.Request(self.url + "/_faults", data=json.dumps(changes).encode(), method="POST",
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                return res.status, json.loads(res.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def client(self, service: str):
        return client(service, self.url)


@pytest.fixture
def start_proxy(moto_url, tmp_path):
    """start_proxy(spec) → a running Proxy in front of the module's moto."""
    started: list[subprocess.Popen] = []

    def start(spec: str) -> Proxy:
        port = free_port()
        log = tmp_path / f"faults-{port}.log"
        process = subprocess.Popen([str(PYTHON), str(FAULTS), "--listen", f"127.0.0.1:{port}", "--upstream", moto_url,
                                    "--spec", spec], stdout=subprocess.PIPE, stderr=open(log, "wb"), cwd=ROOT)
        started.append(process)
        ready, _, _ = select.select([process.stdout], [], [], 10)
        line = process.stdout.readline().decode().strip() if ready else ""
        assert line == f"faults proxy listening on 127.0.0.1:{port}", (line, log.read_text())
        return Proxy(f"http://127.0.0.1:{port}", process)

    yield start
    for process in started:
        stop(process)
        process.stdout.close()


def error_code(call) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    response = caught.value.response
    assert response["ResponseMetadata"].get("RequestId"), "no x-amzn-RequestId / RequestId"
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def make_table(endpoint: str) -> str:
    name = f"faults-{uuid.uuid4().hex[:8]}"
    client("dynamodb", endpoint).create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    return name


def item(pk: str) -> dict:
    return {"pk": {"S": pk}, "body": {"S": "hello"}}


def in_moto(moto_url: str, table: str, pk: str) -> bool:
    return "Item" in client("dynamodb", moto_url).get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True)


def every_service_calls(proxy: Proxy, moto_url: str) -> dict:
    """One call per service (resources made straight on moto), each a zero-arg function."""
    table = make_table(moto_url)
    key_id = client("kms", moto_url).create_key()["KeyMetadata"]["KeyId"]
    return {
        "dynamodb": lambda: proxy.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "x"}}),
        "kms": lambda: proxy.client("kms").encrypt(KeyId=key_id, Plaintext=b"secret"),
        "sns": lambda: proxy.client("sns").publish(PhoneNumber=MOBILE, Message="hello"),
        "events": lambda: proxy.client("events").put_events(
            Entries=[{"Source": "rappel.test", "DetailType": "Test", "Detail": "{}"}]),
    }


# -- the spec -------------------------------------------------------------------------------


def test_spec_defaults_and_format():
    assert faults_module.parse_spec("") == {"enabled": True, "rate": 0.2, "seed": 1, "kinds": ALL_KINDS,
                                            "delay_ms": 500, "services": ["dynamodb", "kms", "sns", "events"]}
    spec = faults_module.parse_spec("rate=0.5,seed=7,kinds=throttle+delay,delay_ms=800,services=dynamodb+sns")
    assert spec == {"enabled": True, "rate": 0.5, "seed": 7, "kinds": ["throttle", "delay"], "delay_ms": 800,
                    "services": ["dynamodb", "sns"]}
    assert faults_module.parse_spec("off")["enabled"] is False
    assert faults_module.parse_spec("1")["enabled"] is True
    for bad in ["rate=2", "kinds=explode", "colour=blue", "seed=x", "delay_ms=-1"]:
        with pytest.raises(faults_module.SpecError):
            faults_module.parse_spec(bad)


def test_a_bad_spec_exits_2(moto_url):
    done = subprocess.run([str(PYTHON), str(FAULTS), "--listen", "127.0.0.1:0", "--upstream", moto_url,
                           "--spec", "rate=0.2,kinds=meteor"], capture_output=True, timeout=20)
    assert done.returncode == 2
    assert b"kinds" in done.stderr


# -- pass-through ---------------------------------------------------------------------------


def test_rate_zero_every_call_passes_and_is_counted(start_proxy):
    proxy = start_proxy("rate=0,seed=3")
    dynamodb = proxy.client("dynamodb")
    table = f"faults-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    dynamodb.put_item(TableName=table, Item=item("a"))
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"] == item("a")
    kms = proxy.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert proxy.client("sns").publish(PhoneNumber=MOBILE, Message="hello")["MessageId"]
    put = proxy.client("events").put_events(Entries=[{"Source": "rappel.test", "DetailType": "Test", "Detail": "{}"}])
    assert put["FailedEntryCount"] == 0

    state = proxy.state()
    assert (state["enabled"], state["rate"], state["seed"]) == (True, 0.0, 3)
    assert state["requests"] == 7
    assert state["injected"] == {kind: 0 for kind in ALL_KINDS}
    assert state["history"] == []
    assert {op: counts["requests"] for op, counts in state["by_operation"].items()} == {
        "dynamodb.CreateTable": 1, "dynamodb.PutItem": 1, "dynamodb.GetItem": 1, "kms.CreateKey": 1,
        "kms.Encrypt": 1, "sns.Publish": 1, "events.PutEvents": 1}
    assert state["by_operation"]["sns.Publish"] == {"requests": 1, **{kind: 0 for kind in ALL_KINDS}}


def test_streams_and_moto_api_are_never_faulted(start_proxy, moto_url):
    proxy = start_proxy("rate=1,kinds=throttle+error500+reset_before+reset_after")
    streams = proxy.client("dynamodbstreams")
    for _ in range(5):
        assert streams.list_streams()["Streams"] is not None
    for _ in range(3):
        with urllib.request.urlopen(proxy.url + "/moto-api/", timeout=5) as res:
            assert res.status == 200
    state = proxy.state()
    assert state["by_operation"] == {"dynamodbstreams.ListStreams": {"requests": 5, **{k: 0 for k in ALL_KINDS}}}
    assert state["requests"] == 5 and sum(state["injected"].values()) == 0


# -- each kind ------------------------------------------------------------------------------


def test_throttle_is_each_services_own_throttling_error(start_proxy, moto_url):
    proxy = start_proxy("rate=1,kinds=throttle")
    calls = every_service_calls(proxy, moto_url)
    assert error_code(calls["dynamodb"]) == ("ThrottlingException", 400)
    assert error_code(calls["kms"]) == ("ThrottlingException", 400)
    assert error_code(calls["sns"]) == ("Throttling", 400)
    assert error_code(calls["events"]) == ("ThrottlingException", 400)
    state = proxy.state()
    assert state["injected"] == {"throttle": 4, "error500": 0, "reset_before": 0, "reset_after": 0, "delay": 0}
    assert state["by_operation"]["sns.Publish"]["throttle"] == 1
    assert [h["kind"] for h in state["history"]] == ["throttle"] * 4


def test_error500_is_each_services_internal_error(start_proxy, moto_url):
    proxy = start_proxy("rate=1,kinds=error500")
    calls = every_service_calls(proxy, moto_url)
    assert error_code(calls["dynamodb"]) == ("InternalServerError", 500)
    assert error_code(calls["kms"]) == ("KMSInternalException", 500)
    assert error_code(calls["sns"]) == ("InternalError", 500)
    assert error_code(calls["events"]) == ("InternalException", 500)
    assert proxy.state()["injected"]["error500"] == 4


def test_reset_before_the_write_does_not_happen(start_proxy, moto_url):
    proxy = start_proxy("rate=1,kinds=reset_before")
    table = make_table(moto_url)
    with pytest.raises(CONNECTION_ERRORS):
        proxy.client("dynamodb").put_item(TableName=table, Item=item("before"))
    assert not in_moto(moto_url, table, "before")
    assert proxy.state()["by_operation"]["dynamodb.PutItem"]["reset_before"] == 1


def test_reset_after_the_write_happens_but_the_caller_does_not_know(start_proxy, moto_url):
    proxy = start_proxy("rate=1,kinds=reset_after")
    table = make_table(moto_url)
    with pytest.raises(CONNECTION_ERRORS):
        proxy.client("dynamodb").put_item(TableName=table, Item=item("after"))
    assert in_moto(moto_url, table, "after")
    assert proxy.state()["by_operation"]["dynamodb.PutItem"]["reset_after"] == 1


def test_a_reset_is_a_real_rst(start_proxy):
    proxy = start_proxy("rate=1,kinds=reset_before")
    body = b'{"TableName":"nothing","Key":{"pk":{"S":"x"}}}'
    with socket.create_connection(("127.0.0.1", int(proxy.url.rsplit(":", 1)[1])), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n"
                     b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        with pytest.raises(ConnectionResetError):
            sock.recv(100)


def test_delay_answers_normally_but_late(start_proxy, moto_url):
    proxy = start_proxy("rate=1,kinds=delay,delay_ms=300")
    table = make_table(moto_url)
    dynamodb = proxy.client("dynamodb")
    began = time.monotonic()
    dynamodb.put_item(TableName=table, Item=item("late"))
    assert time.monotonic() - began >= 0.3
    assert in_moto(moto_url, table, "late")
    assert proxy.state()["injected"]["delay"] == 1


# -- determinism and runtime control --------------------------------------------------------


def outcomes(proxy: Proxy, table: str, count: int = 50) -> list[str]:
    """What `count` GetItem calls see: ok, a ClientError code, or reset."""
    dynamodb = proxy.client("dynamodb")
    seen = []
    for _ in range(count):
        try:
            dynamodb.get_item(TableName=table, Key={"pk": {"S": "x"}})
            seen.append("ok")
        except botocore.exceptions.ClientError as err:
            seen.append(err.response["Error"]["Code"])
        except CONNECTION_ERRORS:
            seen.append("reset")
    return seen


def test_the_same_seed_gives_the_same_faults(start_proxy, moto_url):
    table = make_table(moto_url)
    spec = "rate=0.5,seed=7,kinds=throttle+error500+reset_before+reset_after+delay,delay_ms=10"
    first, second, other = start_proxy(spec), start_proxy(spec), start_proxy(spec.replace("seed=7", "seed=8"))
    seen_first, seen_second = outcomes(first, table), outcomes(second, table)
    kinds_first = [(h["n"], h["kind"]) for h in first.state()["history"]]
    kinds_second = [(h["n"], h["kind"]) for h in second.state()["history"]]

    assert seen_first == seen_second
    assert kinds_first == kinds_second
    assert 10 <= len(kinds_first) <= 40  # rate 0.5 over 50
    assert {kind for _, kind in kinds_first} == set(ALL_KINDS)
    assert first.state()["requests"] == 50

    outcomes(other, table)
    assert [(h["n"], h["kind"]) for h in other.state()["history"]] != kinds_first

    # Reseeding at runtime replays the sequence from its start.
    status, state = first.change(seed=7, reset=True)
    assert status == 200 and state["requests"] == 0 and state["history"] == []
    assert outcomes(first, table) == seen_first
    assert [(h["n"], h["kind"]) for h in first.state()["history"]] == kinds_first


def test_runtime_control_stops_and_restarts_injection(start_proxy, moto_url):
    proxy = start_proxy("rate=1,kinds=throttle")
    table = make_table(moto_url)
    assert outcomes(proxy, table, 3) == ["ThrottlingException"] * 3

    status, state = proxy.change(enabled=False)
    assert status == 200 and state["enabled"] is False and state["injected"]["throttle"] == 3
    assert outcomes(proxy, table, 10) == ["ok"] * 10
    state = proxy.state()
    assert state["injected"]["throttle"] == 3 and state["requests"] == 13

    status, state = proxy.change(enabled=True, kinds=["error500"])
    assert status == 200 and state["enabled"] is True and state["kinds"] == ["error500"]
    assert outcomes(proxy, table, 2) == ["InternalServerError"] * 2

    status, state = proxy.change(rate=0)
    assert status == 200 and state["rate"] == 0
    assert outcomes(proxy, table, 2) == ["ok"] * 2

    # Invalid changes are refused whole and change nothing.
    for bad in [{"rate": 2}, {"kinds": ["meteor"]}, {"enabled": True, "colour": "blue"}]:
        status, answer = proxy.change(**bad)
        assert status == 400 and "error" in answer
    state = proxy.state()
    assert (state["enabled"], state["rate"], state["kinds"]) == (True, 0, ["error500"])
