"""The benchmark report: read finished runs (never train), tabulate metrics over seeds with
rliable intervals, draw the figures and fill the README's results block.

Data flows one way, one module per step:

- ``runs``: find and load ``results.json`` files under a benchmark root (three layouts), and
  save verbatim per-run copies under ``results/<name>/``;
- ``tidy``: per-run metrics as one tidy frame (``runs.csv``), recomputed from the saved R
  matrices under the current definitions; the ABA-gap measures (``aba.csv``);
- ``intervals``: IQM and mean with stratified bootstrap 95% intervals over seeds, and the
  probability of improvement, reproducible under a fixed bootstrap seed;
- ``tables``: the markdown tables and the README block;
- ``mean_std``: the short table of mean ± std over seeds per strategy (README compare block);
- ``plots``: the PNG figures (matplotlib, Agg backend).

``scripts/report.py`` is the command line over these modules.
"""
