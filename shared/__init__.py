"""The seven-stage workflow's package, in eight wings (subpackages) by role, lowest first:

    core < data < model < scale < serving < monitoring < deploy < run

A module may import its own wing and the wings before it, never a wing after it, so the
dependencies point one way and no two wings import each other (tests/test_architecture.py
checks every import, lazy ones too, and that no module is over 400 lines). Each wing's
``__init__`` says what lives there.

The modules left here are entry points, and nothing in a wing imports them: ``cli`` and
``__main__`` (``python -m shared <command>``), and the older names of the documented commands
(``python -m shared.runner``, ``serve``, ``predict``, ``monitor``, ``release``, ``explain``,
``live_replay``, ``prediction_log``; ``pipeline``, the runner's oldest name), each a shim
that calls the command's ``main``, kept so that scripts calling them work.
"""
