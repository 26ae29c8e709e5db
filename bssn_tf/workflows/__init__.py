"""Jobs that compose the other packages: the top floor of bssn_tf.

- `export_evaluation`: scores a generator export, a model folder or a zoo model
  (`python -m train.evaluate`).
- `publish`: turns a finished run into a zoo model (`python -m train.publish_zoo`).
- `digit_classifier_training`: trains the shipped digit classifier
  (`python -m train.train_digit_classifier`).
- `claims` (with `stepping` and `parallel_runs`): the paper's three claims
  (`python -m train.reproduce_claims`).
- `study`: the zoo study's tables and curves (`python -m train.zoo_study`).

Nothing below imports from here. Each module is imported on its own.
"""
