"""What a SIGHUP may change: new ``[sync]`` and ``[log]`` apply, everything else waits.

The daemon re-reads the file on SIGHUP (a bad file raises and the running config stays),
then calls :func:`diff_for_reload` to get the config to run with and the keys it must log
as "needs restart".
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from v7d.config.model import Config

__all__ = ["RUNTIME_RELOADABLE", "diff_for_reload"]

RUNTIME_RELOADABLE: frozenset[str] = frozenset({"sync", "log"})

# Sections compared key by key; ``accounts`` (a tuple of tables) is compared whole.
_SECTIONS = ("storage", "exchange", "sync", "api", "daemon", "log")


def _changed_keys(old: Config, new: Config, section: str) -> list[str]:
    old_part: Any = getattr(old, section)
    new_part: Any = getattr(new, section)
    return [
        f"{section}.{f.name}"
        for f in fields(old_part)
        if getattr(old_part, f.name) != getattr(new_part, f.name)
    ]


def diff_for_reload(old: Config, new: Config) -> tuple[Config, list[str]]:
    """Return ``(config to apply, dotted keys that changed but need a restart)``.

    The config to apply is ``old`` with ``new``'s reloadable sections swapped in, so a
    changed ``[storage].path`` keeps its old value until the daemon restarts.
    """
    needs_restart: list[str] = []
    for section in _SECTIONS:
        if section not in RUNTIME_RELOADABLE:
            needs_restart.extend(_changed_keys(old, new, section))
    if old.accounts != new.accounts or old.multi_account != new.multi_account:
        needs_restart.append("accounts")
    applied = replace(old, **{s: getattr(new, s) for s in sorted(RUNTIME_RELOADABLE)})
    return replace(applied, source=new.source), needs_restart
