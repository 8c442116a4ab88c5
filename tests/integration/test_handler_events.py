"""The handler on events shaped like what AWS and moto send (fixtures in tests/events/)."""

import json

from pipeline import raw_files
from pipeline.file_outcomes import file_outcomes
from pipeline.record_store import site_records
from tests.conftest import load_event

FIXTURE_KEY = "raw/2026/11/29/site readings+1.json"  # URL-encoded in the fixtures
READING = {
    "site_id": "site-1",
    "timestamp": "2026-11-29T06:00:00Z",
    "energy_generated_kwh": 1,
    "energy_consumed_kwh": 2,
}


def test_sqs_event_with_an_encoded_key(settings, handler, lambda_context):
    # GIVEN the file the fixture's notification names
    raw_files.upload(settings, FIXTURE_KEY, json.dumps([READING]).encode())
    # WHEN the handler receives the SQS event
    response = handler(load_event("sqs_s3_put.json"), lambda_context, settings=settings)
    # THEN every message succeeded and the reading is stored
    assert response == load_event("response_all_succeeded.json")
    assert [r.source_key for r in site_records(settings, "site-1")] == [FIXTURE_KEY]


def test_s3_test_event_succeeds_and_does_nothing(settings, handler, lambda_context):
    assert handler(load_event("sqs_s3_test_event.json"), lambda_context, settings=settings) == {"batchItemFailures": []}


def test_plain_s3_event(settings, handler, lambda_context):
    raw_files.upload(settings, FIXTURE_KEY, json.dumps([READING]).encode())
    assert handler(load_event("s3_put.json"), lambda_context, settings=settings) == {"batchItemFailures": []}
    assert file_outcomes(settings, [FIXTURE_KEY])[FIXTURE_KEY].written == 1


def test_only_the_failing_message_of_a_batch_is_retried(settings, handler, lambda_context):
    good = load_event("sqs_s3_put.json")["Records"][0]
    raw_files.upload(settings, FIXTURE_KEY, json.dumps([READING]).encode())
    broken = {**good, "messageId": "broken", "body": "not an S3 notification"}
    response = handler({"Records": [good, broken]}, lambda_context, settings=settings)
    assert response == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    assert len(list(site_records(settings, "site-1"))) == 1


def test_a_file_deleted_before_processing_is_skipped(settings, handler, lambda_context):
    assert handler(load_event("sqs_s3_put.json"), lambda_context, settings=settings) == {"batchItemFailures": []}
    assert file_outcomes(settings, [FIXTURE_KEY]) == {}


def test_structured_log_line_per_file(settings, handler, lambda_context, capsys):
    raw_files.upload(settings, FIXTURE_KEY, json.dumps([READING]).encode())
    handler(load_event("sqs_s3_put.json"), lambda_context, settings=settings)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    [processed] = [line for line in lines if line["event"] == "file_processed"]
    assert processed["source_key"] == FIXTURE_KEY and processed["written"] == 1 and "duration_ms" in processed


def test_every_log_line_of_an_invocation_names_its_request_id(settings, handler, lambda_context, capsys):
    raw_files.upload(settings, FIXTURE_KEY, json.dumps([READING]).encode())
    handler(load_event("sqs_s3_put.json"), lambda_context, settings=settings)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert lines and {line.get("request_id") for line in lines} == {lambda_context.aws_request_id}


def test_messages_the_invocation_has_no_time_for_are_handed_back_not_failed(settings, handler, runner):
    class AlmostOut:
        aws_request_id = "late"

        def get_remaining_time_in_millis(self):
            return 3_000

    raw_files.upload(settings, FIXTURE_KEY, json.dumps([READING]).encode())
    event = load_event("sqs_s3_put.json")
    event["Records"][0]["eventSourceARN"] = f"arn:aws:sqs:{settings.region}:123456789012:{settings.queue}"
    runner.drain()  # the upload's own notification, and S3's test event
    processed_once = file_outcomes(settings, [FIXTURE_KEY])[FIXTURE_KEY].processed_at

    assert handler(event, AlmostOut(), settings=settings) == {"batchItemFailures": []}
    assert runner.pending() == 1, "a new message for the file is back on the queue"
    assert file_outcomes(settings, [FIXTURE_KEY])[FIXTURE_KEY].processed_at == processed_once, "not processed now"
    runner.drain()
    assert runner.stats.failed == 0 and len(list(site_records(settings, "site-1"))) == 1
