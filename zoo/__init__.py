"""Data package bssn_tf.zoo_files: the shipped model zoo, found by bssn_tf.zoo.registry."""
