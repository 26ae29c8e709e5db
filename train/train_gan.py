"""Trains a GAN with SN/BSSN; re-running the same command resumes it.

  python -m train.train_gan --model_dir=runs/bssn_mnist5k --steps=2000 --width=0.5

Defaults follow the paper's standard-CNN protocol (hinge loss, batch 64,
Adam 1e-4 with betas 0.5/0.999, n_dis 1, z_dim 128) with BSSN in D. model_dir
receives checkpoints/, samples/*.png, logs/ (TensorBoard), metrics.csv
(with --eval_every) and, at the end, export/ (a generator SavedModel). One
run at a time may use a model_dir; optimizer flags given on resume apply from
the resumed step. Every error ends the program with one line naming the flag
or file; a finished run prints a short summary.
"""

import dataclasses
import signal
import sys

from absl import flags

from train import cli

flags.adopt_module_key_flags(cli)  # --tf_verbose in --help

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Run directory (resumes if it holds one).")
flags.DEFINE_string(
    "dataset",
    "mnist5k",
    "A bssn_tf.data dataset name (mnist5k, digits, cifar10, ...), folder:PATH (your own "
    "images; class subfolders are labels) or tfds:NAME[/CONFIG][:SPLIT] (a prepared TFDS "
    "image dataset).",
)
flags.DEFINE_integer(
    "image_size", None, "Image side (default: the dataset's; required for folder: and tfds:)."
)
flags.DEFINE_integer(
    "channels",
    None,
    "1 or 3, for folder: and tfds: datasets (default: 1 if every image is grayscale, else 3).",
)
flags.DEFINE_bool(
    "skip_bad_images",
    False,
    "folder: datasets: skip files that cannot be decoded (default: stop, naming the file).",
)
flags.DEFINE_string("arch", "cnn", "cnn | resnet.")
flags.DEFINE_float("width", 1.0, "Channel multiplier (CNN base 64).")
flags.DEFINE_integer("z_dim", 128, "Latent dimension.")
flags.DEFINE_string(
    "norm", "bssn", "Discriminator normalization: none | sn | ssn | bsn | bssn | exact."
)
flags.DEFINE_float(
    "scale",
    None,
    "Scale c of ssn/bssn, ignored by the others (default: bssn_tf.layers.DEFAULT_BSSN_SCALE).",
)
flags.DEFINE_integer(
    "num_classes",
    0,
    "0: unconditional. Else the dataset's number of classes: conditional BatchNorm in G, "
    "a projection discriminator, real labels from the dataset's label feature.",
)
flags.DEFINE_string("loss", "hinge", "hinge | ns (non-saturating).")
flags.DEFINE_integer("steps", 100_000, "Generator steps to reach.")
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_integer("n_dis", 1, "Discriminator steps per generator step.")
flags.DEFINE_float("g_lr", 1e-4, "Generator Adam learning rate.")
flags.DEFINE_float("d_lr", 1e-4, "Discriminator Adam learning rate.")
flags.DEFINE_float("beta1", 0.5, "Adam beta1.")
flags.DEFINE_float("beta2", 0.999, "Adam beta2.")
flags.DEFINE_integer("seed", 0, "Seed of weights, data order and z.")
flags.DEFINE_string("strategy", "default", "default | mirrored | multiworker | tpu.")
flags.DEFINE_bool(
    "jit_compile",
    None,
    "XLA-compile the D and G steps. Unset: the faster path for this machine (XLA on a "
    "GPU/TPU or a CPU without AVX-512; off on AVX-512 CPUs with oneDNN and under "
    "mirrored/multiworker; see docs/DESIGN.md). config.json records the choice.",
)
flags.DEFINE_string("mixed_precision", "none", "none | mixed_float16 | mixed_bfloat16.")
flags.DEFINE_bool("deterministic", False, "Enable TF op determinism.")
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.")
flags.DEFINE_integer("sample_every", 1000, "Steps between sample grids (0: off).")
flags.DEFINE_integer("eval_every", 0, "Steps between metrics.csv rows (0: off).")
flags.DEFINE_string(
    "eval_extractor",
    "digits",
    "digits | fid_inception (needs $BSSN_FID_INCEPTION_WEIGHTS) | inception (Keras' "
    "InceptionV3, needs $BSSN_INCEPTION_WEIGHTS; not comparable with published numbers).",
)
flags.DEFINE_integer("eval_num_samples", 2000, "Generated images per eval.")
flags.DEFINE_integer(
    "eval_num_real", 2000, "Real training images per eval (at most the dataset's)."
)
flags.DEFINE_integer("log_every", 100, "Steps between summaries and progress lines.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir.")


def config_from_flags():
    """The TrainConfig the flags describe; ConfigError names a bad flag.

    Every TrainConfig field but the ones resolved from the data is a flag of the
    same name (tests/test_train_gan.py holds the defaults equal); --scale unset
    leaves the field's default.
    """
    from bssn_tf.training import TrainConfig
    from bssn_tf.training.config import RESOLVED_FIELDS, ConfigError

    if not _MODEL_DIR.value:
        raise ConfigError("model_dir must be given.")
    values = {
        field.name: flags.FLAGS[field.name].value
        for field in dataclasses.fields(TrainConfig)
        if field.name not in RESOLVED_FIELDS
    }
    if values["scale"] is None:
        del values["scale"]
    return TrainConfig(**values)


def main(argv):
    if len(argv) > 1:
        sys.exit(f"train_gan: error: unexpected arguments {argv[1:]}.")
    cli.import_tensorflow()
    import tensorflow as tf

    from bssn_tf.data import DatasetUnavailableError
    from bssn_tf.training import NonFiniteLossError, train
    from bssn_tf.training.checkpoints import CheckpointError
    from bssn_tf.training.config import ConfigError
    from bssn_tf.training.duties import Preempted
    from bssn_tf.training.progress import run_summary
    from bssn_tf.training.run_directory import RunDirectoryBusyError

    try:
        result = train(config_from_flags())
    except ConfigError as error:
        # ConfigError messages start with the setting's name, which is the flag's.
        sys.exit(f"train_gan: error: --{cli.one_line(error)}")
    except (
        NonFiniteLossError,
        CheckpointError,
        RunDirectoryBusyError,
        DatasetUnavailableError,
        OSError,
        tf.errors.OpError,
    ) as error:
        sys.exit(f"train_gan: error: {cli.one_line(error)}")
    except Preempted as stopped:
        print(f"train_gan: {stopped}", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)  # the status of a process that SIGTERM ended
    except KeyboardInterrupt:
        sys.exit("train_gan: interrupted; re-run the same command to resume.")
    print(run_summary(result))


if __name__ == "__main__":
    cli.run(main)
