"""`python -m bssn_tf.zoo list|card|sample|verify`: the shipped zoo from the shell, offline."""

import argparse
import json
import sys

from bssn_tf import zoo
from bssn_tf.io import write_grid_png
from bssn_tf.zoo import registry


def summary_line(summary):
    """An index summary is free-form: a dict prints as key=value pairs, anything else as is."""
    if isinstance(summary, dict):
        return ", ".join(f"{key}={value}" for key, value in sorted(summary.items()))
    return str(summary)


def list_models(args):
    for name, entry in sorted(registry.read_index()["models"].items()):
        print(f"{name}: {summary_line(entry.get('summary', ''))}")


def show_card(args):
    print(json.dumps(zoo.card(args.name), indent=2, sort_keys=True))


def sample(args):
    generator = zoo.load(args.name)
    if args.label is not None or not generator.num_classes:
        labels = None if args.label is None else [args.label] * args.num
        images = generator.sample(args.num, seed=args.seed, labels=labels)
        write_grid_png(args.out, images)
        of_class = "" if args.label is None else f" of class {args.label}"
        print(f"wrote {args.num} samples{of_class} of {args.name} (seed {args.seed}) to {args.out}")
        return
    # A conditional model without --label: one row per class, the same latents in every row.
    per_class = max(1, args.num // generator.num_classes)
    write_grid_png(args.out, generator.class_rows(per_class, args.seed), columns=per_class)
    print(
        f"wrote {generator.num_classes} rows (one per class) of {per_class} samples of "
        f"{args.name} (seed {args.seed}) to {args.out}"
    )


def verify(args):
    failed = False
    for name in args.names or zoo.available():
        try:
            zoo.verify(name)
            print(f"{name}: ok")
        except (zoo.IntegrityError, zoo.UnknownModelError) as error:
            print(f"{name}: FAILED: {error}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bssn_tf.zoo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="one line per shipped model").set_defaults(run=list_models)
    show = commands.add_parser("card", help="print a model card as JSON")
    show.add_argument("name", help="zoo name, model folder or URL")
    show.set_defaults(run=show_card)
    grid = commands.add_parser("sample", help="write a PNG grid of samples")
    grid.add_argument("name", help="zoo name, model folder or URL")
    grid.add_argument("--num", type=positive_int, default=64)
    grid.add_argument("--seed", type=int, default=0)
    grid.add_argument("--out", default="grid.png")
    grid.add_argument(
        "--label",
        type=int,
        default=None,
        help="class of every sample (conditional models); without it they get one row per "
        "class of --num // num_classes samples",
    )
    grid.set_defaults(run=sample)
    check = commands.add_parser(
        "verify", help="check every file of the named (default: all) models"
    )
    check.add_argument("names", nargs="*")
    check.set_defaults(run=verify)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        return args.run(args) or 0  # only verify reports a status of its own
    except (zoo.UnknownModelError, OSError, ValueError) as error:  # IntegrityError included
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
