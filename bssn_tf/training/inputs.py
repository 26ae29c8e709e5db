"""Training inputs whose position is one integer, so that resuming is exact.

Real batches come from `bssn_tf.data.training_batches`, whose order depends
only on the seed; latent batches are `stateless_normal` draws keyed by
(seed, stream, batch index). Resuming at position `n` skips `n` real batches
and starts the latent counter at `n`: the run sees exactly the batches an
uninterrupted run would.
"""

import tensorflow as tf

from bssn_tf import data

DISCRIMINATOR_STREAM = 0
GENERATOR_STREAM = 1
SAMPLE_STREAM = 2


def latent_batch(seed, stream, index, batch_size, z_dim):
    """The `index`-th float32 z ~ N(0, I) batch of a stream."""
    key = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, stream], tf.int64), tf.cast(index, tf.int64)
    )
    return tf.random.stateless_normal([batch_size, z_dim], seed=key)


def latent_batches(seed, stream, batch_size, z_dim, start):
    """Endless z batches of a stream from batch `start` on."""
    return tf.data.Dataset.counter(start).map(
        lambda index: latent_batch(seed, stream, index, batch_size, z_dim)
    )


def _shard_by_data(dataset):
    # Every worker computes the global batch and keeps its own slice: the
    # datasets are single-file and the latent stream has no files at all.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def discriminator_inputs(config, image_size, position):
    """(real images, z) global batches, from D step number `position` on."""
    real = data.training_batches(
        config.dataset,
        config.batch_size,
        config.seed,
        image_size=image_size,
        data_dir=config.data_dir,
    )
    z = latent_batches(config.seed, DISCRIMINATOR_STREAM, config.batch_size, config.z_dim, position)
    return _shard_by_data(tf.data.Dataset.zip((real.skip(position), z)))


def generator_inputs(config, position):
    """z global batches for the generator, from G step number `position` on."""
    return _shard_by_data(
        latent_batches(config.seed, GENERATOR_STREAM, config.batch_size, config.z_dim, position)
    )
