"""JSON log lines: one object per record, with the job and its owner, never a visitor's id."""

from __future__ import annotations

import json
import logging

from visionary_app.logs import JsonFormatter, _JobFields, job_context


def _line(record_maker) -> dict:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    handler.addFilter(_JobFields())
    logger = logging.getLogger("visionary_app.test_logs")
    logger.addHandler(handler)
    try:
        record_maker(logger)
    finally:
        logger.removeHandler(handler)
    (record,) = records
    return json.loads(JsonFormatter().format(record))


def test_a_record_inside_a_job_names_the_job_and_a_hash_of_the_visitor():
    visitor = "visitor:0123456789abcdef0123456789abcdef"

    def log(logger):
        with job_context("ab12", visitor):
            logger.warning("storing %s failed", "images/x.png")

    line = _line(log)
    assert line["message"] == "storing images/x.png failed" and line["level"] == "WARNING"
    assert line["job_id"] == "ab12" and line["owner"].startswith("visitor:#")
    assert "0123456789abcdef" not in json.dumps(line)


def test_users_are_named_and_exceptions_kept_and_no_job_means_no_job_fields():
    def log(logger):
        with job_context("cd34", "user:alice"):
            pass
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("outside any job")

    line = _line(log)
    assert "job_id" not in line and "owner" not in line
    assert "ValueError: boom" in line["exception"]
    with job_context("cd34", "user:alice"):
        assert _line(lambda logger: logger.warning("x"))["owner"] == "user:alice"
