# Stage 4: radial distribution functions and coordination numbers per pair and run.


rule rdf:
    input:
        prmtop=f"{RESULTS}/systems/{{system}}/system.prmtop",
        dcd=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.dcd",
    output:
        table=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/rdf_{{pair}}.csv",
        summary=f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/cn_{{pair}}.json",
        png=report(
            f"{RESULTS}/analysis/{{system}}/{{temperature}}K/rep{{replica}}/rdf_{{pair}}.png",
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
        f"{LOGS}/rdf/{{system}}/{{temperature}}K/rep{{replica}}/{{pair}}.log",
    benchmark:
        f"{BENCH}/rdf/{{system}}/{{temperature}}K/rep{{replica}}/{{pair}}.tsv"
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        pair=lambda wc: config["analysis"]["rdf"]["pairs"][wc.pair],
        bin_width=config["analysis"]["rdf"]["bin_width_angstrom"],
        r_max=config["analysis"]["rdf"].get("r_max_angstrom"),
        n_blocks=config["analysis"]["rdf"]["n_blocks"],
        skip_ps=config["analysis"]["skip_ps"],
    script:
        "../scripts/analysis_rdf.py"


rule coordination_table:
    input:
        summaries=lambda wc: rdf_outputs(wc.system),
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
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/analysis_coordination_table.py"


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
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        skip_ps=config["analysis"]["skip_ps"],
    script:
        "../scripts/analysis_cluster_stability.py"
