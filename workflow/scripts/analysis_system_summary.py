"""The tables of one system over all its runs (Snakemake script of system_summary).

Steps: the coordination numbers of every pair, temperature and replica
(coordination.csv); the replica means and errors of coordination, shells and transport
(summary.csv); with two or more temperatures, the Arrhenius fit of D from that summary
(arrhenius.csv/.png). A failed step does not stop the coordination table or the summary;
the job then fails with an error naming every failed step (the log has the tracebacks).
"""

from electrolyte_md.analysis.coordination import coordination_table
from electrolyte_md.io import atomic_write_text
from electrolyte_md.logs import log_to_file, run_steps
from electrolyte_md.study.summary import rdf_run_records, write_arrhenius, write_system_summary

log_to_file(snakemake.log[0])
system = snakemake.wildcards.system
pairs = snakemake.params.pairs


def coordination():
    # cn_<pair>.json of .../{system}/{temperature}K/rep{replica}/rdf, tagged with the run
    table = coordination_table(rdf_run_records(snakemake.input.rdf, pairs))
    atomic_write_text(snakemake.output.coordination, table.to_csv(index=False, float_format="%.4f"))


def summary():
    write_system_summary(
        system,
        snakemake.input.rdf,
        snakemake.input.solvation,
        snakemake.input.transport,
        snakemake.output.table,
        pairs=pairs,
        md_summary_paths=snakemake.input.md_summaries,
        dielectric_paths=snakemake.input.dielectric,
    )


def arrhenius():
    write_arrhenius(
        snakemake.output.table,
        snakemake.output.arrhenius_table,
        snakemake.output.arrhenius_png,
        title=f"Arrhenius plot, {system}",
    )


steps = {"coordination table": coordination, "system summary": summary}
# output is a Namedlist: `in` on it would test the file names, not the output names
if "arrhenius_table" in snakemake.output.keys():  # noqa: SIM118
    steps["Arrhenius fit"] = arrhenius
run_steps(
    steps,
    f"system '{system}'",
    "tables",
    needs={"Arrhenius fit": ("system summary", "the system summary")},
)
