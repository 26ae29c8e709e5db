"""Training inputs whose position is one integer, so that resuming is exact.

Real batches come from `bssn_tf.data.training_batches`, whose order depends
only on the seed; latent batches are `stateless_normal` draws keyed by
(seed, stream, batch index). Resuming at position `n` skips `n` real batches
and starts the latent counter at `n`: the run sees exactly the batches an
uninterrupted run would.

Class-conditional runs (`num_classes` > 0) pair real images with their dataset
labels and every z with a label drawn uniformly, keyed like z on a stream of
its own: D gets `((images, labels), (z, labels))`, G gets `(z, labels)`.
"""

import tensorflow as tf

from bssn_tf import data
from bssn_tf.training.config import ConfigError

DISCRIMINATOR_STREAM = 0
GENERATOR_STREAM = 1
SAMPLE_STREAM = 2
# Added to a latent stream's number for the generator labels paired with it.
LABEL_STREAM_OFFSET = 100


def latent_batch(seed, stream, index, batch_size, z_dim):
    """The `index`-th float32 z ~ N(0, I) batch of a stream."""
    key = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, stream], tf.int64), tf.cast(index, tf.int64)
    )
    return tf.random.stateless_normal([batch_size, z_dim], seed=key)


def label_batch(seed, stream, index, batch_size, num_classes):
    """The int32 labels, uniform on [0, num_classes), paired with `latent_batch(seed, stream,
    index, ...)`."""
    key = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, stream + LABEL_STREAM_OFFSET], tf.int64), tf.cast(index, tf.int64)
    )
    return tf.random.stateless_uniform(
        [batch_size], seed=key, minval=0, maxval=num_classes, dtype=tf.int32
    )


def latent_batches(seed, stream, batch_size, z_dim, start):
    """Endless z batches of a stream from batch `start` on."""
    return tf.data.Dataset.counter(start).map(
        lambda index: latent_batch(seed, stream, index, batch_size, z_dim)
    )


def generator_input_batches(config, stream, start):
    """Endless G inputs of a stream from batch `start` on: z batches, or `(z, labels)`
    batches when `config.num_classes` > 0."""
    z = latent_batches(config.seed, stream, config.batch_size, config.z_dim, start)
    if not config.num_classes:
        return z
    labels = tf.data.Dataset.counter(start).map(
        lambda index: label_batch(config.seed, stream, index, config.batch_size, config.num_classes)
    )
    return tf.data.Dataset.zip((z, labels))


def _shard_by_data(dataset):
    # Every worker computes the global batch and keeps its own slice: the
    # datasets are single-file and the latent stream has no files at all.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def discriminator_inputs(config, spec, image_size, position):
    """(real, G input) global batches of the resolved dataset `spec`, from D step number
    `position` on; real is images, or `(images, labels)` when `config.num_classes` > 0."""
    real = data.training_batches(
        spec,
        config.batch_size,
        config.seed,
        image_size=image_size,
        data_dir=config.data_dir,
        with_labels=bool(config.num_classes),
    )
    z = generator_input_batches(config, DISCRIMINATOR_STREAM, position)
    return _shard_by_data(tf.data.Dataset.zip((real.skip(position), z)))


def generator_inputs(config, position):
    """Generator input global batches, from G step number `position` on."""
    return _shard_by_data(generator_input_batches(config, GENERATOR_STREAM, position))


def input_iterators(trainer, spec, image_size):
    """The trainer's distributed (real, G input) and G input iterators, positioned by the
    trainer's own counters (real batches consumed, generator steps), so a restored trainer
    continues exactly where it stopped and a new one starts at 0."""
    strategy, config = trainer.strategy, trainer.config
    real_position = int(trainer.real_batches_consumed.numpy())
    g_position = int(trainer.step.numpy())
    return (
        iter(
            strategy.experimental_distribute_dataset(
                discriminator_inputs(config, spec, image_size, real_position)
            )
        ),
        iter(strategy.experimental_distribute_dataset(generator_inputs(config, g_position))),
    )


def real_train_images(config, spec, image_size, flag, with_labels=False):
    """The first `config.<flag>` images of the train split, read whole into memory.

    Raises:
      ConfigError: naming `flag` and the count, when the split holds fewer images.
    """
    limit = getattr(config, flag)
    try:
        return data.load_array(
            spec,
            "train",
            image_size=image_size,
            limit=limit,
            data_dir=config.data_dir,
            with_labels=with_labels,
        )
    except data.TooFewImagesError as error:
        raise ConfigError(
            f"{flag}={limit} is more than the {error.available} images of the train split "
            f"of dataset={config.recorded_dataset}; pass {error.available} or fewer."
        ) from None
