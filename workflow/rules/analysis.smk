# Stage 4: radial distribution functions and coordination numbers, every pair of a run
# in one job (one trajectory read).


rule rdf:
    input:
        prmtop=f"{RESULTS}/systems/{{system}}/system.prmtop",
        dcd=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.dcd",
    output:
        # rdf_<pair>.csv, cn_<pair>.json, rdf_<pair>.png of every pair of the system
        rdf=report(
            directory(
                f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/rdf"
            ),
            patterns=["rdf_{pair}.png"],
            caption="../report/rdf.rst",
            category="Radial distribution functions",
            subcategory="{system}",
            labels={
                "pair": "{pair}",
                "system": "{system}",
                "temperature (K)": "{temperature}",
                "replica": "{replica}",
            },
        ),
    log:
        f"{LOGS}/rdf/{{system}}/{{temperature}}K/rep{{replica}}.log",
    benchmark:
        f"{BENCH}/rdf/{{system}}/{{temperature}}K/rep{{replica}}.tsv"
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        pairs=lambda wc: system_pairs(config, wc.system),
        bin_width=config["analysis"]["rdf"]["bin_width_angstrom"],
        r_max=config["analysis"]["rdf"].get("r_max_angstrom"),
        n_blocks=config["analysis"]["rdf"]["n_blocks"],
        skip_ps=config["analysis"]["skip_ps"],
    script:
        "../scripts/analysis_rdf.py"


rule coordination_table:
    input:
        rdf=lambda wc: rdf_outputs(wc.system),
    output:
        table=report(
            f"{RESULTS}/analysis/{{system}}/coordination.csv",
            caption="../report/coordination.rst",
            category="Coordination numbers",
            labels={"system": "{system}", "table": "coordination numbers"},
        ),
    log:
        f"{LOGS}/coordination_table/{{system}}.log",
    benchmark:
        f"{BENCH}/coordination_table/{{system}}.tsv"
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        pairs=pair_names,
    script:
        "../scripts/analysis_coordination_table.py"


rule solvation:
    input:
        prmtop=f"{RESULTS}/systems/{{system}}/system.prmtop",
        dcd=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.dcd",
        rdf=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/rdf",
    output:
        summary=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/solvation.json",
        table=report(
            f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/solvation.csv",
            caption="../report/solvation.rst",
            category="Solvation shells",
            subcategory="{system}",
            labels={
                "system": "{system}",
                "temperature (K)": "{temperature}",
                "replica": "{replica}",
            },
        ),
    log:
        f"{LOGS}/solvation/{{system}}/{{temperature}}K/rep{{replica}}.log",
    benchmark:
        f"{BENCH}/solvation/{{system}}/{{temperature}}K/rep{{replica}}.tsv"
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        pairs=pair_names,
        cation=lambda wc: salt_ions(wc.system, "cation"),
        anions=lambda wc: salt_ions(wc.system, "anion"),
        residues=lambda wc: residues_of(wc.system),
        cutoffs=config["analysis"]["solvation"]["cutoff_angstrom"],
        n_blocks=config["analysis"]["rdf"]["n_blocks"],
        skip_ps=config["analysis"]["skip_ps"],
    script:
        "../scripts/analysis_solvation.py"


rule transport:
    input:
        prmtop=f"{RESULTS}/systems/{{system}}/system.prmtop",
        dcd=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.dcd",
    output:
        summary=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/transport.json",
        table=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/msd.csv",
        png=report(
            f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/msd.png",
            caption="../report/msd.rst",
            category="Transport",
            subcategory="{system}",
            labels={
                "figure": "MSD",
                "system": "{system}",
                "temperature (K)": "{temperature}",
                "replica": "{replica}",
            },
        ),
    log:
        f"{LOGS}/transport/{{system}}/{{temperature}}K/rep{{replica}}.log",
    benchmark:
        f"{BENCH}/transport/{{system}}/{{temperature}}K/rep{{replica}}.tsv"
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        residues=lambda wc: residues_of(wc.system),
        charges=lambda wc: {
            s: species_charge(s, config["species"][s])
            for s in system_species(config, wc.system)
        },
        viscosity=config["analysis"]["transport"]["viscosity_pa_s"],
        viscosity_source=config["analysis"]["transport"]["viscosity_source"],
        fit=config["analysis"]["transport"]["fit"],
        n_groups=config["analysis"]["transport"]["n_particle_groups"],
        skip_ps=config["analysis"]["skip_ps"],
    script:
        "../scripts/analysis_transport.py"


rule system_summary:
    input:
        rdf=lambda wc: rdf_outputs(wc.system),
        solvation=lambda wc: (
            run_files(wc.system, "solvation.json")
            if salt_ions(wc.system, "cation") and salt_ions(wc.system, "anion")
            else []
        ),
        transport=lambda wc: run_files(wc.system, "transport.json"),
    output:
        table=report(
            f"{RESULTS}/analysis/{{system}}/summary.csv",
            caption="../report/system_summary.rst",
            category="Summary per system",
            labels={"system": "{system}", "table": "replica means and errors"},
        ),
    log:
        f"{LOGS}/system_summary/{{system}}.log",
    benchmark:
        f"{BENCH}/system_summary/{{system}}.tsv"
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        pairs=pair_names,
        viscosity=config["analysis"]["transport"]["viscosity_pa_s"],
        viscosity_source=config["analysis"]["transport"]["viscosity_source"],
    script:
        "../scripts/analysis_system_summary.py"


rule arrhenius:
    input:
        summary=f"{RESULTS}/analysis/{{system}}/summary.csv",
    output:
        table=report(
            f"{RESULTS}/analysis/{{system}}/arrhenius.csv",
            caption="../report/arrhenius.rst",
            category="Transport",
            subcategory="{system}",
            labels={"system": "{system}", "table": "Arrhenius activation energies"},
        ),
        png=report(
            f"{RESULTS}/analysis/{{system}}/arrhenius.png",
            caption="../report/arrhenius.rst",
            category="Transport",
            subcategory="{system}",
            labels={"system": "{system}", "figure": "Arrhenius plot"},
        ),
    log:
        f"{LOGS}/arrhenius/{{system}}.log",
    benchmark:
        f"{BENCH}/arrhenius/{{system}}.tsv"
    conda:
        ENVS["analysis"]
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/analysis_arrhenius.py"


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
            },
        ),
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
    script:
        "../scripts/analysis_cluster_stability.py"
