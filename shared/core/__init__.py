"""The base every wing may import: what the stages hand each other, and what a text is.

- ``catalog``: every artifact between stages, declared once (path, format, the stage that
  writes it, who reads it); ``records``: the typed records between stages; ``storage``:
  atomic file I/O;
- ``problem``: the problem spec, stage 1's decisions, read by every later stage;
- ``modelfile`` (skops files, the trusted types, files written before the wings) and
  ``manifest`` (a deployed folder, loaded only if every file matches);
- ``csv_reader``: the one reader of a user's table, with a diagnosis;
- ``text_rules`` (which texts can be scored, cleaning, the duplicate key), ``normalise``
  and ``names`` (the text path and its name lists): plain functions, no scikit-learn, that
  stage 3 shows, every model runs and the service applies alike;
- ``command_line``: the argument parser every command starts from.

May import: nothing. Only the standard library and third-party packages.
"""
