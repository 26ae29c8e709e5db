"""`python -m bssn_tf.zoo list|card|sample|verify`: the zoo from the shell.

A name is a shipped model, a model folder, or a URL pinned with --sha256.
Every failure ends with one line naming the file, never a traceback, and
TensorFlow's start-up lines are held back unless --tf_verbose is given.
"""

import json
import math
import sys

from bssn_tf import command_line

# The narrowest sample grid written by default, in pixels (64 digits of 28 px: 224).
MIN_GRID_WIDTH = 256
LIST_COLUMNS = (
    ("name", None),
    ("arch", "arch"),
    ("norm", "norm"),
    ("scale", "scale"),
    ("steps", "steps"),
    ("FCD", "fcd"),
    ("classes", "classes"),
)


def list_models(args):
    from bssn_tf.zoo import registry

    models = registry.read_index()["models"]
    if args.json:
        from bssn_tf import zoo

        print(json.dumps({name: zoo.card(name) for name in sorted(models)}, indent=2))
        return
    rows = [[title for title, _ in LIST_COLUMNS]]
    for name, entry in sorted(models.items()):
        summary = entry.get("summary") if isinstance(entry.get("summary"), dict) else {}
        rows.append([name] + [_cell(summary.get(key)) for _, key in LIST_COLUMNS[1:]])
    widths = [max(len(row[column]) for row in rows) for column in range(len(LIST_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _cell(value):
    return "-" if value is None else str(value)


def show_card(args):
    from bssn_tf import zoo

    print(json.dumps(zoo.card(args.name, args.sha256), indent=2, sort_keys=True))


def _upscale(args, columns, width):
    """--upscale, else the smallest factor that makes the grid MIN_GRID_WIDTH wide."""
    return args.upscale or max(1, math.ceil(MIN_GRID_WIDTH / (columns * width)))


def sample(args):
    from bssn_tf import zoo
    from bssn_tf.io import write_grid_png

    generator = zoo.load(args.name, args.sha256)
    width = generator.card["image_shape"][1]
    label = None if args.label is None else class_index(args.label, generator.card)
    if label is not None or not generator.num_classes:
        labels = None if label is None else [label] * args.num
        images = generator.sample(args.num, seed=args.seed, labels=labels)
        columns = math.ceil(math.sqrt(args.num))
        write_grid_png(args.out, images, columns, _upscale(args, columns, width))
        of_class = "" if args.label is None else f" of class {args.label}"
        print(f"wrote {args.num} samples{of_class} of {args.name} (seed {args.seed}) to {args.out}")
        return
    # A conditional model without --label: one row per class, the same latents in every row.
    per_class = max(1, args.num // generator.num_classes)
    images = generator.class_rows(per_class, args.seed)
    write_grid_png(args.out, images, per_class, _upscale(args, per_class, width))
    print(
        f"wrote {generator.num_classes} rows (one per class) of {per_class} samples of "
        f"{args.name} (seed {args.seed}) to {args.out}"
    )


def class_index(label, card):
    """--label as a class index: an integer, or one of the card's class names."""
    try:
        return int(label)
    except ValueError:
        pass
    names = card.get("class_names") or []
    if label not in names:
        known = f"one of {names}" if names else "an integer (this model's card names no classes)"
        raise ValueError(f"--label {label!r} is not a class of this model; expected {known}")
    return names.index(label)


def verify(args):
    from bssn_tf import zoo

    if args.sha256 and len(args.names) != 1:
        raise ValueError(f"--sha256 pins one model; got {len(args.names)} names")
    failed = False
    for name in args.names or zoo.available():
        try:
            zoo.verify(name, args.sha256)
            print(f"{name}: ok")
        except (zoo.IntegrityError, zoo.UnknownModelError, OSError) as error:
            print(f"{name}: FAILED: {command_line.one_line(error)}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def add_pin(parser):
    parser.add_argument(
        "--sha256",
        help="sha256 of the model's model_card.json; required for a URL, checked for any source",
    )


def parse_args(argv):
    parser = command_line.OneLineParser(prog="python -m bssn_tf.zoo", description=__doc__)
    parser.add_argument("--tf_verbose", action="store_true", help="show TensorFlow's own log lines")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="a table of the shipped models")
    listing.add_argument("--json", action="store_true", help="print every model's card as JSON")
    listing.set_defaults(run=list_models)
    show = commands.add_parser("card", help="print a model card as JSON")
    show.add_argument("name", help="zoo name, model folder or URL")
    add_pin(show)
    show.set_defaults(run=show_card)
    grid = commands.add_parser("sample", help="write a PNG grid of samples")
    grid.add_argument("name", help="zoo name, model folder or URL")
    grid.add_argument("--num", type=command_line.positive_int, default=64)
    grid.add_argument("--seed", type=int, default=0)
    grid.add_argument("--out", default="grid.png")
    grid.add_argument(
        "--upscale",
        type=command_line.positive_int,
        default=None,
        help=f"repeat each pixel KxK (nearest neighbour); default: the smallest K that makes "
        f"the grid at least {MIN_GRID_WIDTH} px wide",
    )
    grid.add_argument(
        "--label",
        default=None,
        help="class of every sample (conditional models), as an index or a class name from "
        "the card; without it they get one row per class of --num // num_classes samples",
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
    from bssn_tf.zoo import registry  # imports no TensorFlow

    # Refusals are ValueErrors (bssn_tf.io.UntrustedFileError); verify returns its own status.
    return command_line.run_command(parse_args(argv), errors=(registry.UnknownModelError,))


if __name__ == "__main__":
    sys.exit(main())
