"""Which compile path trains fastest here: XLA, or TensorFlow's own kernels.

Neither wins everywhere. On a CPU, TensorFlow's default kernels are oneDNN's,
which pick AVX-512 code at run time; XLA's CPU convolutions are Eigen kernels
compiled into the wheel without AVX-512. So XLA is faster on an AVX2-only CPU
and slower on an AVX-512 one. GPUs and TPUs keep XLA (a TPU runs nothing else).
See docs/DESIGN.md, "Which compile path trains fastest".
"""

import os

import tensorflow as tf

# Their cross-replica optimizer update cannot be XLA-compiled.
JIT_INCOMPATIBLE_STRATEGIES = ("mirrored", "multiworker")
CPUINFO = "/proc/cpuinfo"
# TensorFlow reads this variable as a boolean; these values turn oneDNN off.
ONEDNN_OFF = ("0", "false")


def fastest_jit_compile(strategy):
    """`(use_xla, reason)`: whether XLA makes a training step faster under `strategy` here.

    The reason is one short line for the run's records (config.json "compile").
    """
    if strategy in JIT_INCOMPATIBLE_STRATEGIES:
        return False, f"strategy={strategy}: its cross-replica update cannot be XLA-compiled"
    if strategy == "tpu":
        return True, "strategy=tpu: XLA is the TPU's compiler"
    accelerator = visible_accelerator()
    if accelerator:
        return True, f"{accelerator} visible: XLA, the usual faster path on an accelerator"
    flags = cpu_flags(read_cpuinfo())
    if flags is None:
        return True, "cpu flags unknown (no /proc/cpuinfo flags): XLA, as on AVX2 CPUs"
    if "avx512f" not in flags:
        return True, "cpu without avx512f: XLA's kernels are faster than TensorFlow's"
    if not onednn_kernels_on():
        return True, "cpu avx512f but TF_ENABLE_ONEDNN_OPTS turns oneDNN off: XLA"
    return False, "cpu avx512f with oneDNN kernels: TensorFlow's own kernels are faster than XLA's"


def visible_accelerator():
    """The accelerator TensorFlow sees, "GPU" or "TPU"; None where it sees neither.

    Lists physical devices only, so the runtime stays unconfigured (a strategy
    can still split the CPU afterwards).
    """
    for kind in ("GPU", "TPU"):
        if tf.config.list_physical_devices(kind):
            return kind
    return None


def read_cpuinfo(path=CPUINFO):
    """The text of /proc/cpuinfo, or None where there is none (not Linux)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def cpu_flags(cpuinfo):
    """The set of CPU feature flags in /proc/cpuinfo text; None if it names none.

    Every core lists the same flags on x86 Linux, so the first "flags" line is read.
    """
    for line in (cpuinfo or "").splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return None


def onednn_kernels_on(environ=None):
    """Whether TensorFlow's CPU kernels are oneDNN's: on unless TF_ENABLE_ONEDNN_OPTS says off."""
    value = (os.environ if environ is None else environ).get("TF_ENABLE_ONEDNN_OPTS")
    return value is None or value.strip().lower() not in ONEDNN_OFF
