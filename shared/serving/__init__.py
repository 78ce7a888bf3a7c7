"""The deployed model answering: the predictor, the HTTP service, the batch command, the log.

- ``predictor``: one object answers for stage 7, the batch command and the service
  (``input_checks``: scikit-learn's data-frame question answered at once for the exact
  array types a model's steps pass);
  ``explain``: one text through the model, step by step;
- ``service`` (the FastAPI application), ``serve`` (the command), ``guards``,
  ``batching`` and ``health``; ``hot_reload``: a new release or a rollback served without
  a restart; ``local_service``: the service in a thread of this process
  (stage 6, and the canary's round trip); ``service_client``: a client, and every kind of
  bad request;
- ``predict``: the batch command, and ``dask_scoring`` for it on a cluster (which is why
  serving comes after scale);
- ``prediction_log`` and ``log_store``: every prediction and feedback label in SQLite;
  ``retention``: texts kept ``retention_days``, no longer (``log purge``, the watch loop).

May import: core, data, model, scale.
"""
