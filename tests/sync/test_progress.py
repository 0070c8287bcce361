"""Job progress and pass report bookkeeping (pure)."""

from __future__ import annotations

from v7d.sync.progress import JobParams, JobProgress
from v7d.sync.report import PassReport, Tally


class TestJobProgress:
    """The persisted progress of a backfill job."""

    def test_round_trip(self) -> None:
        """Progress survives JSON unchanged."""
        p = JobProgress(phase="symbols", symbols=["BTCUSDT"], next_window=3, page={"from_id": 9})
        p.add_rows({"trades": 5, "orders": 0})
        assert JobProgress.from_json(p.to_json()) == p
        assert p.rows == {"trades": 5}

    def test_unknown_keys_are_ignored(self) -> None:
        """Progress written by a newer version still loads."""
        p = JobProgress.from_json('{"phase": "done", "future_field": 1}')
        assert p.phase == "done"
        assert JobProgress.from_json("") == JobProgress()

    def test_eta(self) -> None:
        """ETA scales the active time by the windows left."""
        p = JobProgress(windows_done=2, windows_total=10)
        p.update_eta(4_000)
        assert p.eta_s == 16.0
        p = JobProgress()
        p.update_eta(1_000)
        assert p.eta_s is None

    def test_errors_are_bounded(self) -> None:
        """Only the last 20 errors are kept."""
        p = JobProgress()
        for i in range(30):
            p.note_error(f"e{i}")
        assert p.errors[0] == "e10" and len(p.errors) == 20
        assert p.summary()["errors"] == ["e25", "e26", "e27", "e28", "e29"]

    def test_params_round_trip(self) -> None:
        """Job parameters survive JSON, symbols as a tuple."""
        params = JobParams(days=2.5, start_ms=1, end_ms=2, created_ms=3, symbols=("A", "B"))
        assert JobParams.from_json(params.to_json()) == params


class TestPassReport:
    """A pass's counters frozen into a report."""

    def test_from_tally(self) -> None:
        """Requests, weight, rows and errors carry over."""
        t = Tally()
        t.request(5)
        t.request(30)
        t.add_rows({"trades": 3, "income": 0})
        t.error("boom")
        r = PassReport.from_tally(t, started_ms=1, finished_ms=2, symbols=4)
        assert (r.requests, r.weight, r.rows, r.errors, r.symbols) == (
            2,
            35,
            {"trades": 3},
            ["boom"],
            4,
        )
        assert not r.ok
        assert r.to_dict()["weight"] == 35
