# Stage 5: binding energies and atomic charges from finished quantum-chemistry outputs.
# The outputs are listed in config["dft"]["binding"]; by default the list is empty and
# no rule of this stage runs (final_outputs() asks for its tables only when it is not).


rule dft_binding_table:
    input:
        outputs=dft_output_files(),
    output:
        table=report(
            f"{RESULTS}/dft/binding_energies.csv",
            caption="../report/dft_binding.rst",
            category="DFT binding energies",
            labels={"table": "binding energies"},
        ),
    log:
        f"{LOGS}/dft_binding_table/binding_energies.log",
    benchmark:
        f"{BENCH}/dft_binding_table/binding_energies.tsv"
    conda:
        ENVS["dft"]
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        manifest=dft_manifest(),
        allow_mismatch=config.get("dft", {}).get("allow_level_mismatch", False),
    script:
        "../scripts/dft_binding_table.py"


rule dft_charges_table:
    input:
        outputs=dft_output_files(),
    output:
        table=report(
            f"{RESULTS}/dft/atomic_charges.csv",
            caption="../report/dft_charges.rst",
            category="DFT binding energies",
            labels={"table": "atomic charges"},
        ),
    log:
        f"{LOGS}/dft_charges_table/atomic_charges.log",
    benchmark:
        f"{BENCH}/dft_charges_table/atomic_charges.tsv"
    conda:
        ENVS["dft"]
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        manifest=dft_manifest(),
    script:
        "../scripts/dft_charges_table.py"
