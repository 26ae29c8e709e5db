"""`python -m bssn_tf.fid A B`: the FID between two image sources, equal to pytorch-fid's.

A and B are each a folder of images, an .npz of statistics (mu, sigma: the
pytorch-fid/TTUR format), an .npz or .npy array of images (uint8 in [0, 255]
or float in [-1, 1], NHWC), or a zoo model name, model folder or training run
directory (--num_samples images drawn with --seed). The last line printed is
`FID: <value>`; --json prints one JSON object instead. Errors are one line
on stderr: exit status 2 for a usage error, 1 for input that cannot be used.

  python -m bssn_tf.fid real/ fake/ --fid_weights=pt_inception-2015-12-05-6726825d.pth
  python -m bssn_tf.fid --save_stats real.npz real/
  python -m bssn_tf.fid real.npz runs/my_gan --kid --json
  python -m bssn_tf.fid --isc fake/
"""

import argparse
import json
import sys

from bssn_tf import command_line

PROG = "bssn_tf.fid"


def parse_args(argv):
    parser = command_line.OneLineParser(
        prog=PROG,
        usage="python -m bssn_tf.fid [options] A B | --save_stats OUT.npz A | --isc A",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="A, then B")
    parser.add_argument(
        "--save_stats", metavar="OUT.npz", help="write A's statistics to OUT.npz instead"
    )
    # The library checks these names too; listing them here keeps --help free of TensorFlow.
    parser.add_argument("--extractor", choices=("fid_inception", "digits"), default="fid_inception")
    parser.add_argument(
        "--fid_weights",
        help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth, or 'download' "
        "(default: $BSSN_FID_INCEPTION_WEIGHTS)",
    )
    parser.add_argument(
        "--resize",
        choices=("pytorch", "tf_legacy"),
        help="bilinear resize to 299: pytorch-fid's (default) or TF-GAN's and the BSSN paper's",
    )
    parser.add_argument("--batch_size", type=command_line.positive_int, default=50)
    parser.add_argument(
        "--num_samples",
        type=command_line.positive_int,
        default=10000,
        help="images drawn from a generator",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of a generator's latents")
    parser.add_argument("--kid", action="store_true", help="add KID (both sides images)")
    parser.add_argument(
        "--isc", action="store_true", help="add the Inception Score; alone with A: A's only"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tf_verbose", action="store_true", help="show TensorFlow's log lines")
    args = parser.parse_args(argv)
    if args.save_stats and (args.kid or args.isc):
        parser.error("--save_stats writes statistics only; leave out --kid and --isc")
    wanted = 1 if args.save_stats or (args.isc and len(args.sources) == 1) else 2
    if wanted == 1 and args.kid:
        parser.error("--kid compares two sources; give A and B")
    if len(args.sources) != wanted:
        parser.error(f"expected {wanted} source(s); got {len(args.sources)}: {args.sources}")
    return args


def _summary(results):
    """The human-readable lines; the last is the headline number."""
    lines = []
    sides = [results[key] for key in ("a", "b") if key in results] or [results]
    for side in sides:
        count = "" if side["num_images"] is None else f", {side['num_images']} images"
        lines.append(f"{side['source']} ({side['kind']}{count})")
    if "extractor" in results:
        details = ", ".join(
            f"{key} {results[key]}"
            for key in ("weights", "weights_sha256", "resize")
            if results.get(key)
        )
        lines.append(f"extractor: {results['extractor']}" + (f" ({details})" if details else ""))
    if "saved_to" in results:
        return lines + [f"wrote statistics to {results['saved_to']}"]
    for side in sides:
        if "isc" in side:
            lines.append(f"IS of {side['source']}: {side['isc']} (std {side['isc_std']})")
    if "kid" in results:
        lines.append(f"KID: {results['kid']} (std {results['kid_std']})")
    if "fid" in results:
        lines.append(f"FID: {results['fid']}")
    return lines


def run(args):
    from bssn_tf import metrics

    options = dict(
        extractor=args.extractor,
        fid_weights=args.fid_weights,
        resize=args.resize,
        batch_size=args.batch_size,
        num_samples=args.num_samples,
        seed=args.seed,
        progress=True,
    )
    if args.save_stats:
        results = metrics.statistics_of(args.sources[0], save_to=args.save_stats, **options)
        results = {key: value for key, value in results.items() if key not in ("mu", "sigma")}
    elif len(args.sources) == 1:
        results = metrics.inception_score_of(args.sources[0], **options)
    else:
        results = metrics.fid_between(*args.sources, kid=args.kid, isc=args.isc, **options)
    print(json.dumps(results) if args.json else "\n".join(_summary(results)))


def main(argv=None):
    args = parse_args(argv)
    command_line.import_tensorflow(verbose=args.tf_verbose)
    import tensorflow as tf

    from bssn_tf.zoo import registry

    try:
        run(args)
    except (registry.UnknownModelError, OSError, ValueError, tf.errors.OpError) as error:
        print(f"{PROG}: error: {command_line.one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
