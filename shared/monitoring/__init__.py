"""Stage 7: windows of logged predictions against the reference, and alerts.

- ``drift``: a window's figures against the reference (confidence, PSI, KS, label shares,
  text length, unknown words, the domain classifier, live metrics, latency);
- ``alerts``: the rules that turn a window's figures into alarms, and recording them;
  ``windows``: time windows, with delayed labels;
- ``monitor``: the command (exit 1 when an alert fires); ``watch``: the same on a
  schedule, sending alerts to a person through ``notify`` (webhook or command).

May import: core, data, model, scale, serving.
"""
