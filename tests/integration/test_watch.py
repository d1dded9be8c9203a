"""`trailtop watch` against the sandbox over HTTP: metrics scraped and parsed, a trail broken
and mended, one message per transition at a webhook and an SNS topic (read through a
subscribed SQS queue), and a receiver that hangs then fails holding no sweep back."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from core.engine.sweep import engine_from_settings
from core.settings import load_settings
from core.watch.notify import sinks_from_settings
from core.watch.run import Watcher
from sandbox import Sandbox
from tests.support.engine import aws_env

ONE_TRAIL = {"accounts": 1, "regions": 1, "trails": 1, "multi_region_trails": 0, "broken": 0}


class Receiver:
    """A webhook that hangs on its first request (until released), answers 500 to the
    next one, and accepts every later one; it records what it saw and what it answered."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.hanging = threading.Event()
        self.seen: list[tuple[str, str, int]] = []  # (kind, id, status answered)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    n = len(receiver.seen)
                    status = 500 if n == 1 else 200
                    receiver.seen.append((body["kind"], body["id"], 0 if n == 0 else status))
                if n == 0:
                    receiver.hanging.set()
                    receiver.release.wait(30)
                    return  # the client gave up long ago: no answer at all
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def accepted(self, kind: str) -> list[str]:
        with self.lock:
            return [i for k, i, s in self.seen if k == kind and s == 200]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


async def until(
    what: str,
    check: Callable[[], Awaitable[bool]],
    timeout: float = 20.0,
    poke: Callable[[], None] | None = None,
) -> None:
    """Poll an observable condition (a scrape, a queue) until it holds; `poke` (a
    watcher's wake) is called each round so the test need not wait out the interval."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():
        if poke is not None:
            poke()
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_watch_metrics_and_notifications_against_the_sandbox(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sb = sandbox_factory("bench", delivery_interval=3600, scenario_args=ONE_TRAIL)
    sb.deliver()
    (trail,) = sb.manifest["trails"]
    s3 = sb.boto3_client("s3", account=trail["account"], region=trail["home_region"])
    policy = s3.get_bucket_policy(Bucket=trail["bucket"])["Policy"]
    sns = sb.boto3_client("sns")
    sqs = sb.boto3_client("sqs")
    topic = sns.create_topic(Name="trailtop-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="trailtop-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    receiver = Receiver()
    out = io.StringIO()
    with aws_env(sb):
        settings, _ = load_settings(
            None,
            {
                "aws": {"profiles": ["bench-mgmt"], "endpoint_url": sb.endpoint_url},
                "poll": {"interval_seconds": 1, "max_attempts": 2, "read_timeout_seconds": 5},
                "metrics": {"port": 0},
                "notify": {
                    "webhook_url": receiver.url,
                    "sns_topic_arn": topic,
                    "sns_profile": "bench-mgmt",
                    "timeout_seconds": 0.3,
                    "retry_initial_seconds": 0.05,
                    "retry_max_seconds": 0.2,
                },
            },
        )
        engine = engine_from_settings(settings)
        engine.culprits = None  # who broke it is covered elsewhere; here it only costs time
        watcher = Watcher(engine, settings, out, sinks_from_settings(settings))
        watcher.start_metrics()  # bound before the first sweep, as the command does
        run = asyncio.create_task(watcher.run())
        sqs_seen: list[dict[str, Any]] = []
        try:
            async with aiohttp.ClientSession() as http:
                metrics: dict[str, list[tuple[dict[str, str], float]]] = {}

                async def scrape() -> bool:
                    assert watcher.server is not None
                    async with http.get(watcher.server.url) as resp:
                        text = await resp.text()
                    metrics.clear()
                    for fam in text_string_to_metric_families(text):
                        for s in fam.samples:
                            metrics.setdefault(s.name, []).append((s.labels, s.value))
                    return True

                def state_is(state: str) -> Callable[[], Awaitable[bool]]:
                    async def check() -> bool:
                        await scrape()
                        return any(
                            lab["trail"] == trail["name"] and lab["state"] == state and v == 1
                            for lab, v in metrics.get("trailtop_view_state", [])
                        )

                    return check

                def sweeps() -> float:
                    return metrics["trailtop_sweeps_total"][0][1]

                def drain_sqs() -> None:
                    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
                    for m in got.get("Messages", []):
                        sqs_seen.append(json.loads(m["Body"]))
                        sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])

                def sqs_has(kind: str) -> Callable[[], Awaitable[bool]]:
                    async def check() -> bool:
                        await asyncio.to_thread(drain_sqs)
                        return any(m["kind"] == kind for m in sqs_seen)

                    return check

                await until("the trail judged ok", state_is("ok"))
                assert value_of(metrics, "trailtop_target_reachable") == [1.0]

                # Break the trail: CloudTrail's next delivery is refused.
                s3.delete_bucket_policy(Bucket=trail["bucket"])
                sb.deliver()
                await scrape()
                broken_at = sweeps()
                await until(
                    "the state metric to say failing", state_is("failing"), poke=watcher.wake
                )
                assert sweeps() <= broken_at + 2, "the state changed later than two sweeps"

                # The webhook hangs on the message: sweeps go on regardless.
                await until("the webhook to hang", lambda: _flag(receiver.hanging))
                await scrape()
                hung_at = sweeps()

                async def two_more_sweeps() -> bool:
                    await scrape()
                    return sweeps() >= hung_at + 2

                await until(
                    "two sweeps while the webhook hangs", two_more_sweeps, poke=watcher.wake
                )
                receiver.release.set()
                await until("the failing message accepted", lambda: _has(receiver, "failing"))
                await until("the failing message on SNS", sqs_has("failing"))

                # Mend it: one recovered message each.
                s3.put_bucket_policy(Bucket=trail["bucket"], Policy=policy)
                sb.deliver()
                await until("the state metric to say ok", state_is("ok"), poke=watcher.wake)
                await until("the recovered message accepted", lambda: _has(receiver, "recovered"))
                await until("the recovered message on SNS", sqs_has("recovered"))
                await scrape()
                settled = sweeps()

                async def one_more_sweep() -> bool:
                    await scrape()
                    return sweeps() > settled

                await until("one more sweep", one_more_sweep, poke=watcher.wake)
                await asyncio.to_thread(drain_sqs)
        finally:
            watcher.stop()
            await asyncio.wait_for(run, 10)
            receiver.stop()

    for kind in ("failing", "recovered"):
        assert len(receiver.accepted(kind)) == 1, receiver.seen
        assert len({i for k, i, _s in receiver.seen if k == kind}) == 1, receiver.seen
        assert [m["kind"] for m in sqs_seen].count(kind) == 1, sqs_seen
    assert [s for k, _i, s in receiver.seen if k == "failing"] == [0, 500, 200]
    failing = next(m for m in sqs_seen if m["kind"] == "failing")
    # No bucket policy at all: the first of the missing grants leads.
    assert failing["root_cause"]["code"] in {
        "S3_POLICY_ACL_CHECK_MISSING",
        "S3_POLICY_DENIES_CLOUDTRAIL",
    }, failing
    assert failing["plan_ids"], failing
    assert failing["trail"] == trail["name"]
    assert failing["id"] == receiver.accepted("failing")[0]
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events[0] == "start" and events[-1] == "stop"
    assert events.count("transition") == 2
    assert watcher.server is None  # the endpoint is closed on stop


def value_of(metrics: dict[str, list[tuple[dict[str, str], float]]], name: str) -> list[float]:
    return [v for _lab, v in metrics.get(name, [])]


async def _flag(event: threading.Event) -> bool:
    return event.is_set()


async def _has(receiver: Receiver, kind: str) -> bool:
    return bool(receiver.accepted(kind))


def test_watch_stops_cleanly_on_sigterm(sandbox_factory: Callable[..., Sandbox]) -> None:
    """What systemd does to stop it: SIGTERM ends the watcher with its `stop` line, exit 0,
    no traceback, and its clients closed (no 'Unclosed' warning)."""
    import os
    import signal
    import subprocess
    import sys

    sb = sandbox_factory("empty")
    env = sb.process_env({k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "watch", "--profile", "default", "--region",
         "us-east-1", "--endpoint-url", sb.endpoint_url, "--interval", "1", "--no-metrics"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "start", first
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert proc.returncode == 0, err[-2000:]
    assert lines and lines[-1]["event"] == "stop", lines
    assert "Traceback" not in err and "Unclosed" not in err, err[-2000:]
