"""Every analysis of one MD run in one job (Snakemake script of analyze_run and
analyze_run_no_salt).

First the trajectory is checked against the run's md_summary.json (frames, time step:
:func:`~electrolyte_md.analysis.coordination.check_trajectory`); a trajectory cut short
or of another run stops the job before any analysis. Steps, in this order: the RDF and
coordination number of every pair (one trajectory pass, into the run's RDF directory),
the solvation shells of the salt cation (with a salt; they take their cutoffs from the
RDF records), the transport record and MSDs, the dielectric constant (salt-free systems
only: :mod:`~electrolyte_md.analysis.dielectric`) and the energy plot of the MD run. A failed
step does not stop the others (the solvation shells excepted, which need the RDF
records); the log gives each step's time or traceback, and the job then fails with an
error naming every failed step. Snakemake removes all outputs of a failed job, those of
the steps that worked included.
"""

from electrolyte_md.analysis.coordination import (
    analyze_run,
    analyze_solvation,
    check_trajectory,
)
from electrolyte_md.analysis.dielectric import write_dielectric
from electrolyte_md.analysis.energies import plot_md_timeseries
from electrolyte_md.analysis.records import read_pair_records
from electrolyte_md.analysis.transport import analyze_transport
from electrolyte_md.analysis.views import write_shell_view
from electrolyte_md.errors import AnalysisError
from electrolyte_md.logs import log_to_file, run_steps

log_to_file(snakemake.log[0])
wc = snakemake.wildcards
params = snakemake.params
system = params.system
label = f"{wc.system}, {wc.temperature} K, replica {wc.replica}"
check_trajectory(snakemake.input.dcd)


def rdf():
    analyze_run(
        snakemake.input.prmtop,
        snakemake.input.dcd,
        system["pairs"],
        snakemake.output.rdf,
        skip_ps=params.skip_ps,
        bin_width_angstrom=params.bin_width,
        r_max_angstrom=params.r_max,
        n_blocks=params.n_blocks,
        run_label=label,
    )


def solvation():
    if len(system["cation"]) != 1:
        raise AnalysisError(
            f"system '{wc.system}': solvation shells need one salt cation, got {system['cation']}"
        )
    residues = system["residues"]
    analyze_solvation(
        snakemake.input.prmtop,
        snakemake.input.dcd,
        read_pair_records(snakemake.output.rdf, sorted(system["pairs"])),
        cation_residue=residues[system["cation"][0]],
        anion_species=system["anions"],
        species_by_residue={residue: name for name, residue in residues.items()},
        out_json=snakemake.output.solvation,
        out_csv=snakemake.output.solvation_table,
        skip_ps=params.skip_ps,
        n_blocks=params.n_blocks,
        fixed_cutoffs=params.cutoffs,
    )


def transport():
    analyze_transport(
        snakemake.input.prmtop,
        snakemake.input.dcd,
        system["residues"],
        system["charges"],
        temperature_kelvin=float(wc.temperature),
        out_json=snakemake.output.transport,
        out_csv=snakemake.output.msd_table,
        out_png=snakemake.output.msd,
        viscosity_pa_s=params.viscosity,
        viscosity_source=params.viscosity_source,
        skip_ps=params.skip_ps,
        n_groups=params.n_groups,
        fit_options=params.fit,
        title=f"MSD in {label}",
    )


def energy_plot():
    inputs = snakemake.input
    plot_md_timeseries(
        [
            ("decorrelation", inputs.decorrelation_csv),
            ("heating", inputs.heat_csv),
            ("equilibration", inputs.equil_csv),
            ("production", inputs.prod_csv),
        ],
        [snakemake.output.energies, snakemake.output.energies_svg],
        label,
    )


def dielectric():
    write_dielectric(
        snakemake.input.prmtop,
        snakemake.input.dcd,
        float(wc.temperature),
        snakemake.output.dielectric,
        skip_ps=params.skip_ps,
        n_blocks=params.n_blocks,
    )


def shell_view():
    write_shell_view(
        snakemake.input.prmtop,
        snakemake.input.dcd,
        snakemake.output.solvation,
        [snakemake.output.shell_view, snakemake.output.shell_view_svg],
        label,
    )


steps = {"rdf": rdf}
# output is a Namedlist: `in` on it would test the file names, not the output names
if "solvation" in snakemake.output.keys():  # noqa: SIM118
    steps["solvation"] = solvation
    steps["shell view"] = shell_view
steps["transport"] = transport
if "dielectric" in snakemake.output.keys():  # noqa: SIM118
    steps["dielectric constant"] = dielectric
steps["energy plot"] = energy_plot

run_steps(
    steps,
    label,
    "analysis",
    needs={
        "solvation": ("rdf", "the RDF records"),
        "shell view": ("solvation", "the solvation record"),
    },
)
