"""The training watchdog: tells a busy training process from a hung one, and ends a hung one
that was asked to stop.

The training process sends a ``Heartbeat`` about once a second from a thread of its own (and
every other event is a sign of life too). ``Watchdog`` is the decision alone, on a clock the
caller passes in, so it is tested without processes; ``TrainingController`` feeds it what it
hears and carries out what ``check`` answers:

- "silent": nothing heard for ``silent_after`` seconds while a run is active (say so; it may
  still come back: ``heard`` answers True then);
- after Stop, "terminate" once the process has been quiet for ``stop_grace`` seconds since
  the later of the Stop and the last sign of life (a process that keeps sending heartbeats is
  finishing its step, and gets up to ``stop_patience`` seconds), then "kill" ``stop_grace``
  seconds after the terminate if it is still there.
"""

from __future__ import annotations

from dataclasses import dataclass

SILENT_AFTER = 5.0  # seconds without a sign of life before a run's process is called silent
STOP_GRACE = 2.0  # seconds of quiet after Stop before terminate(), and from terminate to kill()
STOP_PATIENCE = 30.0  # seconds after Stop before terminate() even while heartbeats come


@dataclass
class Watchdog:
    """When the process of an active run is silent, and when to end one that does not stop."""

    silent_after: float = SILENT_AFTER
    stop_grace: float = STOP_GRACE
    stop_patience: float = STOP_PATIENCE
    heard_at: float = 0.0
    silent: bool = False
    stop_asked_at: float | None = None
    terminated_at: float | None = None
    killed: bool = False

    def reset(self, now: float) -> None:
        """A fresh process or a new run: nothing asked, heard just now."""
        self.heard_at = now
        self.silent = False
        self.stop_asked_at = self.terminated_at = None
        self.killed = False

    @property
    def ended(self) -> bool:
        """The watchdog ended the process (terminate or kill was answered)."""
        return self.terminated_at is not None

    def heard(self, now: float) -> bool:
        """The process sent something; True when it had been called silent."""
        self.heard_at = now
        was, self.silent = self.silent, False
        return was

    def stop_asked(self, now: float) -> None:
        if self.stop_asked_at is None:
            self.stop_asked_at = now

    def run_ended(self) -> None:
        """The run finished by itself: no stop is pending any more."""
        self.stop_asked_at = None

    def check(self, now: float, active: bool) -> str | None:
        """What to do now: None, "silent", "terminate" or "kill" (each answered once)."""
        if not active:
            return None
        asked = self.stop_asked_at
        if asked is not None and self.terminated_at is None:
            quiet = now - max(self.heard_at, asked)
            if quiet >= self.stop_grace or now - asked >= self.stop_patience:
                self.terminated_at = now
                return "terminate"
        elif self.terminated_at is not None and not self.killed \
                and now - self.terminated_at >= self.stop_grace:
            self.killed = True
            return "kill"
        if not self.silent and now - self.heard_at >= self.silent_after:
            self.silent = True
            return "silent"
        return None
