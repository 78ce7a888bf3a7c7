"""On top: the runner that executes the seven notebooks, and what the notebooks share.

- ``runner``: the command; ``kernels``: one notebook on a kernel started ahead of time;
  ``run_record``: what each stage last ran on, so that a current stage is skipped;
  ``html_reports``: each executed notebook as HTML, and an index page;
- ``retrain``: the live model retrained on its data plus feedback, through the runner;
- ``notebook`` and ``plots``: the notebooks' display settings, small demonstrations and
  figures.

May import: core, data, model, scale, serving, monitoring, deploy.
"""
