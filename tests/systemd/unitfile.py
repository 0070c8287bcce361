"""Read a systemd unit file into {section: {key: [values...]}} (keys may repeat)."""

from __future__ import annotations

from pathlib import Path


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Parse ``path``; comments and blank lines are skipped, repeated keys accumulate."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None:
            raise ValueError(f"{path}: key outside a section: {line!r}")
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def seconds(value: str) -> float:
    """A systemd time span made only of a number and an optional s/min unit, in seconds."""
    for unit, factor in (("min", 60.0), ("s", 1.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    return float(value)
