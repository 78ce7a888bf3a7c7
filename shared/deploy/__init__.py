"""Stage 6: a model tried in full before it goes live, and every release kept.

- ``deployment``: the release checks, the release folder, its manifest and model card
  (``templates/model_card.md``), then the canary; ``canary``: the staging folder reloaded,
  its scores reproduced, its cost within budget (``model_cost``) and served over HTTP;
- ``challenger``: the candidate against the live model on one test split and on the frozen
  set (paired bootstrap); ``feedback``: feedback labels read and judged as training data;
- ``release``: release history and rollback; ``live_replay``: the kept releases replayed
  on labelled live traffic.

It comes after monitoring: the model card states the monitoring rules, and the canary
measures the latency that monitoring later compares with.

May import: core, data, model, scale, serving, monitoring.
"""
