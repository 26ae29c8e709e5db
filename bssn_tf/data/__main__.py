"""`python -m bssn_tf.data export NAME --out DIR`: a dataset split as a folder of PNG files.

Writes DIR/00000.png, DIR/00001.png, ... in the split's stored order, so that
`--dataset=folder:DIR` trains on the same images in the same order as NAME;
with --by_class, DIR/<class>/00000.png, ... instead (class subfolders become
labels). Errors are one line; TensorFlow's start-up lines are held back.
"""

import os
import sys

from bssn_tf import command_line


def export(args):
    import numpy as np
    import tensorflow as tf

    from bssn_tf import data
    from bssn_tf.io import write_bytes_atomically

    spec = data.DATASETS.get(args.name)
    if spec is None:
        raise ValueError(f"unknown dataset {args.name!r}; expected one of {sorted(data.DATASETS)}")
    if os.path.exists(args.out) and (not os.path.isdir(args.out) or os.listdir(args.out)):
        raise ValueError(f"--out {args.out} exists and is not an empty folder; choose a new one")
    by_class = args.by_class and spec.num_classes > 0
    loaded = data.load_array(
        args.name, args.split, limit=args.limit, data_dir=args.data_dir, with_labels=by_class
    )
    images, labels = loaded if by_class else (loaded, None)
    pixels = np.round((images + 1.0) * 127.5).astype(np.uint8)  # undoes the [-1, 1] scaling
    for index, image in enumerate(pixels):
        folder = args.out if labels is None else os.path.join(args.out, f"{labels[index]}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{index:05d}.png")
        write_bytes_atomically(path, tf.io.encode_png(image).numpy())
    where = "class subfolders of " if labels is not None else ""
    print(f"wrote {len(pixels)} images of {args.name} ({args.split}) to {where}{args.out}")


def parse_args(argv):
    parser = command_line.OneLineParser(prog="python -m bssn_tf.data", description=__doc__)
    parser.add_argument("--tf_verbose", action="store_true", help="show TensorFlow's log lines")
    commands = parser.add_subparsers(dest="command", required=True)
    writer = commands.add_parser("export", help="write a dataset split as PNG files")
    writer.add_argument("name", help="a registered dataset, e.g. mnist5k or digits")
    writer.add_argument("--out", required=True, help="a new or empty folder")
    writer.add_argument("--split", default="train")
    writer.add_argument("--limit", type=int, default=None, help="only the first N images")
    writer.add_argument("--by_class", action="store_true", help="one subfolder per class")
    writer.add_argument("--data_dir", default=None, help="TFDS data folder")
    writer.set_defaults(run=export)
    return parser.parse_args(argv)


def main(argv=None):
    return command_line.run_command(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
