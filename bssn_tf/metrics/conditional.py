"""Metrics of class-conditional generators: class consistency and intra-class FCD.

Class consistency is the share of generated images that a classifier assigns
to the label they were generated for (for digits, the shipped digit
classifier); a generator that ignores its label scores about 1 / num_classes.
Intra-class FCD (Miyato and Koyama 2018 call the Inception version intra
FID) is the FCD between the real and generated images of each class, averaged
over classes: it also catches a generator that draws the right class badly.
"""

import numpy as np

from bssn_tf.extractors.feature_extractor import require_image_batch
from bssn_tf.extractors.registry import get_extractor
from bssn_tf.io.checks import check_int
from bssn_tf.metrics.batching import run_in_batches
from bssn_tf.metrics.frechet import frechet_classifier_distance_from_activations


def _require_labels(labels, count, what):
    labels = np.asarray(labels)
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{what} must be {count} integers (one per image); got dtype {labels.dtype} "
            f"and shape {list(labels.shape)}."
        )
    return labels.astype(np.int64)


def class_consistency_from_logits(logits, labels):
    """Share of rows of `logits` [n, classes] whose argmax is the row's label [n]."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or len(logits) == 0:
        raise ValueError(f"logits must be [n, classes] with n >= 1; got {list(logits.shape)}.")
    labels = _require_labels(labels, len(logits), "labels")
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def class_consistency(images, labels, extractor="digits", batch_size=500):
    """Share of `images` [n, H, W, C] in [-1, 1] that `extractor` classifies as `labels` [n]."""
    feature_extractor = get_extractor(extractor)
    images = require_image_batch(images, "images")
    labels = _require_labels(labels, len(images), "labels")
    logits = run_in_batches(feature_extractor.logits, images, batch_size)
    return class_consistency_from_logits(logits, labels)


def intra_class_fcd_from_activations(
    real_features, real_labels, generated_features, generated_labels
):
    """Mean over classes of the FCD between real and generated features of that class.

    Every label of `generated_labels` needs at least two real and two generated
    examples; classes with no generated example are not scored.

    Returns:
      (mean FCD, {label: FCD}) over the labels of `generated_labels`.
    """
    real_labels = _require_labels(real_labels, len(real_features), "real_labels")
    generated_labels = _require_labels(
        generated_labels, len(generated_features), "generated_labels"
    )
    per_class = {}
    for label in np.unique(generated_labels):
        real = np.asarray(real_features)[real_labels == label]
        generated = np.asarray(generated_features)[generated_labels == label]
        if len(real) < 2 or len(generated) < 2:
            raise ValueError(
                f"class {label} has {len(real)} real and {len(generated)} generated examples; "
                "intra-class FCD needs at least 2 of each."
            )
        per_class[int(label)] = frechet_classifier_distance_from_activations(real, generated)
    return float(np.mean(list(per_class.values()))), per_class


def evaluate_conditional_generator(
    sample_fn,
    real_images,
    real_labels,
    num_classes,
    extractor="digits",
    num_per_class=100,
    batch_size=500,
    seed=0,
    z_dim=128,
):
    """Class consistency and intra-class FCD of `sample_fn` on `num_per_class` images per class.

    Args:
      sample_fn: `(z [n, z_dim], labels [n]) -> images [n, H, W, C]` in [-1, 1]; z is
        drawn with numpy's default_rng(seed), the labels are `num_per_class` of each class.
      real_images, real_labels: the reference images and their int labels.

    Returns:
      A JSON-ready dict.
    """
    for name, value, minimum in (
        ("num_classes", num_classes, 1),
        ("num_per_class", num_per_class, 2),
        ("batch_size", batch_size, 1),
        ("z_dim", z_dim, 1),
    ):
        check_int(name, value, minimum, numpy_ints=True)
    feature_extractor = get_extractor(extractor)
    real_images = require_image_batch(real_images, "real_images")
    real_labels = _require_labels(real_labels, len(real_images), "real_labels")
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), num_per_class)
    z = np.random.default_rng(seed).standard_normal((len(labels), z_dim)).astype(np.float32)
    features, logits = [], []
    for start in range(0, len(labels), batch_size):
        stop = start + batch_size
        images = require_image_batch(sample_fn(z[start:stop], labels[start:stop]), "generated")
        if len(images) != len(labels[start:stop]):
            raise ValueError(
                f"sample_fn returned {len(images)} images for {len(labels[start:stop])} labels."
            )
        batch_features, batch_logits = feature_extractor.features_and_logits(images)
        features.append(batch_features)
        logits.append(batch_logits)
    real_features = run_in_batches(feature_extractor.features, real_images, batch_size)
    mean_fcd, per_class = intra_class_fcd_from_activations(
        real_features, real_labels, np.concatenate(features), labels
    )
    return {
        "class_consistency": class_consistency_from_logits(np.concatenate(logits), labels),
        "intra_class_fcd": mean_fcd,
        "intra_class_fcd_per_class": {str(label): value for label, value in per_class.items()},
        "num_per_class": int(num_per_class),
        "num_real": len(real_images),
        "extractor": feature_extractor.name,
        "seed": int(seed),
    }
