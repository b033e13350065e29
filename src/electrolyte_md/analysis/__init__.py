"""Stage 4, analysis: one MD run's trajectory to RDFs, coordination, shells and transport.

Analysis classes hold the science only, as MDAnalysis' own do (parameters checked in
``__init__``, per-frame work, ``results``); files, tables, figures and each job's entry
point live beside them.

- :mod:`~electrolyte_md.analysis.frames`: the trajectory block reader
- :mod:`~electrolyte_md.analysis.peaks`: first peak and first minimum of a g(r)
- :mod:`~electrolyte_md.analysis.kernel`: the compiled RDF histogram (numba)
- :mod:`~electrolyte_md.analysis.energies`: the run's temperature, density and energy figure
- :mod:`~electrolyte_md.analysis.rdf`: :class:`RDFCoordination`, :class:`RDFCoordinationSet`
- :mod:`~electrolyte_md.analysis.coordination`: RDF and solvation-shell tables, figures
  and the run's RDF and solvation jobs
- :mod:`~electrolyte_md.analysis.records`: the files of one RDF pair, read back (no
  MDAnalysis, for the study stage)
- :mod:`~electrolyte_md.analysis.solvation`: Li+ solvation shells and ion-pair classes
- :mod:`~electrolyte_md.analysis.msd`: :class:`SpeciesMSD`, mean-square displacements
- :mod:`~electrolyte_md.analysis.diffusion`: diffusion fits, Yeh-Hummer, t+, Nernst-Einstein
- :mod:`~electrolyte_md.analysis.transport`: transport tables, figures and job
"""
