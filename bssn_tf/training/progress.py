"""One progress line per logged step on stderr: step, steps/s, ETA, latest losses."""

import sys
import time


def format_duration(seconds):
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


class ProgressReporter:
    """Rates are measured from the first reported step, so tracing time is excluded."""

    def __init__(self, total_steps, stream=sys.stderr):
        self._total = total_steps
        self._stream = stream
        self._start = None

    def report(self, step, losses):
        now = time.monotonic()
        if self._start is None:
            self._start = (step, now)
        first_step, first_time = self._start
        elapsed = now - first_time
        rate = (step - first_step) / elapsed if elapsed > 0 else 0.0
        speed = f"{rate:.2f} steps/s" if rate > 0 else "? steps/s"
        eta = format_duration((self._total - step) / rate) if rate > 0 else "?"
        described = " ".join(f"{name} {value:.4f}" for name, value in losses.items())
        self._stream.write(f"step {step}/{self._total} | {speed} | ETA {eta} | {described}\n")
        self._stream.flush()
