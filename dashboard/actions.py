"""What the app changes in the stack, and the caches each change makes stale."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import data
from pipeline.aws import caller_arn
from pipeline.ops import dead_letters, episode_marks, record_edits, site_registry
from pipeline.ops.site_fields import SiteChange
from pipeline.records import Record
from pipeline.settings import Settings


def redrive_dead_letters(settings: Settings, expected: int) -> int:
    """Send dead letters back to the raw-events queue; returns how many moved.

    Listing the DLQ hides each message for a couple of seconds (that is how SQS lets one
    look), so a redrive right after a listing retries until those are visible again.
    """
    moved = dead_letters.redrive(settings)
    deadline = time.monotonic() + dead_letters.PEEK_VISIBILITY_SECONDS + 1
    while moved < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        moved += dead_letters.redrive(settings)
    data.clear_after_redrive()
    return moved


def save_sites(settings: Settings, changes: list[SiteChange]) -> list[site_registry.Saved]:
    """Write checked site changes; the next file processed reads them (see pages/sites.py)."""
    saved = site_registry.save(settings, changes)
    data.clear_after_site_edit()
    return saved


def acknowledge_episode(settings: Settings, site_id: str, rule: str, name: str) -> str:
    """Acknowledge in the name given, or else as the AWS identity in use; returns who."""
    by = name.strip() or caller_arn(settings)
    episode_marks.acknowledge(settings, site_id, rule, by)
    data.episode_frame.clear()
    return by


def snooze_episode(settings: Settings, site_id: str, rule: str, until: str) -> None:
    episode_marks.snooze(settings, site_id, rule, until)
    data.episode_frame.clear()


def editor(settings: Settings) -> str:
    """Who an edit is recorded as: the signed-in user (email, else name), else the AWS
    identity the app runs with."""
    user = st.user.to_dict()
    if user.get("is_logged_in"):
        name = user.get("email") or user.get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
    return data.aws_identity(settings)


def correct_reading(
    settings: Settings, site_id: str, timestamp: str, generated: str | None, consumed: str | None, why: str
) -> Record:
    """Correct a reading in the editor's name (`record_edits.correct`); the loaders that show it are cleared."""
    record = record_edits.correct(
        settings, site_id, timestamp, by=editor(settings), why=why, generated=generated, consumed=consumed
    )
    data.clear_after_record_edit()
    return record


def dismiss_reading(settings: Settings, site_id: str, timestamp: str, why: str) -> Record:
    """Mark a flagged reading as a false positive in the editor's name."""
    record = record_edits.dismiss(settings, site_id, timestamp, by=editor(settings), why=why)
    data.clear_after_record_edit()
    return record
