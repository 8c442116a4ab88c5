"""People's side of alert episodes: list the open ones, acknowledge or snooze one.

An episode lives on its site's item (`pipeline.episodes`), which files rewrite whole when
their claim stores readings. A mark must survive that, so it is written to the episode's
own fields only, on the condition that the episode is still the one the person saw (same
rule and start), and it moves the site's `history_version` on: a file that read the site
before the mark then fails its claim and reads it again. A file's retry, which judges
against the episodes from before its first try, takes people's marks from the item
(`SiteEpisodes.with_marks_of`). So no mark waits for a file, and none is lost to one.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.aws import client
from pipeline.dynamo import marshal, unmarshal
from pipeline.episodes import Episode, SiteEpisodes
from pipeline.settings import Settings
from pipeline.timestamps import now_text

MARK_ATTEMPTS = 3  # a mark races only with an episode resolving and restarting under it


class NoOpenEpisode(ValueError):
    """The site has no open episode of that rule (it resolved, or never started)."""


@dataclass(frozen=True)
class OpenEpisode:
    site_id: str
    episode: Episode


def open_episodes(settings: Settings) -> list[OpenEpisode]:
    """Every open episode, by site and rule. The sites table is small (one item per site),
    and only the episodes attribute is read."""
    dynamodb = client(settings, "dynamodb")
    found = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=settings.sites_table,
        ProjectionExpression="site_id, episodes",
        FilterExpression="attribute_exists(episodes)",
    ):
        for item in map(unmarshal, page["Items"]):
            state = SiteEpisodes.from_item(item.get("episodes"))
            found += [OpenEpisode(item["site_id"], state.open[rule]) for rule in sorted(state.open)]
    return sorted(found, key=lambda o: (o.site_id, o.episode.rule))


def acknowledge(settings: Settings, site_id: str, rule: str, by: str) -> Episode:
    """Stop the episode's reminders until it resolves, recording who and when (wall clock)."""
    when = now_text()
    return _mark(settings, site_id, rule, {"acknowledged_by": by, "acknowledged_at": when})


def snooze(settings: Settings, site_id: str, rule: str, until: str) -> Episode:
    """Stop the episode's reminders until readings from `until` on (ISO, UTC) arrive."""
    return _mark(settings, site_id, rule, {"snoozed_until": until})


def _mark(settings: Settings, site_id: str, rule: str, fields: dict[str, str]) -> Episode:
    dynamodb = client(settings, "dynamodb")
    for _ in range(MARK_ATTEMPTS):
        item = dynamodb.get_item(
            TableName=settings.sites_table, Key=marshal({"site_id": site_id}), ConsistentRead=True
        ).get("Item")
        episode = SiteEpisodes.from_item(unmarshal(item).get("episodes") if item else None).open.get(rule)
        if episode is None:
            raise NoOpenEpisode(f"site {site_id} has no open {rule} episode (it resolved, or never started)")
        names = {"#e": "episodes", "#o": "open", "#r": rule, **{f"#f{i}": f for i, f in enumerate(fields)}}
        values = {":started": episode.started, ":one": 1, **{f":f{i}": v for i, v in enumerate(fields.values())}}
        try:
            dynamodb.update_item(
                TableName=settings.sites_table,
                Key=marshal({"site_id": site_id}),
                UpdateExpression="SET "
                + ", ".join(f"#e.#o.#r.#f{i} = :f{i}" for i in range(len(fields)))
                + " ADD history_version :one",
                ConditionExpression="#e.#o.#r.started = :started",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=marshal(values),
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            continue  # resolved (and maybe restarted) since it was read: look again
        return Episode.from_item({**episode.to_item(), **fields})
    raise NoOpenEpisode(f"site {site_id}'s {rule} episode keeps changing; try again")
