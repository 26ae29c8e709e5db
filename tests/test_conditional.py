"""Class-conditional GANs: conditional BatchNorm, the projection head, labels end to end."""

import dataclasses
import json
import os
import sys

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
import tensorflow_datasets as tfds

from bssn_tf import data, zoo
from bssn_tf.extractors.feature_extractor import FeatureExtractor
from bssn_tf.layers import SpectralNormalization
from bssn_tf.metrics.conditional import (
    class_consistency_from_logits,
    evaluate_conditional_generator,
    intra_class_fcd_from_activations,
)
from bssn_tf.models import (
    ConditionalBatchNormalization,
    build_discriminator,
    build_generator,
    spectral_layers,
)
from bssn_tf.models.conditional import discriminator_logits, label_input
from bssn_tf.training import ConfigError, GANTrainer, TrainConfig, inputs
from bssn_tf.training.export import export_generator
from bssn_tf.training.run_directory import check_model_dir
from bssn_tf.workflows.export_evaluation import ExportEvaluationConfig, evaluate_export
from bssn_tf.workflows.publish import PublishConfig, publish
from bssn_tf.zoo import __main__ as zoo_cli

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
from train import train_gan  # noqa: E402

NUM_CLASSES = 3
# float32 against float64 numpy on values of order 1: a few ulps of accumulated rounding.
ATOL = 1e-5


def test_conditional_batch_norm_matches_numpy_with_hand_set_gains():
    rng = np.random.default_rng(0)
    channels = 4
    layer = ConditionalBatchNormalization(NUM_CLASSES, momentum=0.5, epsilon=1e-3)
    x = rng.normal(2.0, 3.0, (6, 5, 5, channels)).astype(np.float32)
    labels = np.array([0, 2, 1, 2, 0, 1], np.int32)
    layer([x, labels])  # builds
    gain = rng.normal(size=(NUM_CLASSES, channels)).astype(np.float32)
    bias = rng.normal(size=(NUM_CLASSES, channels)).astype(np.float32)
    layer.gain.embeddings.assign(gain)
    layer.bias.embeddings.assign(bias)

    out = np.asarray(layer([x, labels], training=True))
    mean = x.astype(np.float64).mean(axis=(0, 1, 2))
    var = x.astype(np.float64).var(axis=(0, 1, 2))
    normalized = (x - mean) / np.sqrt(var + 1e-3)
    expected = normalized * gain[labels][:, None, None, :] + bias[labels][:, None, None, :]
    np.testing.assert_allclose(out, expected, atol=ATOL)

    # Inference uses the moving statistics: after one update with momentum 0.5 they are
    # halfway between the initial (0, 1) and the batch's (Keras keeps the biased variance).
    out = np.asarray(layer([x, labels], training=False))
    moving_mean, moving_var = 0.5 * mean, 0.5 + 0.5 * var
    expected = (x - moving_mean) / np.sqrt(moving_var + 1e-3) * gain[labels][
        :, None, None, :
    ] + bias[labels][:, None, None, :]
    np.testing.assert_allclose(out, expected, atol=ATOL)


def test_conditional_batch_norm_starts_as_plain_batch_norm_on_dense_features():
    x = np.random.default_rng(1).normal(size=(8, 5)).astype(np.float32)
    labels = np.arange(8, dtype=np.int32) % NUM_CLASSES
    layer = ConditionalBatchNormalization(NUM_CLASSES)
    plain = keras.layers.BatchNormalization()
    np.testing.assert_allclose(
        np.asarray(layer([x, labels], training=True)),
        np.asarray(plain(x, training=True)),
        atol=ATOL,
    )
    assert not layer.batch_norm.center and not layer.batch_norm.scale
    np.testing.assert_array_equal(layer.gain.embeddings.numpy(), 1.0)
    np.testing.assert_array_equal(layer.bias.embeddings.numpy(), 0.0)


def projection_model(norm, feature_dim=6):
    features = keras.Input((feature_dim,))
    labels = label_input()
    logits = discriminator_logits(features, labels, NUM_CLASSES, norm, 1.0)
    return keras.Model([features, labels], logits)


def test_projection_logit_matches_numpy_with_hand_set_weights():
    rng = np.random.default_rng(2)
    model = projection_model("none")
    weights = {layer.name: layer for layer in model.layers}
    w, b = rng.normal(size=(6, 1)), np.array([0.3])
    embedding = rng.normal(size=(NUM_CLASSES, 6))
    weights["logit"].set_weights([w, b])
    weights["class_embedding"].set_weights([embedding])
    h = rng.normal(size=(5, 6)).astype(np.float32)
    y = np.array([2, 0, 1, 1, 2], np.int32)
    expected = h @ w + b + np.sum(embedding[y] * h, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(model([h, y])), expected, atol=ATOL)


@pytest.mark.parametrize("norm, scale", [("sn", 1.0), ("bssn", 1.6)])
def test_embedding_is_spectrally_normalized_like_the_numpy_svd(norm, scale):
    rng = np.random.default_rng(3)
    features = keras.Input((6,))
    labels = label_input()
    logits = discriminator_logits(features, labels, NUM_CLASSES, norm, scale)
    model = keras.Model([features, labels], logits)
    [wrapper] = [
        layer
        for layer in model.layers
        if isinstance(layer, SpectralNormalization)
        and isinstance(layer.layer, keras.layers.Embedding)
    ]
    embedding = rng.normal(size=(NUM_CLASSES, 6)).astype(np.float32)
    wrapper.layer.embeddings.assign(embedding)
    h = rng.normal(size=(4, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 1], np.int32)
    for _ in range(200):  # training calls advance u: the power iteration converges
        model([h, y], training=True)
    sigma = np.linalg.svd(embedding.astype(np.float64), compute_uv=False)[0]
    normalized = scale * embedding / sigma
    # Power iteration on a 3x6 matrix converges geometrically; 1e-4 is far above its residue.
    np.testing.assert_allclose(wrapper.normalized_kernel().numpy(), normalized, rtol=1e-4)
    np.testing.assert_allclose(
        np.asarray(wrapper(y)), normalized[y], rtol=1e-4, atol=1e-6
    )  # the layer's output uses it too


@pytest.mark.parametrize("arch, size", [("cnn", 28), ("resnet", 32)])
def test_conditional_models_use_labels_and_reload(arch, size, tmp_path):
    keras.utils.set_random_seed(0)
    generator = build_generator(arch, size, 1, 8, 0.125, num_classes=NUM_CLASSES)
    discriminator = build_discriminator(arch, size, 1, "bssn", 1.6, 0.125, NUM_CLASSES)
    z = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    # Move the gains off their initial 1 so that the label matters.
    for layer in generator.layers:
        if isinstance(layer, ConditionalBatchNormalization):
            layer.gain.embeddings.assign(
                np.random.default_rng(1).normal(size=layer.gain.embeddings.shape)
            )
    zeros, twos = np.zeros(4, np.int32), np.full(4, 2, np.int32)
    assert not np.allclose(generator([z, zeros]), generator([z, twos]), atol=1e-4)
    images = np.asarray(generator([z, zeros]))
    assert not np.allclose(discriminator([images, zeros]), discriminator([images, twos]))
    path = str(tmp_path / "d.keras")
    discriminator.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded([images, twos]), discriminator([images, twos]))


def test_dataset_labels_match_the_tfds_label_feature():
    images, labels = data.load_array("mnist5k", "test", with_labels=True)
    # The oracle reads the label feature itself, in the split's stored order.
    examples = tfds.builder(data.DATASETS["mnist5k"].tfds_name).as_dataset(
        split="test", shuffle_files=False
    )
    oracle_labels = [example["label"] for example in examples.as_numpy_iterator()]
    np.testing.assert_array_equal(images, data.load_array("mnist5k", "test"))
    np.testing.assert_array_equal(labels, oracle_labels)
    assert np.bincount(labels).tolist() == [100] * 10


def test_num_classes_is_refused_where_the_data_has_no_matching_labels(tmp_path):
    with pytest.raises(ConfigError, match=r"num_classes.*dataset=stl10 has no labels"):
        TrainConfig(model_dir=str(tmp_path), dataset="stl10", arch="cnn", num_classes=10)
    with pytest.raises(
        ConfigError, match=r"num_classes.*10 classes of dataset=mnist5k; got num_classes=7"
    ):
        TrainConfig(model_dir=str(tmp_path), num_classes=7)
    with pytest.raises(ConfigError, match=r"num_classes must be an integer >= 0"):
        TrainConfig(model_dir=str(tmp_path), num_classes=-1)
    with pytest.raises(ValueError, match=r"'stl10' has no class labels"):
        data.training_batches("stl10", 8, 0, with_labels=True)


def exported_conditional(tmp_path):
    """A tiny conditional generator exported and made a verifiable model folder."""
    keras.utils.set_random_seed(0)
    generator = build_generator("cnn", 28, 1, 8, 0.125, num_classes=10)
    export = export_generator(
        generator,
        8,
        str(tmp_path / "export"),
        {"steps": 0, "image_shape": [28, 28, 1]},
        num_classes=10,
    )
    return generator, export


def test_export_round_trip_with_labels_and_refusal_of_bad_labels(tmp_path):
    generator, export = exported_conditional(tmp_path)
    loaded = zoo.load(export)
    assert loaded.num_classes == 10 and loaded.card["num_classes"] == 10
    z = zoo.latents(6, 0, 8)
    labels = np.array([0, 9, 3, 3, 5, 1])
    expected = np.asarray(generator([z, labels.astype(np.int32)], training=False))
    # One SavedModel graph and one Keras graph of the same float32 ops.
    np.testing.assert_allclose(loaded(z, labels), expected, atol=1e-5)
    np.testing.assert_allclose(loaded.sample(6, seed=0, labels=labels), expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"class-conditional; pass labels, 6 ints in \[0, 10\)"):
        loaded(z)
    with pytest.raises(ValueError, match=r"label 10 is outside \[0, 10\)"):
        loaded(z, [0, 1, 2, 10, 4, 5])
    with pytest.raises(ValueError, match=r"label -1 is outside"):
        loaded(z, [0, 1, 2, -1, 4, 5])
    with pytest.raises(ValueError, match=r"6 ints in \[0, 10\).*shape \[5\]"):
        loaded(z, [0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"dtype float64"):
        loaded(z, np.zeros(6))


def test_a_card_whose_num_classes_contradicts_the_signature_is_refused(tmp_path):
    _, export = exported_conditional(tmp_path)
    card_path = os.path.join(export, "model_card.json")
    with open(card_path) as handle:
        card = json.load(handle)
    with open(card_path, "w") as handle:
        json.dump(dict(card, num_classes=0), handle)
    with pytest.raises(zoo.IntegrityError, match=r"takes inputs \['labels', 'z'\].*num_classes=0"):
        zoo.load(export)
    with open(card_path, "w") as handle:
        json.dump(dict(card, num_classes=-3), handle)
    with pytest.raises(zoo.IntegrityError, match=r"num_classes is -3; expected an integer >= 0"):
        zoo.load(export)


def test_unconditional_models_refuse_labels(tmp_path):
    keras.utils.set_random_seed(0)
    generator = build_generator("cnn", 28, 1, 8, 0.125)
    export = export_generator(generator, 8, str(tmp_path), {"steps": 0, "image_shape": [28, 28, 1]})
    loaded = zoo.load(export)
    assert loaded.card["num_classes"] == 0 and loaded.num_classes == 0
    with pytest.raises(ValueError, match="unconditional; it takes no labels"):
        loaded(zoo.latents(2, 0, 8), [1, 2])


def test_zoo_cli_samples_one_label_or_one_row_per_class(tmp_path, capsys):
    _, export = exported_conditional(tmp_path)
    one_class = tmp_path / "a.png"
    assert (
        zoo_cli.main(["sample", export, "--label", "3", "--num", "4", "--out", str(one_class)]) == 0
    )
    # 2x2 digits of 28 px, upscaled 5x by default to reach 256 px (56 * 5 = 280).
    assert tf.io.decode_png(one_class.read_bytes()).shape == (280, 280, 1)
    rows = tmp_path / "b.png"
    args = ["sample", export, "--num", "20", "--upscale", "1", "--out", str(rows)]
    assert zoo_cli.main(args) == 0
    # 10 classes, 20 // 10 = 2 samples per row, at the models' own size.
    assert tf.io.decode_png(rows.read_bytes()).shape == (280, 56, 1)
    capsys.readouterr()
    bad = tmp_path / "c.png"
    assert zoo_cli.main(["sample", export, "--label", "12", "--out", str(bad)]) == 1
    assert capsys.readouterr().err == "error: label 12 is outside [0, 10) for this model\n"
    assert not bad.exists()


def test_class_consistency_counts_argmax_hits():
    logits = np.array([[0.1, 2.0, 0.0], [3.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 5.0]])
    assert class_consistency_from_logits(logits, [1, 1, 2, 2]) == 0.75
    with pytest.raises(ValueError, match="labels must be 4 integers"):
        class_consistency_from_logits(logits, [1.0, 1.0, 2.0, 2.0])


def scipy_fcd(real, generated):
    """The Frechet distance written out with scipy's sqrtm, independently of bssn_tf."""
    mu1, mu2 = real.mean(0), generated.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(generated, rowvar=False)
    return float(
        np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    )


def test_intra_class_fcd_averages_per_class_frechet_distances():
    rng = np.random.default_rng(4)
    real_labels = np.repeat([0, 1, 2], 40)
    generated_labels = np.tile([0, 1, 2], 30)
    real = rng.normal(size=(120, 3)) + real_labels[:, None]
    generated = rng.normal(size=(90, 3)) * 1.5 + generated_labels[:, None] * 0.5
    mean, per_class = intra_class_fcd_from_activations(
        real, real_labels, generated, generated_labels
    )
    expected = {
        label: scipy_fcd(real[real_labels == label], generated[generated_labels == label])
        for label in range(3)
    }
    assert sorted(per_class) == [0, 1, 2]
    for label in range(3):
        # float64 on both sides; sqrtm of a 3x3 product is accurate to ~1e-10.
        assert per_class[label] == pytest.approx(expected[label], rel=1e-6)
    assert mean == pytest.approx(np.mean(list(expected.values())), rel=1e-6)


def test_evaluate_conditional_generator_scores_a_label_copying_generator():
    """A fake extractor whose logits read the class off the image; a generator that draws
    its label (or always class 0) must score 100% (or 10%)."""
    num_classes = 10

    def features_and_logits(images):
        value = images[:, 0, 0, 0]  # class k drawn as pixel value k / 10
        classes = np.round(value * 10).astype(int)
        return images.reshape(len(images), -1)[:, :2].astype(np.float64), np.eye(10)[classes]

    extractor = FeatureExtractor("fake", features_and_logits)
    rng = np.random.default_rng(5)
    real_labels = np.repeat(np.arange(num_classes), 5)
    real = np.zeros((50, 2, 2, 1), np.float32)
    real[:, 0, 0, 0] = real_labels / 10
    real[:, 0, 1, 0] = rng.uniform(-0.5, 0.5, 50)

    def copying(z, labels):
        images = np.zeros((len(z), 2, 2, 1), np.float32)
        images[:, 0, 0, 0] = labels / 10
        images[:, 0, 1, 0] = np.tanh(z[:, 0])
        return images

    result = evaluate_conditional_generator(
        copying, real, real_labels, num_classes, extractor=extractor, num_per_class=4, z_dim=3
    )
    assert result["class_consistency"] == 1.0 and result["num_per_class"] == 4
    assert len(result["intra_class_fcd_per_class"]) == num_classes
    ignoring = evaluate_conditional_generator(
        lambda z, labels: copying(z, np.zeros_like(labels)),
        real,
        real_labels,
        num_classes,
        extractor=extractor,
        num_per_class=4,
        z_dim=3,
    )
    assert ignoring["class_consistency"] == 0.1
    assert ignoring["intra_class_fcd"] > result["intra_class_fcd"]


def test_u_advances_exactly_once_per_discriminator_step_embedding_included(tmp_path):
    config = TrainConfig(
        model_dir=str(tmp_path),
        num_classes=10,
        norm="bsn",
        width=0.125,
        batch_size=8,
        z_dim=8,
        jit_compile=False,
    )
    strategy = tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    trainer = GANTrainer.for_config(config, strategy, 28, 1)
    d_inputs = iter(inputs.discriminator_inputs(config, data.DATASETS[config.dataset], 28, 0))
    g_inputs = iter(inputs.generator_inputs(config, 0))
    wrappers = spectral_layers(trainer.discriminator)
    assert "class_embedding_bsn" in [wrapper.name for wrapper in wrappers]
    for _ in range(2):
        before = [(w._raw_kernel.numpy(), w.u.numpy(), w.u2.numpy()) for w in wrappers]
        trainer.train_step(d_inputs, g_inputs)
        for wrapper, (kernel, u, u2) in zip(wrappers, before):
            fan_in = kernel.reshape(-1, kernel.shape[-1])
            fan_out = np.swapaxes(kernel, -1, -2).reshape(-1, kernel.shape[-2])
            # Same float32 rounding budget as the unconditional schedule test.
            np.testing.assert_allclose(wrapper.u.numpy(), power_step(u, fan_in), atol=2e-5)
            np.testing.assert_allclose(wrapper.u2.numpy(), power_step(u2, fan_out), atol=2e-5)


def l2_normalized(x):
    return x / (np.linalg.norm(x) + 1e-12)


def power_step(u, matrix):
    return l2_normalized(l2_normalized(u @ matrix.T) @ matrix)


def test_generator_labels_are_uniform_seeded_and_resumable():
    first = inputs.label_batch(0, inputs.GENERATOR_STREAM, 5, 10_000, 10).numpy()
    np.testing.assert_array_equal(
        first, inputs.label_batch(0, inputs.GENERATOR_STREAM, 5, 10_000, 10).numpy()
    )
    assert not np.array_equal(
        first, inputs.label_batch(0, inputs.GENERATOR_STREAM, 6, 10_000, 10).numpy()
    )
    counts = np.bincount(first, minlength=10)
    # Binomial(10000, 0.1): standard deviation 30, so 6 sigma is +-180.
    assert counts.min() > 820 and counts.max() < 1180 and first.min() >= 0 and first.max() <= 9


def test_old_run_directories_without_num_classes_still_resume(tmp_path):
    config = TrainConfig(model_dir=str(tmp_path), width=0.125)
    old_model_fields = {k: v for k, v in config.model_fields().items() if k != "num_classes"}
    (tmp_path / "config.json").write_text(json.dumps({"model": old_model_fields, "run": {}}))
    (tmp_path / "checkpoints").mkdir()
    tf.train.Checkpoint(step=tf.Variable(1)).save(str(tmp_path / "checkpoints" / "ckpt"))
    check_model_dir(config)  # missing num_classes means 0: the same model
    with pytest.raises(ConfigError, match=r"num_classes=0 \(now 10\)"):
        check_model_dir(dataclasses.replace(config, num_classes=10))


def test_tiny_conditional_train_gan_run_exports_and_reloads(tmp_path):
    model_dir = tmp_path / "run"
    train_gan.flags.FLAGS.unparse_flags()
    train_gan.flags.FLAGS(
        [
            "train_gan",
            f"--model_dir={model_dir}",
            "--num_classes=10",
            "--width=0.125",
            "--z_dim=8",
            "--steps=4",
            "--batch_size=16",
            "--eval_every=2",
            "--eval_num_samples=20",
            "--log_every=2",
            "--checkpoint_every=2",
            "--sample_every=4",
            "--nojit_compile",
        ]
    )
    try:
        train_gan.main(["train_gan"])
    finally:
        train_gan.flags.FLAGS.unparse_flags()
    with open(model_dir / "config.json") as handle:
        assert json.load(handle)["model"]["num_classes"] == 10
    with open(model_dir / "metrics.csv") as handle:
        rows = handle.read().splitlines()
    assert rows[0].endswith(",class_consistency") and len(rows) == 3
    for folder in ("export", "best_export"):
        loaded = zoo.load(str(model_dir / folder))
        assert loaded.card["num_classes"] == 10 and loaded.card["flags"]["num_classes"] == 10
        images = loaded.sample(10, seed=1, labels=np.arange(10))
        assert images.shape == (10, 28, 28, 1) and np.all(np.abs(images) <= 1.0)
    # One row of 8 samples per class.
    grid = tf.io.decode_png((model_dir / "samples" / "step_0000004.png").read_bytes())
    assert grid.shape == (280, 224, 1)

    # Published, the card carries the conditional metrics and the reference has labels.
    zoo_dir = str(tmp_path / "zoo")
    card = publish(PublishConfig(str(model_dir), "tiny_cond", zoo_dir, 40, "", "final"))
    assert 0.0 <= card["metrics"]["class_consistency"] <= 1.0
    assert card["metrics"]["num_per_class"] == 100
    assert len(card["metrics"]["intra_class_fcd_per_class"]) == 10
    published = zoo.load(os.path.join(zoo_dir, "tiny_cond"))
    with np.load(os.path.join(zoo_dir, "tiny_cond", "reference_output.npz")) as reference:
        np.testing.assert_array_equal(reference["labels"], np.arange(8) % 10)
        # The same SavedModel run twice on the same inputs.
        np.testing.assert_allclose(
            published(reference["z"], reference["labels"]), reference["images"], atol=1e-6
        )
    assert tf.io.decode_png(
        open(os.path.join(zoo_dir, "tiny_cond", "samples.png"), "rb").read()
    ).shape == (280, 224, 1)

    # The evaluation library scores the export with the conditional metrics too.
    output = str(tmp_path / "eval.json")
    results = evaluate_export(
        ExportEvaluationConfig(
            model_dir=str(model_dir), num_samples=20, num_per_class=3, output=output
        )
    )
    assert results["num_per_class"] == 3 and 0.0 <= results["class_consistency"] <= 1.0
    with open(output) as handle:
        assert json.load(handle)["intra_class_fcd"] == results["intra_class_fcd"]
