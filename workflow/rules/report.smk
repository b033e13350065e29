# Stage 6: tables for the Snakemake report (the report itself: snakemake --report).


rule config_used:
    output:
        config=report(
            f"{RESULTS}/report/config_used.yaml",
            caption="../report/config_used.rst",
            category="Provenance",
            labels={"file": "configuration used"},
        ),
    log:
        f"{LOGS}/config_used/config_used.log",
    benchmark:
        f"{BENCH}/config_used/config_used.tsv"
    conda:
        ENVS["report"]
    resources:
        mem_mb=500,
        runtime=5,
    params:
        config=config,
        sources=[str(f) for f in workflow.configfiles],
    script:
        "../scripts/report_config_used.py"


rule compositions_table:
    input:
        compositions=expand(
            f"{RESULTS}/systems/{{system}}/composition.json",
            system=list(config["systems"]),
        ),
        forcefields=expand(
            f"{RESULTS}/systems/{{system}}/forcefield.json",
            system=list(config["systems"]),
        ),
    output:
        table=report(
            f"{RESULTS}/report/compositions.csv",
            caption="../report/compositions.rst",
            category="Systems",
            labels={"table": "box compositions"},
        ),
    log:
        f"{LOGS}/compositions_table/compositions.log",
    benchmark:
        f"{BENCH}/compositions_table/compositions.tsv"
    conda:
        ENVS["report"]
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/report_compositions.py"


rule md_summary_table:
    input:
        summaries=[
            f"{run}/md_summary.json"
            for system in config["systems"]
            for run in run_dirs(system)
        ],
        compositions=expand(
            f"{RESULTS}/systems/{{system}}/composition.json",
            system=list(config["systems"]),
        ),
    output:
        table=report(
            f"{RESULTS}/report/md_summary.csv",
            caption="../report/md_summary.rst",
            category="Molecular dynamics",
            labels={"table": "MD runs"},
        ),
    log:
        f"{LOGS}/md_summary_table/md_summary.log",
    benchmark:
        f"{BENCH}/md_summary_table/md_summary.tsv"
    conda:
        ENVS["report"]
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/report_md_summary.py"


rule comparison_table:
    input:
        summaries=expand(
            f"{RESULTS}/analysis/{{system}}/summary.csv",
            system=list(config["systems"]),
        ),
    output:
        table=report(
            f"{RESULTS}/report/comparison.csv",
            caption="../report/comparison.rst",
            category="Comparison with the paper",
            labels={"table": "with and without the additive, and the paper"},
        ),
    log:
        f"{LOGS}/comparison_table/comparison.log",
    benchmark:
        f"{BENCH}/comparison_table/comparison.tsv"
    conda:
        ENVS["report"]
    resources:
        mem_mb=500,
        runtime=5,
    params:
        pairs=additive_pairs(config),
        options=config["analysis"]["comparison"],
        paper_systems=config["validation"]["paper_systems"],
        n_temperatures=len(config["md"]["temperatures_kelvin"]),
        paper=PAPER,
    script:
        "../scripts/report_comparison.py"


rule provenance:
    input:
        # an output of every job that no other job reads (hence every job of the study:
        # final_outputs), so that the runtime table covers all jobs
        done=lambda wc: final_outputs(),
        forcefields=expand(
            f"{RESULTS}/systems/{{system}}/forcefield.json",
            system=list(config["systems"]),
        ),
        summaries=[
            f"{run}/md_summary.json"
            for system in config["systems"]
            for run in run_dirs(system)
        ],
    output:
        provenance=report(
            f"{RESULTS}/report/provenance.csv",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"table": "code, software, force fields"},
        ),
        runtimes=report(
            f"{RESULTS}/report/runtimes.csv",
            caption="../report/runtimes.rst",
            category="Provenance",
            labels={"table": "runtime per rule"},
        ),
    log:
        f"{LOGS}/provenance/provenance.log",
    benchmark:
        f"{BENCH}/provenance/provenance.tsv"
    conda:
        ENVS["report"]
    resources:
        mem_mb=500,
        runtime=5,
    params:
        repo=workflow.basedir,
        snakemake_version=snakemake.__version__,
        benchmarks=BENCH,
    script:
        "../scripts/report_provenance.py"


rule experiment_checks:
    input:
        summaries=expand(
            f"{RESULTS}/analysis/{{system}}/summary.csv",
            system=list(config["systems"]),
        ),
    output:
        table_html=report(
            f"{RESULTS}/report/experiment.html",
            caption="../report/experiment.rst",
            category="At a glance",
            labels={"item": "5 simulation against experiment"},
        ),
        table=f"{RESULTS}/report/experiment.csv",
    log:
        f"{LOGS}/experiment_checks/experiment_checks.log",
    benchmark:
        f"{BENCH}/experiment_checks/experiment_checks.tsv"
    conda:
        ENVS["report"]
    resources:
        mem_mb=500,
        runtime=5,
    params:
        experiments=config["validation"]["experiments"],
        systems=config["systems"],
    script:
        "../scripts/report_experiment_checks.py"


rule charge_sweep:
    input:
        summaries=[
            f"{RESULTS}/analysis/{system}/summary.csv"
            for systems in SWEEPS.values()
            for system in systems
        ],
    output:
        figure=report(
            f"{RESULTS}/report/charge_sweep.png",
            caption="../report/charge_sweep.rst",
            category="At a glance",
            labels={"item": "6 against the ionic charge factor"},
        ),
        figure_svg=f"{RESULTS}/report/charge_sweep.svg",
        table=f"{RESULTS}/report/charge_sweep.csv",
        closest=report(
            f"{RESULTS}/report/charge_sweep_closest.csv",
            caption="../report/charge_sweep.rst",
            category="At a glance",
            labels={"item": "7 the factor closest to experiment"},
        ),
    log:
        f"{LOGS}/charge_sweep/charge_sweep.log",
    benchmark:
        f"{BENCH}/charge_sweep/charge_sweep.tsv"
    conda:
        ENVS["report"]
    resources:
        mem_mb=500,
        runtime=5,
    params:
        sweeps=SWEEPS,
        cn_pair=config["analysis"]["comparison"].get("cn_pair", "Li-P"),
        experiments=SWEPT_EXPERIMENTS,
    script:
        "../scripts/report_charge_sweep.py"


rule paper_validation:
    input:
        comparison=f"{RESULTS}/report/comparison.csv",
        rdf=[d for system in config["systems"] for d in rdf_outputs(system)],
        md_summaries=[
            f"{run}/md_summary.json"
            for system in config["systems"]
            for run in run_dirs(system)
        ],
        binding=(
            [f"{RESULTS}/report/binding_comparison.csv"]
            if xtb_pairs() or dft_manifest()
            else []
        ),
    output:
        table=report(
            f"{RESULTS}/report/paper_validation.csv",
            caption="../report/paper_validation.rst",
            category="Comparison with the paper",
            labels={"table": "the paper's numbers against this study"},
        ),
    log:
        f"{LOGS}/paper_validation/paper_validation.log",
    benchmark:
        f"{BENCH}/paper_validation/paper_validation.tsv"
    conda:
        ENVS["report"]
    resources:
        mem_mb=500,
        runtime=5,
    params:
        rdf_dirs={system: rdf_outputs(system) for system in config["systems"]},
        md_runs=[
            (system, float(t), f"{RESULTS}/md/{system}/{t}K/rep{r}/md_summary.json")
            for system in config["systems"]
            for t in temperatures()
            for r in replicas()
        ],
        measured_densities=config["validation"]["measured_densities"],
        cn_pair=config["analysis"]["comparison"]["cn_pair"],
    script:
        "../scripts/report_paper_validation.py"


rule overview:
    input:
        summaries=expand(
            f"{RESULTS}/analysis/{{system}}/summary.csv",
            system=list(config["systems"]),
        ),
        rdfs=headline_rdfs(),
    output:
        # HTML: the report shows it in place (a CSV only as a download)
        table_html=report(
            f"{RESULTS}/report/overview.html",
            caption="../report/overview.rst",
            category="At a glance",
            labels={"item": "1 every system and temperature"},
        ),
        table=report(
            f"{RESULTS}/report/overview.csv",
            caption="../report/overview.rst",
            category="At a glance",
            labels={"item": "4 every system and temperature, as CSV"},
        ),
        rdf_png=report(
            f"{RESULTS}/report/overview_rdf.png",
            caption="../report/overview_rdf.rst",
            category="At a glance",
            labels={"item": "2 g(r) and n(r) of every system"},
        ),
        rdf_svg=f"{RESULTS}/report/overview_rdf.svg",
        fractions_png=report(
            f"{RESULTS}/report/overview_shells.png",
            caption="../report/overview_shells.rst",
            category="At a glance",
            labels={"item": "3 ion pairing of every system"},
        ),
        fractions_svg=f"{RESULTS}/report/overview_shells.svg",
    log:
        f"{LOGS}/overview/overview.log",
    benchmark:
        f"{BENCH}/overview/overview.tsv"
    conda:
        ENVS["report"]
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        pair=config["analysis"]["comparison"].get("cn_pair", "Li-P"),
    script:
        "../scripts/report_overview.py"
