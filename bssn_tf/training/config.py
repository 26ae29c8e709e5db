"""The plain configuration of one GAN training run; flags are turned into this."""

import dataclasses
import math
from typing import Optional

from bssn_tf.data.image_folder import folder_path
from bssn_tf.data.sources import CHANNELS, is_dataset_name
from bssn_tf.data.specs import DATASETS
from bssn_tf.extractors.registry import EXTRACTOR_NAMES
from bssn_tf.io.checks import check_int
from bssn_tf.layers import DEFAULT_BSSN_SCALE
from bssn_tf.models.architectures import ARCHS, IMAGE_SIZES
from bssn_tf.models.normalization import NORMS
from bssn_tf.training.jit_choice import fastest_jit_compile
from bssn_tf.training.losses import LOSSES

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")
# Fields that define the models and their data: a checkpoint made under other
# values of these cannot be resumed.
MODEL_FIELDS = (
    "dataset",
    "dataset_fingerprint",
    "channels",
    "image_size",
    "arch",
    "width",
    "z_dim",
    "norm",
    "scale",
    "num_classes",
)
# Paths on the training machine: neither config.json nor the model card records
# them (an image folder's path included), so records can be shared and committed.
LOCATION_FIELDS = ("model_dir", "data_dir")
# Filled in from the data once it is resolved (TrainConfig.with_data), never given.
RESOLVED_FIELDS = ("dataset_fingerprint", "dataset_images", "class_names")


class ConfigError(ValueError):
    """A bad setting of a training run; the message starts with the setting's name."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Defaults follow the paper's standard-CNN protocol.

    See docs/DESIGN.md, "The reference training protocol".
    """

    model_dir: str
    dataset: str = "mnist5k"
    image_size: Optional[int] = None  # None: the dataset's default size.
    arch: str = "cnn"
    width: float = 1.0
    z_dim: int = 128
    norm: str = "bssn"
    scale: float = DEFAULT_BSSN_SCALE  # used by ssn/bssn only
    num_classes: int = 0  # > 0: class-conditional G and projection D on the dataset's labels.
    loss: str = "hinge"
    steps: int = 100_000
    batch_size: int = 64
    n_dis: int = 1
    g_lr: float = 1e-4
    d_lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    strategy: str = "default"
    # None: the faster compile path for this machine and strategy (jit_choice).
    jit_compile: Optional[bool] = None
    mixed_precision: str = "none"
    deterministic: bool = False
    checkpoint_every: int = 1000
    sample_every: int = 1000
    eval_every: int = 0  # 0 turns evaluation off.
    eval_num_samples: int = 2000
    eval_num_real: int = 2000
    # One of bssn_tf.extractors.registry.EXTRACTOR_NAMES (fid_inception: weights
    # from $BSSN_FID_INCEPTION_WEIGHTS, tf_legacy resize).
    eval_extractor: str = "digits"
    log_every: int = 100
    data_dir: Optional[str] = None
    # Image folders and TFDS sources: channels (None: the data's), and whether
    # undecodable files are skipped instead of stopping the run.
    channels: Optional[int] = None
    skip_bad_images: bool = False
    # Filled in from the data once resolved (bssn_tf.data.resolve_dataset): an
    # image folder's content hash and image count, and the classes' names.
    dataset_fingerprint: Optional[str] = None
    dataset_images: Optional[int] = None
    class_names: tuple = ()

    def __post_init__(self):
        if not is_dataset_name(self.dataset):
            raise ConfigError(
                f"dataset must be one of {sorted(DATASETS)}, folder:PATH or "
                f"tfds:NAME[/CONFIG][:SPLIT]; got dataset={self.dataset!r}."
            )
        if self.dataset not in DATASETS and self.image_size is None:
            raise ConfigError(
                f"image_size must be given for dataset={self.dataset} (an image folder or "
                "TFDS dataset has no default size)."
            )
        if self.channels is not None and (
            self.dataset in DATASETS or self.channels not in CHANNELS
        ):
            raise ConfigError(
                f"channels must be 1 or 3, for an image folder or TFDS dataset only; got "
                f"channels={self.channels!r} with dataset={self.dataset}."
            )
        _check_choice("arch", self.arch, sorted(ARCHS))
        _check_choice("norm", self.norm, sorted(NORMS))
        _check_choice("loss", self.loss, sorted(LOSSES))
        _check_choice("strategy", self.strategy, STRATEGIES)
        _check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _check_choice("eval_extractor", self.eval_extractor, EXTRACTOR_NAMES)
        for name in ("g_lr", "d_lr", "scale", "width"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a finite number > 0; got {name}={value!r}.")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigError(f"{name} must lie in [0, 1); got {name}={value!r}.")
        positive = (
            "steps",
            "batch_size",
            "n_dis",
            "z_dim",
            "checkpoint_every",
            "eval_num_samples",
            "eval_num_real",
            "log_every",
        )
        for name in positive:
            _check_int(name, getattr(self, name), minimum=1)
        for name in ("sample_every", "eval_every", "num_classes"):
            _check_int(name, getattr(self, name), minimum=0)
        labels = DATASETS[self.dataset].num_classes if self.dataset in DATASETS else None
        if labels is not None and self.num_classes and self.num_classes != labels:
            raise ConfigError(
                f"num_classes must be 0 (unconditional) or the {labels} classes of "
                f"dataset={self.dataset}; got num_classes={self.num_classes}"
                + ("" if labels else f" (dataset={self.dataset} has no labels)")
                + "."
            )
        if self.jit_compile not in (None, True, False):
            raise ConfigError(
                f"jit_compile must be True, False or None (auto); "
                f"got jit_compile={self.jit_compile!r}."
            )
        if self.image_size is not None:
            _check_int("image_size", self.image_size, minimum=1)
        if self.resolved_image_size not in IMAGE_SIZES[self.arch]:
            given = (
                "" if self.image_size is not None else f" (the default of dataset={self.dataset})"
            )
            raise ConfigError(
                f"image_size={self.resolved_image_size}{given} is not supported by "
                f"arch={self.arch}; expected one of {IMAGE_SIZES[self.arch]}."
            )

    @property
    def resolved_image_size(self):
        """`image_size`, or the dataset's default size when it is None."""
        return self.image_size or DATASETS[self.dataset].image_size

    def with_data(self, spec):
        """This config with what the resolved data says about itself, checked against it.

        An image folder's class subfolders must number num_classes (when > 0).
        """
        if self.num_classes and self.num_classes != spec.num_classes:
            kind = "class subfolders" if spec.builder_dir else "classes"
            has = (
                f"{spec.num_classes} {kind}"
                if spec.num_classes
                else "no classes (it holds no class subfolders or label feature)"
            )
            raise ConfigError(
                f"num_classes={self.num_classes} does not match dataset={self.dataset}, "
                f"which has {has}."
            )
        return dataclasses.replace(
            self,
            dataset_fingerprint=spec.fingerprint,
            dataset_images=spec.num_images,
            class_names=tuple(spec.class_names) if self.num_classes else (),
        )

    @property
    def recorded_dataset(self):
        """`dataset` as records keep it: an image folder's path is the machine's, so it is
        kept as "folder" (its fingerprint identifies the content)."""
        return "folder" if folder_path(self.dataset) is not None else self.dataset

    @property
    def resolved_jit_compile(self):
        """`jit_compile`, or when None: XLA where it makes the step faster on this machine."""
        return self.jit_compile_choice[0]

    @property
    def jit_compile_choice(self):
        """`(jit_compile, reason)` as this run resolves it; config.json records both.

        An explicit True/False wins. None asks `jit_choice.fastest_jit_compile`:
        no XLA under mirrored/multiworker (it cannot compile them), XLA on a GPU or
        TPU and on CPUs without AVX-512, TensorFlow's oneDNN kernels on AVX-512 CPUs
        (docs/DESIGN.md, "Which compile path trains fastest"). The answer depends on
        the machine, so it is not a flag a resume compares.
        """
        if self.jit_compile is None:
            return fastest_jit_compile(self.strategy)
        return self.jit_compile, f"set by --{'' if self.jit_compile else 'no'}jit_compile"

    def model_fields(self):
        """The model-defining fields as a dict, stored in model_dir/config.json."""
        return {name: value for name, value in self.card_flags().items() if name in MODEL_FIELDS}

    def as_dict(self):
        return dataclasses.asdict(self)

    def card_flags(self):
        """The flags that config.json and the model card record: no LOCATION_FIELDS, and an
        image folder as "folder"."""
        flags = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in self.as_dict().items()
            if name not in LOCATION_FIELDS
        }
        return dict(flags, dataset=self.recorded_dataset)


def card_flag_history(history):
    """config.json's flag history without the LOCATION_FIELDS, for a model card."""
    changes = []
    for entry in history:
        changed = {
            name: values for name, values in entry["changed"].items() if name not in LOCATION_FIELDS
        }
        if changed:
            changes.append({"start_step": entry["start_step"], "changed": changed})
    return changes


# Every field's default: the value a run recorded before that field existed
# (num_classes, say) had, for run records and resume checks alike.
FIELD_DEFAULTS = {
    field.name: field.default
    for field in dataclasses.fields(TrainConfig)
    if field.default is not dataclasses.MISSING
}


def _check_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f"{name} must be one of {list(choices)}; got {name}={value!r}.")


def _check_int(name, value, minimum):
    check_int(name, value, minimum, error=ConfigError)
