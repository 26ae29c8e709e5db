"""GAN training-step speed: ours (BSSN, XLA on/off) vs PyTorch, and vs a large matmul.

  python -m benchmarks.train_step [--configs=cnn32,cnn28,resnet32] [--repeats=9] [--warmup=3]

Run from the repository root; needs the `bench` extra (torch==2.13.0). Each
(config, variant) runs in its own worker process (`benchmarks.timed_run
--serve`), so each peak RSS is that framework's alone. The workers of a config
are built and warmed up one after another, then timed in rounds: one step
each per round, in an order that rotates, so that a change in background load
falls on every variant alike. Ratios are taken within a round (interleaved
pairs) and reported as their median and spread. Before any number is reported
the script asserts that the PyTorch models have the same layers, per-layer
parameter counts and FLOPs as ours, and aborts on any mismatch. It then writes
benchmarks/RESULTS.md, keeping the hand-written notes below its NOTES_MARKER.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.flop_count import LayerSpec, forward_flops, gan_step_flops
from benchmarks.timed_run import BATCH_SIZE, CONFIGS, OUR_VARIANTS, Z_DIM
from bssn_tf.io import write_bytes_atomically

ROOT = pathlib.Path(__file__).resolve().parent.parent
STEP_VARIANTS = (*OUR_VARIANTS, "torch_sn", "torch_bssn")
DEFAULT_VARIANTS = ("tf_xla", "tf", "torch_sn", "torch_bssn")
VARIANT_NAMES = {
    "tf_xla": "ours, BSSN, jit_compile=True",
    "tf": "ours, BSSN, jit_compile=False",
    "tf_space_to_depth": "ours, BSSN, jit_compile=False, space-to-depth strided convs",
    "torch_sn": "PyTorch, parametrizations.spectral_norm",
    "torch_bssn": "PyTorch, BSSN parametrization",
}
# Ours / PyTorch SN with the default compile path, per config (issue targets).
TARGET_RATIOS = {"cnn32": 1.0, "cnn28": 1.0, "resnet32": 0.81}
# Where XLA is the default: the cnn32 step's FLOP/s as a share of the matmul's.
TARGET_MATMUL_FRACTION = 0.85
# Above this many cores' worth of CPU used by other processes during a
# measurement, the time includes contention.
OTHER_CPU_LIMIT = 0.2
NOTES_MARKER = (
    "<!-- Hand-written notes below this line are kept when the script rewrites the file. -->"
)


class ModelMismatchError(RuntimeError):
    """The PyTorch reference is not the same model as ours."""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", default="cnn32,cnn28,resnet32", help=f"comma-separated, from {sorted(CONFIGS)}"
    )
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help=f"comma-separated, from {STEP_VARIANTS}",
    )
    parser.add_argument(
        "--repeats", type=int, default=9, help="rounds: timed steps per variant, interleaved"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (tracing, XLA)")
    parser.add_argument("--intra_op_threads", type=int, default=2)
    parser.add_argument("--inter_op_threads", type=int, default=2)
    parser.add_argument("--matmul_size", type=int, default=2048)
    parser.add_argument("--matmul_repeats", type=int, default=2, help="matmuls per round")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args(argv)
    args.configs = args.configs.split(",")
    args.variants = args.variants.split(",")
    for name, chosen, allowed in (
        ("configs", args.configs, CONFIGS),
        ("variants", args.variants, STEP_VARIANTS),
    ):
        unknown = sorted(set(chosen) - set(allowed))
        if unknown:
            parser.error(f"--{name}: unknown {unknown}; expected names from {sorted(allowed)}.")
    if args.repeats < 1 or args.warmup < 0:
        parser.error(
            f"--repeats must be >= 1 and --warmup >= 0; got {args.repeats}, {args.warmup}."
        )
    return args


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat)."""
    with open("/proc/stat") as handle:
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(value) for value in handle.readline().split()[1:9]
        )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Worker:
    """One `benchmarks.timed_run --serve` process: built and warmed up on creation,
    then timed on request, so that variants in separate processes can be interleaved."""

    def __init__(self, request):
        self.request = request
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.timed_run", "--serve", json.dumps(request)],
            cwd=ROOT,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.facts = self._answer()

    def _answer(self):
        line = self._process.stdout.readline()
        if not line:
            self._stderr.seek(0)
            raise RuntimeError(
                f"timed_run {self.request['variant']} {self.request.get('config')} failed:\n"
                f"{self._stderr.read()[-3000:]}"
            )
        return json.loads(line)

    def time(self, steps):
        """Times `steps` steps; the result has `other_cpu_cores`: the CPU that other
        processes used meanwhile, in cores (the machine's busy time less the worker's
        own, over the wall time). The load average cannot tell this, since it
        counts the measurement's own threads."""
        started, busy = time.monotonic(), busy_cpu_seconds()
        self._process.stdin.write(f"{steps}\n")
        self._process.stdin.flush()
        result = self._answer()
        other = busy_cpu_seconds() - busy - result["cpu_seconds"]
        result["other_cpu_cores"] = max(0.0, other) / (time.monotonic() - started)
        return result

    def close(self):
        self._process.stdin.close()
        self._process.wait()
        self._stderr.close()


def summarize(seconds):
    quartiles = statistics.quantiles(seconds, n=4) if len(seconds) > 1 else seconds * 3
    return {
        "median": statistics.median(seconds),
        "q1": quartiles[0],
        "q3": quartiles[2],
        "min": min(seconds),
        "max": max(seconds),
    }


def _by_name(spec_dicts):
    return {
        spec["name"]: LayerSpec(
            **{
                **spec,
                "kernel_size": tuple(spec["kernel_size"]),
                "in_spatial": tuple(spec["in_spatial"]),
                "out_spatial": tuple(spec["out_spatial"]),
            }
        )
        for spec in spec_dicts
    }


def check_same_models(config, results):
    """Raises ModelMismatchError unless every variant has the first one's layers, parameters
    and FLOPs (the first is ours unless --variants says otherwise)."""
    reference_variant = next(iter(results))
    for model in ("generator_specs", "discriminator_specs"):
        ours = _by_name(results[reference_variant][model])
        for variant, result in results.items():
            theirs = _by_name(result[model])
            problems = [
                f"only in {reference_variant}: {sorted(set(ours) - set(theirs))}",
                f"only in {variant}: {sorted(set(theirs) - set(ours))}",
            ]
            problems = [p for p in problems if not p.endswith("[]")]
            problems += [
                f"{name}: {ours[name]} != {theirs[name]}"
                for name in sorted(set(ours) & set(theirs))
                if ours[name] != theirs[name]
            ]
            if problems:
                raise ModelMismatchError(
                    f"{config} {model}: {variant} differs from {reference_variant}:\n  "
                    + "\n  ".join(problems)
                )
    return (
        list(_by_name(results[reference_variant]["generator_specs"]).values()),
        list(_by_name(results[reference_variant]["discriminator_specs"]).values()),
    )


def machine_description(versions):
    cpuinfo = pathlib.Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    flags = next(
        (
            line.split(":", 1)[1].split()
            for line in cpuinfo.splitlines()
            if line.startswith("flags")
        ),
        [],
    )
    vector = [
        flag for flag in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if flag in flags
    ]
    return [
        f"CPU: {model}; {os.cpu_count()} logical cores visible; vector flags: {', '.join(vector)}",
        f"Python {platform.python_version()}; " + "; ".join(sorted(versions)),
    ]


def _ms(seconds):
    return f"{seconds * 1000:.0f}"


def spec_lines(config, model, specs):
    return [
        f"{config} {model}: "
        + ", ".join(
            f"{spec.name} {spec.parameters} params / "
            f"{forward_flops(spec) * BATCH_SIZE / 1e6:.1f} MFLOP"
            for spec in specs
        )
    ]


def results_table(config_rows, matmul_flops_per_s):
    lines = [
        "| config | variant | median ms | IQR ms | min-max ms | GFLOP/step | GFLOP/s "
        "| of matmul | peak RSS MiB | other processes' CPU (cores, max) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for config, stats, flops, run in config_rows:
        rate = flops / stats["median"]
        lines.append(
            f"| {config} | {run['name']} | {_ms(stats['median'])} "
            f"| {_ms(stats['q1'])}-{_ms(stats['q3'])} | {_ms(stats['min'])}-{_ms(stats['max'])} "
            f"| {flops / 1e9:.1f} | {rate / 1e9:.1f} | {rate / matmul_flops_per_s:.0%} "
            f"| {run['peak_rss_mib']:.0f} | {max(run['other_cpu_cores']):.2f} |"
        )
    return lines


def round_ratios(runs, numerator, denominator):
    """Per-round ratios of two variants' step times: interleaved pairs."""
    return [a / b for a, b in zip(runs[numerator]["seconds"], runs[denominator]["seconds"])]


def ratio_pairs(variants):
    ours = [variant for variant in variants if variant in OUR_VARIANTS]
    pairs = [(a, b) for a in ours for b in ("torch_sn", "torch_bssn") if b in variants]
    # The no-XLA step against itself before direct strided convs.
    if {"tf", "tf_space_to_depth"} <= set(variants):
        pairs.append(("tf", "tf_space_to_depth"))
    if {"tf", "tf_xla"} <= set(variants):
        pairs.append(("tf", "tf_xla"))
    return pairs


def ratio_lines(all_runs):
    lines = [
        "| config | variant | vs | median ratio | IQR | min-max | pairs |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for config, runs in all_runs.items():
        for numerator, denominator in ratio_pairs(list(runs)):
            stats = summarize(round_ratios(runs, numerator, denominator))
            lines.append(
                f"| {config} | {runs[numerator]['name']} | {runs[denominator]['name']} "
                f"| {stats['median']:.2f} | {stats['q1']:.2f}-{stats['q3']:.2f} "
                f"| {stats['min']:.2f}-{stats['max']:.2f} "
                f"| {len(runs[numerator]['seconds'])} |"
            )
    return lines


def contention_warning(matmul, all_runs):
    """A warning line when other processes used the CPU during any measurement."""
    others = matmul["other_cpu_cores"] + [
        value
        for runs in all_runs.values()
        for run in runs.values()
        for value in run["other_cpu_cores"]
    ]
    if max(others) <= OTHER_CPU_LIMIT:
        return []
    return [
        f"**Warning: other processes used up to {max(others):.2f} cores' worth of CPU "
        f"during a measurement, on {os.cpu_count()} cores; those times include "
        f"contention. Re-run on an idle machine before quoting a number.**",
        "",
    ]


def default_variant(runs):
    """Our variant that `train_gan` runs here by default (the compile path for this CPU)."""
    for variant, run in runs.items():
        if variant in OUR_VARIANTS and "default_jit_compile" in run["facts"]:
            jit = run["facts"]["default_jit_compile"]
            default = "tf_xla" if jit else "tf"
            return default if default in runs else None
    return None


def target_lines(all_runs, fractions):
    lines = []
    for config, target in TARGET_RATIOS.items():
        runs = all_runs.get(config, {})
        default = default_variant(runs)
        if default is None or "torch_sn" not in runs:
            continue
        ratio = summarize(round_ratios(runs, default, "torch_sn"))["median"]
        verdict = "met" if ratio <= target else "MISSED"
        lines.append(
            f"- {config}, the default path here ({runs[default]['name']}) / PyTorch SN: "
            f"{ratio:.2f} (target <= {target}): {verdict}"
        )
        if config == "cnn32" and default == "tf_xla":
            fraction = fractions[(config, default)]
            verdict = "met" if fraction >= TARGET_MATMUL_FRACTION else "MISSED"
            lines.append(
                f"- cnn32 with XLA (the default here): FLOP/s as a share of the matmul's "
                f"{fraction:.0%} (target >= {TARGET_MATMUL_FRACTION:.0%}): {verdict}"
            )
    return lines


def kept_notes(path):
    text = pathlib.Path(path).read_text() if pathlib.Path(path).exists() else ""
    return text.split(NOTES_MARKER, 1)[1] if NOTES_MARKER in text else "\n"


def render(args, command, started, load_start, matmul, all_runs):
    """RESULTS.md's text from every measurement so far (configs may be partial)."""
    matmul_stats = summarize(matmul["seconds"])
    matmul_flops_per_s = matmul["facts"]["flops"] / matmul_stats["median"]
    # "tensorflow X, keras Y" and "tensorflow X" name one TensorFlow.
    versions = set(matmul["facts"]["version"].split(", "))
    rows, fractions, verification, default_reason = [], {}, [], None
    for config, runs in all_runs.items():
        facts = {variant: run["facts"] for variant, run in runs.items()}
        generator, discriminator = check_same_models(config, facts)
        flops = gan_step_flops(generator, discriminator, BATCH_SIZE)
        verification += spec_lines(config, "G", generator) + spec_lines(config, "D", discriminator)
        for variant, run in runs.items():
            stats = summarize(run["seconds"])
            versions.update(run["facts"]["version"].split(", "))
            default_reason = run["facts"].get("default_reason", default_reason)
            rows.append((config, stats, flops, run))
            fractions[(config, variant)] = flops / stats["median"] / matmul_flops_per_s
    measured = ", ".join(f"{config}: {'/'.join(runs)}" for config, runs in all_runs.items())
    report = [
        "# Training-step benchmark",
        "",
        f"Written by `benchmarks/train_step.py` on {started:%Y-%m-%d %H:%M} UTC.",
        "",
        f"Command: `{command}`",
        "",
        f"Measured so far: {measured or 'nothing'}",
        "",
        *contention_warning(matmul, all_runs),
        *[f"- {line}" for line in machine_description(versions)],
        f"- The default compile path here: {default_reason or 'not measured'}",
        f"- Threads, both frameworks: intra-op {args.intra_op_threads}, "
        f"inter-op {args.inter_op_threads}",
        f"- Load average (1/5/15 min) at start: {' / '.join(f'{x:.2f}' for x in load_start)}; "
        f"at last write: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- Step: one D step + one G step, hinge loss, Adam(1e-4, 0.5, 0.999), batch {BATCH_SIZE}, "
        f"z {Z_DIM}; each worker warmed up by {args.warmup} steps, then {args.repeats} rounds "
        f"of one timed step per variant, in rotating order",
        f"- Practical limit: {args.matmul_size}x{args.matmul_size} float32 TF matmul, "
        f"{args.matmul_repeats} per round, median: {matmul_flops_per_s / 1e9:.1f} GFLOP/s "
        f"(min-max {matmul['facts']['flops'] / matmul_stats['max'] / 1e9:.1f}-"
        f"{matmul['facts']['flops'] / matmul_stats['min'] / 1e9:.1f}), "
        f"peak RSS {matmul['peak_rss_mib']:.0f} MiB",
        "- FLOPs per step = 4 G + 8 D (G, D: forward FLOPs of one batch through convs, deconvs "
        "and dense layers; see benchmarks/flop_count.py)",
        "",
        "## Results",
        "",
        *results_table(rows, matmul_flops_per_s),
        "",
        "Ratios of step times taken within each round (interleaved pairs):",
        "",
        *ratio_lines(all_runs),
        "",
        "## Targets",
        "",
        *target_lines(all_runs, fractions),
        "",
        "## Same model in both frameworks (asserted: layer names, shapes, parameters, FLOPs)",
        "",
        "Per layer, forward at batch 64:",
        "",
        "```",
        *verification,
        "```",
        "",
        NOTES_MARKER,
    ]
    return "\n".join(report) + kept_notes(args.output)


def _record(run, result):
    run["seconds"] += result["seconds"]
    run["other_cpu_cores"].append(result["other_cpu_cores"])
    run["peak_rss_mib"] = result["peak_rss_mib"]


def _new_run(worker, name):
    return {
        "name": name,
        "facts": worker.facts,
        "seconds": [],
        "other_cpu_cores": [],
        "peak_rss_mib": 0.0,
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = "python -m benchmarks.train_step " + shlex.join(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    base = {
        "warmup": args.warmup,
        "threads": {"intra_op": args.intra_op_threads, "inter_op": args.inter_op_threads},
    }
    matmul_worker = Worker({**base, "variant": "matmul", "matmul_size": args.matmul_size})
    matmul = _new_run(matmul_worker, "matmul")
    all_runs = {}
    try:
        for config in args.configs:
            workers = {
                variant: Worker({**base, "variant": variant, "config": config})
                for variant in args.variants
            }
            runs = {
                variant: _new_run(worker, VARIANT_NAMES[variant])
                for variant, worker in workers.items()
            }
            all_runs[config] = runs
            for round_index in range(args.repeats):
                order = args.variants[round_index % len(args.variants) :]
                order += args.variants[: round_index % len(args.variants)]
                for variant in order:
                    _record(runs[variant], workers[variant].time(1))
                _record(matmul, matmul_worker.time(args.matmul_repeats))
                print(
                    f"{config} round {round_index + 1}/{args.repeats}: "
                    + ", ".join(f"{v} {runs[v]['seconds'][-1]:.3f} s" for v in args.variants),
                    flush=True,
                )
            for worker in workers.values():
                worker.close()
            # Rewritten after every config, so that a long run killed part-way
            # still leaves what it measured.
            text = render(args, command, started, load_start, matmul, all_runs)
            write_bytes_atomically(args.output, text.encode())
    finally:
        matmul_worker.close()
    print(text[text.index("## Results") : text.index("## Same model")])


if __name__ == "__main__":
    main()
