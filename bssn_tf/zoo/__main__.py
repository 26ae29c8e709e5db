"""`python -m bssn_tf.zoo list|card|sample|verify`: the zoo from the shell.

A name is a shipped model, a model folder, or a URL pinned with --sha256.
Every failure ends with one line naming the file, never a traceback.
"""

import argparse
import json
import sys

import tensorflow as tf

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
    print(json.dumps(zoo.card(args.name, args.sha256), indent=2, sort_keys=True))


def sample(args):
    generator = zoo.load(args.name, args.sha256)
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
    if args.sha256 and len(args.names) != 1:
        raise ValueError(f"--sha256 pins one model; got {len(args.names)} names")
    failed = False
    for name in args.names or zoo.available():
        try:
            zoo.verify(name, args.sha256)
            print(f"{name}: ok")
        except (zoo.IntegrityError, zoo.UnknownModelError, OSError) as error:
            print(f"{name}: FAILED: {one_line(error)}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def one_line(error):
    """An error message on one line: TensorFlow's span several."""
    return " ".join(str(error).split()) or type(error).__name__


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line too (`--help` still prints the full help and exits 0)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_pin(parser):
    parser.add_argument(
        "--sha256",
        help="sha256 of the model's model_card.json; required for a URL, checked for any source",
    )


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def parse_args(argv):
    parser = OneLineParser(prog="python -m bssn_tf.zoo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="one line per shipped model").set_defaults(run=list_models)
    show = commands.add_parser("card", help="print a model card as JSON")
    show.add_argument("name", help="zoo name, model folder or URL")
    add_pin(show)
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
    add_pin(grid)
    grid.set_defaults(run=sample)
    check = commands.add_parser(
        "verify", help="check every file of the named (default: all) models"
    )
    check.add_argument("names", nargs="*")
    add_pin(check)
    check.set_defaults(run=verify)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        return args.run(args) or 0  # only verify reports a status of its own
    # IntegrityError is a ValueError; tf.errors.OpError covers what TensorFlow notices itself.
    except (zoo.UnknownModelError, OSError, ValueError, tf.errors.OpError) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
