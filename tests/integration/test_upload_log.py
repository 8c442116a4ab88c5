"""The simulator's upload log, read back from S3 newest first, across days."""

from datetime import UTC, datetime, timedelta

from pipeline.ops.simulated_uploads import upload_log, upload_simulated


def test_newest_first_across_days_and_only_as_many_as_asked(settings):
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    older = upload_simulated(settings, sites=1, readings_per_site=2, when=now - timedelta(days=2))
    newer = upload_simulated(settings, sites=1, readings_per_site=2, when=now)

    assert [u.key for u in upload_log(settings)] == [newer.key, older.key]
    assert [u.key for u in upload_log(settings, limit=1)] == [newer.key]
    assert upload_log(settings)[0].labels == newer.labels
