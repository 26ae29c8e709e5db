"""Several training runs at once, one process each, sharing out the CPU cores.

A narrow GAN cannot keep two threads busy, so grids of small runs finish
sooner as single-threaded runs side by side than one after another at full
width. Each run gets a fresh spawned process, so no TensorFlow state
(threads, XLA caches, memory) leaks from one run into the next.
"""

import multiprocessing
import os

from bssn_tf.training.checkpoints import NonFiniteLossError
from bssn_tf.training.config import LOCATION_FIELDS
from bssn_tf.training.loop import train
from bssn_tf.training.run_directory import RunDirectory

THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def usable_cores():
    """Cores this process may run on (os.cpu_count() counts the whole host)."""
    return len(os.sched_getaffinity(0))


def finished(config):
    """Whether model_dir already holds this very run, completed: its export card
    records the same flags and the final step."""
    card = RunDirectory(config.model_dir).export_card()
    if card is None:
        return False
    # Cards of older runs also hold the location flags, which cards now omit.
    flags = {
        name: value for name, value in card.get("flags", {}).items() if name not in LOCATION_FIELDS
    }
    return flags == config.card_flags() and card.get("steps") == config.steps


def train_or_report(config):
    """Trains `config`; returns None, or the message of the non-finite loss that stopped it."""
    try:
        train(config)
    except NonFiniteLossError as error:
        return str(error)
    return None


def train_all(configs, processes=1):
    """Trains every config, `processes` at a time; returns train_or_report's result per config.

    Runs already finished() are not trained again (their result is None), so an
    interrupted grid resumes where it stopped. With processes > 1, each run is a
    spawned process with usable_cores() // processes intra-op threads (at least
    1) and one inter-op thread.
    """
    if processes < 1:
        raise ValueError(f"processes must be >= 1; got {processes}.")
    configs = list(configs)
    pending = [index for index, config in enumerate(configs) if not finished(config)]
    results = [None] * len(configs)
    for index, result in zip(pending, _train_pending([configs[i] for i in pending], processes)):
        results[index] = result
    return results


def _train_pending(configs, processes):
    processes = min(processes, len(configs))
    if processes <= 1:
        return [train_or_report(config) for config in configs]
    threads = max(1, usable_cores() // processes)
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    # Spawned children copy os.environ as they start; it is restored before
    # this returns, so the setting is meant for them alone.
    os.environ.update({"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1"})
    try:
        with multiprocessing.get_context("spawn").Pool(processes, maxtasksperchild=1) as pool:
            return pool.map(train_or_report, configs, chunksize=1)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
