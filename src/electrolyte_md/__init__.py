"""Battery-electrolyte molecular simulation: structures, force fields, MD and analysis.

The package holds the science; the Snakemake workflow in ``workflow/`` only calls it.
Nothing here imports Snakemake.
"""

__version__ = "0.1.0"
