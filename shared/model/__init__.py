"""Stages 4 and 5: the candidate pipelines, their search and training, their evaluation.

- ``text`` and ``known_words``: the text rules and the text path as pipeline steps;
  ``features``: the feature groups; ``models``: the candidates, each one Pipeline from raw
  text to label;
- ``search``, ``fold_features`` and ``grid_extension``: the cross-validated search;
  ``training``: stage 4's choice, curve and save;
- ``calibration``, ``decision`` (the threshold), ``scoring``, ``metrics``, ``evaluation``
  (held-out metrics, the gate), ``interval_gate`` (the gate on interval ends, small slices
  by Wilson), ``behaviour`` and ``sensitivity`` (behavioural and name checks),
  ``temporal`` (the future scored by a model of the past): stage 5.

May import: core, data.
"""
