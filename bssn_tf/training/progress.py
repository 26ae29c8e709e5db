"""What a run tells its user: one progress line per logged step and per evaluation, and a
summary at the end."""

import os
import sys
import time


def format_duration(seconds):
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


class ProgressReporter:
    """Progress lines on stderr: step, steps/s, ETA, latest losses.

    The rate is wall-clock over the whole loop since `start()`: tracing,
    sampling, evaluation, exports and checkpoints all count, so the ETA is the
    time the run will really take if the mix stays the same.
    """

    def __init__(self, total_steps, stream=sys.stderr, clock=time.monotonic):
        self._total = total_steps
        self._stream = stream
        self._clock = clock
        self._start = None

    def start(self, step):
        """Marks the loop's start at `step` (the resumed step of a resumed run)."""
        self._start = (step, self._clock())

    def report(self, step, losses):
        now = self._clock()
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

    def report_evaluation(self, step, results):
        """One line per evaluation, so the console shows what metrics.csv records."""
        self._stream.write(f"evaluation at step {step}: {describe_evaluation(results)}\n")
        self._stream.flush()


def describe_evaluation(results):
    """'FCD 26.6, classifier score 6.53[, class consistency 97.0%]' of one evaluation."""
    described = f"FCD {results['fcd']:.4g}, classifier score {results['classifier_score']:.4g}"
    if results.get("class_consistency") is not None:
        described += f", class consistency {100 * results['class_consistency']:.1f}%"
    return described


def run_summary(result):
    """A few lines on a finished run (`train`'s result): step, metrics, time, where things are."""
    resumed = f" (resumed at step {result['start_step']})" if result["start_step"] else ""
    lines = [
        f"trained to step {result['steps']}{resumed}; training time "
        f"{format_duration(result['wall_time_s'])} over all starts"
    ]
    last_eval = result.get("last_eval")
    if last_eval:
        lines.append(
            f"last evaluation at step {last_eval['step']}: {describe_evaluation(last_eval)}"
        )
    for label, key in (
        ("generator export", "export_dir"),
        ("lowest-FCD export", "best_export_dir"),
        ("sample grids", "samples_dir"),
    ):
        if result.get(key):
            lines.append(f"{label}: {os.path.normpath(result[key])}")
    return "\n".join(lines)
