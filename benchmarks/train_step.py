"""GAN training-step speed: ours (BSSN, XLA on/off) vs PyTorch, and vs a large matmul.

  python -m benchmarks.train_step [--configs=cnn32,cnn28,resnet32] [--repeats=10] [--warmup=3]

Run from the repository root; needs the `bench` extra (torch==2.13.0). Each
(config, variant) runs in its own process (benchmarks.timed_run), so each
peak RSS is that framework's alone. Before any number is reported the script
asserts that the PyTorch models have the same layers, per-layer parameter
counts and FLOPs as ours, and aborts on any mismatch. It then writes
benchmarks/RESULTS.md, keeping the hand-written notes below its NOTES_MARKER.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time

from benchmarks.flop_count import LayerSpec, forward_flops, gan_step_flops
from benchmarks.timed_run import BATCH_SIZE, CONFIGS, Z_DIM
from bssn_tf.io import write_bytes_atomically

ROOT = pathlib.Path(__file__).resolve().parent.parent
STEP_VARIANTS = ("tf_xla", "tf", "torch_sn", "torch_bssn")
OURS = ("tf_xla", "tf")
VARIANT_NAMES = {
    "tf_xla": "ours, BSSN, jit_compile=True",
    "tf": "ours, BSSN, jit_compile=False",
    "torch_sn": "PyTorch, parametrizations.spectral_norm",
    "torch_bssn": "PyTorch, BSSN parametrization",
}
TARGET_RATIO = 0.9
TARGET_MATMUL_FRACTION = 0.7
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
        "--variants", default=",".join(STEP_VARIANTS), help=f"comma-separated, from {STEP_VARIANTS}"
    )
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (tracing, XLA)")
    parser.add_argument("--intra_op_threads", type=int, default=2)
    parser.add_argument("--inter_op_threads", type=int, default=2)
    parser.add_argument("--matmul_size", type=int, default=2048)
    parser.add_argument("--matmul_repeats", type=int, default=20)
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


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measurement(request):
    """Runs one timed_run process; returns its JSON result plus `other_cpu_cores`: the
    CPU that other processes used meanwhile, in cores (the machine's busy time less
    the measurement's own, over the wall time). The load average cannot tell this,
    since it counts the measurement's own threads."""
    started, busy, own = time.monotonic(), busy_cpu_seconds(), children_cpu_seconds()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.timed_run", json.dumps(request)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(
            f"timed_run {request['variant']} {request.get('config')} failed:\n{done.stderr[-3000:]}"
        )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    other = (busy_cpu_seconds() - busy) - (children_cpu_seconds() - own)
    result["other_cpu_cores"] = max(0.0, other) / (time.monotonic() - started)
    return result


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


def results_table(config_rows, matmul_flops_per_s):
    lines = [
        "| config | variant | median ms | IQR ms | min-max ms | GFLOP/step | GFLOP/s "
        "| of matmul | peak RSS MiB | other processes' CPU (cores) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for config, variant, stats, flops, result in config_rows:
        rate = flops / stats["median"]
        lines.append(
            f"| {config} | {VARIANT_NAMES[variant]} | {_ms(stats['median'])} "
            f"| {_ms(stats['q1'])}-{_ms(stats['q3'])} | {_ms(stats['min'])}-{_ms(stats['max'])} "
            f"| {flops / 1e9:.1f} | {rate / 1e9:.1f} | {rate / matmul_flops_per_s:.0%} "
            f"| {result['peak_rss_mib']:.0f} | {result['other_cpu_cores']:.2f} |"
        )
    return lines


def ratio_lines(medians):
    lines = ["| config | ours | vs | ratio ours / PyTorch |", "|---|---|---|---:|"]
    for config, by_variant in medians.items():
        for ours in OURS:
            for torch_variant in ("torch_sn", "torch_bssn"):
                if ours in by_variant and torch_variant in by_variant:
                    lines.append(
                        f"| {config} | {VARIANT_NAMES[ours]} | {VARIANT_NAMES[torch_variant]} "
                        f"| {by_variant[ours] / by_variant[torch_variant]:.2f} |"
                    )
    return lines


def spec_lines(config, model, specs):
    return [
        f"{config} {model}: "
        + ", ".join(
            f"{spec.name} {spec.parameters} params / "
            f"{forward_flops(spec) * BATCH_SIZE / 1e6:.1f} MFLOP"
            for spec in specs
        )
    ]


def contention_warning(matmul, all_results):
    """A warning line when other processes used the CPU during any measurement."""
    others = [
        result["other_cpu_cores"]
        for result in [matmul] + [r for rs in all_results.values() for r in rs.values()]
    ]
    if max(others) <= OTHER_CPU_LIMIT:
        return []
    return [
        f"**Warning: other processes used up to {max(others):.2f} cores' worth of CPU "
        f"during a measurement, on {os.cpu_count()} cores; those times include "
        f"contention. Re-run on an idle machine before quoting a number.**",
        "",
    ]


def target_lines(medians, fractions):
    lines = []
    if "cnn32" in medians and {"tf_xla", "torch_sn"} <= set(medians["cnn32"]):
        ratio = medians["cnn32"]["tf_xla"] / medians["cnn32"]["torch_sn"]
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        lines.append(
            f"- ours (XLA) / PyTorch SN on the reference CNN: {ratio:.2f} "
            f"(target <= {TARGET_RATIO}): {verdict}"
        )
    if ("cnn32", "tf_xla") in fractions:
        fraction = fractions[("cnn32", "tf_xla")]
        verdict = "met" if fraction >= TARGET_MATMUL_FRACTION else "MISSED"
        lines.append(
            f"- ours (XLA) FLOP/s as a fraction of the matmul's on the reference CNN: "
            f"{fraction:.0%} (target >= {TARGET_MATMUL_FRACTION:.0%}): {verdict}"
        )
    return lines


def kept_notes(path):
    text = pathlib.Path(path).read_text() if pathlib.Path(path).exists() else ""
    return text.split(NOTES_MARKER, 1)[1] if NOTES_MARKER in text else "\n"


def render(args, command, started, load_start, matmul, all_results):
    """RESULTS.md's text from every measurement so far (configs may be partial)."""
    matmul_stats = summarize(matmul["seconds"])
    matmul_flops_per_s = matmul["flops"] / matmul_stats["median"]
    # "tensorflow X, keras Y" and "tensorflow X" name one TensorFlow.
    versions = set(matmul["version"].split(", "))
    rows, medians, fractions, verification = [], {}, {}, []
    for config, results in all_results.items():
        generator, discriminator = check_same_models(config, results)
        flops = gan_step_flops(generator, discriminator, BATCH_SIZE)
        verification += spec_lines(config, "G", generator) + spec_lines(config, "D", discriminator)
        medians[config] = {}
        for variant, result in results.items():
            stats = summarize(result["seconds"])
            versions.update(result["version"].split(", "))
            rows.append((config, variant, stats, flops, result))
            medians[config][variant] = stats["median"]
            fractions[(config, variant)] = flops / stats["median"] / matmul_flops_per_s
    measured = ", ".join(
        f"{config}: {'/'.join(results)}" for config, results in all_results.items()
    )
    report = [
        "# Training-step benchmark",
        "",
        f"Written by `benchmarks/train_step.py` on {started:%Y-%m-%d %H:%M} UTC.",
        "",
        f"Command: `{command}`",
        "",
        f"Measured so far: {measured or 'nothing'}",
        "",
        *contention_warning(matmul, all_results),
        *[f"- {line}" for line in machine_description(versions)],
        f"- Threads, both frameworks: intra-op {args.intra_op_threads}, "
        f"inter-op {args.inter_op_threads}",
        f"- Load average (1/5/15 min) at start: {' / '.join(f'{x:.2f}' for x in load_start)}; "
        f"at last write: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- Step: one D step + one G step, hinge loss, Adam(1e-4, 0.5, 0.999), batch {BATCH_SIZE}, "
        f"z {Z_DIM}; {args.warmup} warm-up steps, then {args.repeats} timed steps per variant",
        f"- Practical limit: {args.matmul_size}x{args.matmul_size} float32 TF matmul, median of "
        f"{args.matmul_repeats}: {matmul_flops_per_s / 1e9:.1f} GFLOP/s "
        f"(min-max {matmul['flops'] / matmul_stats['max'] / 1e9:.1f}-"
        f"{matmul['flops'] / matmul_stats['min'] / 1e9:.1f}), "
        f"peak RSS {matmul['peak_rss_mib']:.0f} MiB, "
        f"other processes' CPU {matmul['other_cpu_cores']:.2f} cores",
        "- FLOPs per step = 4 G + 8 D (G, D: forward FLOPs of one batch through convs, deconvs "
        "and dense layers; see benchmarks/flop_count.py)",
        "",
        "## Results",
        "",
        *results_table(rows, matmul_flops_per_s),
        "",
        *ratio_lines(medians),
        "",
        "## Targets",
        "",
        *target_lines(medians, fractions),
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

    matmul = run_measurement(
        {
            **base,
            "variant": "matmul",
            "repeats": args.matmul_repeats,
            "matmul_size": args.matmul_size,
        }
    )
    print(
        f"matmul {args.matmul_size}: "
        f"{matmul['flops'] / summarize(matmul['seconds'])['median'] / 1e9:.1f} GFLOP/s",
        flush=True,
    )
    all_results = {}
    for config in args.configs:
        all_results[config] = {}
        for variant in args.variants:
            result = run_measurement(
                {**base, "variant": variant, "config": config, "repeats": args.repeats}
            )
            all_results[config][variant] = result
            print(
                f"{config} {variant}: median {summarize(result['seconds'])['median']:.3f} s",
                flush=True,
            )
            # Rewritten after every measurement, so that a long run killed
            # part-way still leaves what it measured.
            text = render(args, command, started, load_start, matmul, all_results)
            write_bytes_atomically(args.output, text.encode())
    print(text[text.index("## Results") : text.index("## Same model")])


if __name__ == "__main__":
    main()
