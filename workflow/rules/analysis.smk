# Stage 4: analysis of each MD run in one job (energy plot, RDFs and coordination numbers
# of every pair in one trajectory read, solvation shells, transport), then the tables of
# each system in one job (coordination, replica means, Arrhenius fit). One job where there
# were four (per run) and three (per system) keeps the DAG of a large study small
# (benchmarks/measured/dry_run.md); a job's log and error name every step that failed.


#: report labels of a run's figures and tables
RUN_LABELS = {
    "system": "{system}",
    "temperature (K)": "{temperature}",
    "replica": "{replica}",
}

#: params of the run analysis; the captions read fit, viscosity and viscosity_source
RUN_ANALYSIS_PARAMS = {
    "system": lambda wildcards: system_run_params(wildcards.system),
    "bin_width": config["analysis"]["rdf"]["bin_width_angstrom"],
    "r_max": config["analysis"]["rdf"].get("r_max_angstrom"),
    "n_blocks": config["analysis"]["rdf"]["n_blocks"],
    "skip_ps": config["analysis"]["skip_ps"],
    "cutoffs": config["analysis"]["solvation"]["cutoff_angstrom"],
    "viscosity": config["analysis"]["transport"]["viscosity_pa_s"],
    "viscosity_source": config["analysis"]["transport"]["viscosity_source"],
    "fit": config["analysis"]["transport"]["fit"],
    "n_groups": config["analysis"]["transport"]["n_particle_groups"],
}


rule analyze_run:
    input:
        prmtop=f"{RESULTS}/systems/{{system}}/system.prmtop",
        dcd=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.dcd",
        decorrelation_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/decorrelation.csv",
        heat_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/heat.csv",
        equil_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/equil.csv",
        prod_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.csv",
    output:
        energies=report(
            f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/energies.png",
            caption="../report/md_energies.rst",
            category="Molecular dynamics",
            subcategory="{system}",
            labels=RUN_LABELS,
        ),
        # the same figure for papers (vector)
        energies_svg=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/energies.svg",
        # rdf_<pair>.csv, cn_<pair>.json, rdf_<pair>.png of every pair of the system
        rdf=report(
            directory(
                f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/rdf"
            ),
            patterns=["rdf_{pair}.png"],
            caption="../report/rdf.rst",
            category="Radial distribution functions",
            subcategory="{system}",
            labels={"pair": "{pair}", **RUN_LABELS},
        ),
        solvation=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/solvation.json",
        solvation_table=report(
            f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/solvation.csv",
            caption="../report/solvation.rst",
            category="Solvation shells",
            subcategory="{system}",
            labels=RUN_LABELS,
        ),
        shell_view=report(
            f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/shell_view.png",
            caption="../report/shell_view.rst",
            category="Solvation shells",
            subcategory="{system}",
            labels={"figure": "typical Li+ shell (3D)", **RUN_LABELS},
        ),
        shell_view_svg=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/shell_view.svg",
        transport=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/transport.json",
        msd_table=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/msd.csv",
        msd=report(
            f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/msd.png",
            caption="../report/msd.rst",
            category="Transport",
            subcategory="{system}",
            labels={"figure": "MSD", **RUN_LABELS},
        ),
    log:
        f"{LOGS}/analyze_run/{{system}}/{{temperature}}K/rep{{replica}}.log",
    benchmark:
        f"{BENCH}/analyze_run/{{system}}/{{temperature}}K/rep{{replica}}.tsv"
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        **RUN_ANALYSIS_PARAMS,
    script:
        "../scripts/analysis_run.py"


# The same for a system without a salt (no cation, no solvation shells): chosen by
# ruleorder, its system wildcard only matches such systems.
rule analyze_run_no_salt:
    input:
        prmtop=f"{RESULTS}/systems/{{system}}/system.prmtop",
        dcd=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.dcd",
        decorrelation_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/decorrelation.csv",
        heat_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/heat.csv",
        equil_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/equil.csv",
        prod_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.csv",
    output:
        energies=report(
            f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/energies.png",
            caption="../report/md_energies.rst",
            category="Molecular dynamics",
            subcategory="{system}",
            labels=RUN_LABELS,
        ),
        # the same figure for papers (vector)
        energies_svg=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/energies.svg",
        # rdf_<pair>.csv, cn_<pair>.json, rdf_<pair>.png of every pair of the system
        rdf=report(
            directory(
                f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/rdf"
            ),
            patterns=["rdf_{pair}.png"],
            caption="../report/rdf.rst",
            category="Radial distribution functions",
            subcategory="{system}",
            labels={"pair": "{pair}", **RUN_LABELS},
        ),
        transport=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/transport.json",
        msd_table=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/msd.csv",
        msd=report(
            f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/msd.png",
            caption="../report/msd.rst",
            category="Transport",
            subcategory="{system}",
            labels={"figure": "MSD", **RUN_LABELS},
        ),
        # neutral liquids only: the static dielectric constant from dipole fluctuations
        dielectric=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/dielectric.json",
    log:
        f"{LOGS}/analyze_run/{{system}}/{{temperature}}K/rep{{replica}}.log",
    benchmark:
        f"{BENCH}/analyze_run/{{system}}/{{temperature}}K/rep{{replica}}.tsv"
    wildcard_constraints:
        system=names_regex(salt_free_systems()),
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=2000,
        runtime=90,
    params:
        **RUN_ANALYSIS_PARAMS,
    script:
        "../scripts/analysis_run.py"


ruleorder: analyze_run_no_salt > analyze_run


rule system_summary:
    input:
        rdf=lambda wc: rdf_outputs(wc.system),
        solvation=lambda wc: (
            run_files(wc.system, "solvation.json") if has_salt(wc.system) else []
        ),
        transport=lambda wc: run_files(wc.system, "transport.json"),
        dielectric=lambda wc: (
            [] if has_salt(wc.system) else run_files(wc.system, "dielectric.json")
        ),
        # how each run's production ended (rows of a run that missed its target: flagged)
        md_summaries=lambda wc: [
            f"{run}/md_summary.json" for run in run_dirs(wc.system)
        ],
    output:
        **(
            {
                "arrhenius_table": report(
                    f"{RESULTS}/analysis/{{system}}/arrhenius.csv",
                    caption="../report/arrhenius.rst",
                    category="Transport",
                    subcategory="{system}",
                    labels={
                        "system": "{system}",
                        "table": "Arrhenius activation energies",
                    },
                ),
                "arrhenius_png": report(
                    f"{RESULTS}/analysis/{{system}}/arrhenius.png",
                    caption="../report/arrhenius.rst",
                    category="Transport",
                    subcategory="{system}",
                    labels={"system": "{system}", "figure": "Arrhenius plot"},
                ),
            }
            if len(temperatures()) >= 2
            else {}
        ),
        coordination=report(
            f"{RESULTS}/analysis/{{system}}/coordination.csv",
            caption="../report/coordination.rst",
            category="Coordination numbers",
            labels={"system": "{system}", "table": "coordination numbers"},
        ),
        table=report(
            f"{RESULTS}/analysis/{{system}}/summary.csv",
            caption="../report/system_summary.rst",
            category="Summary per system",
            labels={"system": "{system}", "table": "replica means and errors"},
        ),
        # with two or more temperatures (study-wide, known when the rules are read) also
        # the Arrhenius table and figure
    log:
        f"{LOGS}/system_summary/{{system}}.log",
    benchmark:
        f"{BENCH}/system_summary/{{system}}.tsv"
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        pairs=pair_names,
        viscosity=config["analysis"]["transport"]["viscosity_pa_s"],
        viscosity_source=config["analysis"]["transport"]["viscosity_source"],
    script:
        "../scripts/analysis_system_summary.py"


rule cluster_stability:
    input:
        prmtop=f"{RESULTS}/systems/{{system}}/system.prmtop",
        dcd=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.dcd",
        info=f"{RESULTS}/species/{{species}}/species.json",
    output:
        summary=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/cluster_{{species}}.json",
        table=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/cluster_{{species}}.csv",
        png=report(
            f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/cluster_{{species}}.png",
            caption="../report/cluster_stability.rst",
            category="Ti6 cluster",
            subcategory="{system}",
            labels={
                "species": "{species}",
                "system": "{system}",
                "temperature (K)": "{temperature}",
                "replica": "{replica}",
                "figure": "stability",
            },
        ),
        # the cluster and its nearest anions in the last frame (3D), and for papers
        view=report(
            f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/cluster_{{species}}_view.png",
            caption="../report/cluster_view.rst",
            category="Ti6 cluster",
            subcategory="{system}",
            labels={
                "species": "{species}",
                "system": "{system}",
                "temperature (K)": "{temperature}",
                "replica": "{replica}",
                "figure": "nearest anions (3D)",
            },
        ),
        view_svg=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/cluster_{{species}}_view.svg",
    log:
        f"{LOGS}/cluster_stability/{{system}}/{{temperature}}K/rep{{replica}}/{{species}}.log",
    benchmark:
        f"{BENCH}/cluster_stability/{{system}}/{{temperature}}K/rep{{replica}}/{{species}}.tsv"
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        skip_ps=config["analysis"]["skip_ps"],
        # the salt anions of the system, for the view of the cluster's neighbourhood
        system=lambda wildcards: system_run_params(wildcards.system),
    script:
        "../scripts/analysis_cluster_stability.py"
