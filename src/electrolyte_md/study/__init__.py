"""Stage 5, study: runs to per-system tables, comparisons, the paper's check and the report.

- :mod:`~electrolyte_md.study.paper`: the paper's numbers
- :mod:`~electrolyte_md.study.summary`: replica means and errors, per system and temperature;
  the comparison of systems with and without an additive
- :mod:`~electrolyte_md.study.arrhenius`: Arrhenius fits and their figure
- :mod:`~electrolyte_md.study.validation`: the paper's numbers against the study
  (``python -m electrolyte_md.study.validation``)
- :mod:`~electrolyte_md.study.report`: the report's tables (compositions, MD summary, config)
- :mod:`~electrolyte_md.study.provenance`: git commit, versions, force-field sources, runtimes
"""
