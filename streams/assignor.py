"""Faust's partition assignor for a group whose workers run different roles.

The group's leader computes every member's assignment, and Faust's assignor hands a member the standby partitions
of a table's changelog only for the changelogs of the leader's own tables. A worker of the analyze role has no table,
so when it led the group a standby decide worker was given its changelog partition in Faust's metadata but not in
Kafka's assignment, and Faust's check of the two failed in that worker's coordinator: it never joined (a test, led
by an analyze worker, reproduced it each time). Here every member counts the changelogs of every role's tables.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from faust.assignor import PartitionAssignor
from faust.types import AppT
from faust.types.tables import TableManagerT


class _GroupTables:
    """The worker's table manager as the assignor reads it, with the changelog topics of the other roles' tables."""

    def __init__(self, tables: TableManagerT, group_changelogs: frozenset[str]) -> None:
        self._tables = tables
        self._group_changelogs = group_changelogs

    @property
    def changelog_topics(self) -> set[str]:
        return set(self._tables.changelog_topics) | self._group_changelogs

    def __getattr__(self, name: str) -> Any:  # the rest as the table manager has it (``data``, for global tables)
        return getattr(self._tables, name)


class GroupAssignor(PartitionAssignor):  # type: ignore[misc]  # faust's classes are untyped for mypy
    def __init__(self, app: AppT, replicas: int = 0, *, group_changelogs: frozenset[str] = frozenset()) -> None:
        super().__init__(app, replicas=replicas)
        self._table_manager = _GroupTables(app.tables, group_changelogs)


def group_assignor(group_changelogs: frozenset[str]) -> Callable[..., GroupAssignor]:
    """The ``PartitionAssignor`` option of a worker whose group's tables have these changelog topics."""
    return functools.partial(GroupAssignor, group_changelogs=group_changelogs)
