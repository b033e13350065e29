# Stage 3: OpenMM molecular dynamics per system, temperature and replica (its energy plot
# is made by the run's analysis job, analysis.smk).
# A run keeps its resumable state in .../rep{replica}/restart/, which is deliberately not
# an output: Snakemake deletes the outputs of a failed job before a retry, never that
# folder, so a rerun (or `retries`) after a kill, SIGTERM or time limit continues there.


rule run_md:
    input:
        system=f"{RESULTS}/systems/{{system}}/system.xml",
        pdb=f"{RESULTS}/systems/{{system}}/system.pdb",
    output:
        minimized=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/minimized.pdb",
        decorrelation_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/decorrelation.csv",
        heat_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/heat.csv",
        equil_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/equil.csv",
        equil_pdb=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/equil_final.pdb",
        prod_csv=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.csv",
        dcd=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod.dcd",
        prod_pdb=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/prod_final.pdb",
        state=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/state.xml",
        summary=f"{RESULTS}/md/{{system}}/{{temperature}}K/rep{{replica}}/md_summary.json",
    log:
        f"{LOGS}/run_md/{{system}}/{{temperature}}K/rep{{replica}}.log",
    benchmark:
        f"{BENCH}/run_md/{{system}}/{{temperature}}K/rep{{replica}}.tsv"
    retries: config["md"].get("retries", 0)
    conda:
        ENVS["md"]
    threads: config["md"]["threads"]
    resources:
        mem_mb=4000,
        runtime=1440,
    params:
        # md.protocol with its production target resolved for the system
        protocol=lambda wildcards: md_protocol_settings(config, wildcards.system),
    script:
        "../scripts/md_run.py"
