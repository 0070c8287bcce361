"""The STATUS= line: one human line from the running parts' facts."""

from __future__ import annotations

from v7d.supervise.status_line import StatusFacts, status_line


class TestStatusLine:
    """What systemctl status shows in each situation."""

    def test_streaming_with_everything(self) -> None:
        """The issue's example line, piece by piece."""
        facts = StatusFacts(
            streams_live=1, streams_total=1, symbols=12, lag_ms=38, trades=1_204_331,
            backfill_pct=40.0,
        )  # fmt: skip
        assert status_line(facts) == (
            "streaming 12 symbols · lag 38 ms · 1,204,331 trades · backfill 40%"
        )

    def test_stream_down_paused_and_stopped_accounts(self) -> None:
        """Polling when the stream is down; paused first; stopped accounts named."""
        facts = StatusFacts(
            streams_live=0, streams_total=2, symbols=1, paused=True, stopped_accounts=("b",)
        )
        assert status_line(facts) == (
            "paused (stream only) · stream down · polling 1 symbol · stopped: b"
        )

    def test_phases_override_details(self) -> None:
        """Starting, reloading and stopping are said plainly."""
        assert status_line(StatusFacts(phase="starting", trades=5)) == "starting"
        assert status_line(StatusFacts(phase="reloading")) == "reloading config"
        assert status_line(StatusFacts(phase="stopping")) == "stopping"
