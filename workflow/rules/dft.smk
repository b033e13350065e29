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


rule xtb_binding:
    input:
        host_sdf=lambda wc: species_file(xtb_pair(wc)["host"], "structure.sdf"),
        host_info=lambda wc: species_file(xtb_pair(wc)["host"], "species.json"),
        guest_sdf=lambda wc: species_file(xtb_pair(wc)["guest"], "structure.sdf"),
        guest_info=lambda wc: species_file(xtb_pair(wc)["guest"], "species.json"),
        reuse=lambda wc: [xtb_pair(wc)["reuse"]] if "reuse" in xtb_pair(wc) else [],
    output:
        document=f"{RESULTS}/binding_xtb/{{pair}}/binding.json",
        table=report(
            f"{RESULTS}/binding_xtb/{{pair}}/binding.csv",
            caption="../report/xtb_binding.rst",
            category="Binding energies",
            labels={"pair": "{pair}", "table": "GFN2-xTB placements"},
        ),
        structures=directory(f"{RESULTS}/binding_xtb/{{pair}}/structures"),
        dft_inputs=directory(f"{RESULTS}/binding_xtb/{{pair}}/dft_inputs"),
    log:
        f"{LOGS}/xtb_binding/{{pair}}.log",
    benchmark:
        f"{BENCH}/xtb_binding/{{pair}}.tsv"
    conda:
        ENVS["dft"]
    threads: 2
    resources:
        mem_mb=4000,
        # a Ti6(HPAB) + PF6- study without a stored result: about 4 placements x 1 h
        runtime=lambda wc: 10 if "reuse" in xtb_pair(wc) else 480,
    params:
        settings=xtb_binding_settings(),
        dft_inputs=config.get("binding_xtb", {}).get("dft_inputs", {}),
        # resumable records of an interrupted study (not an output: kept on failure)
        workdir=lambda wc: f"{RESULTS}/binding_xtb/{wc.pair}/work",
    script:
        "../scripts/dft_xtb_binding.py"


rule binding_comparison:
    input:
        documents=expand(
            f"{RESULTS}/binding_xtb/{{pair}}/binding.json", pair=list(xtb_pairs())
        ),
        dft=[f"{RESULTS}/dft/binding_energies.csv"] if dft_manifest() else [],
    output:
        table=report(
            f"{RESULTS}/report/binding_comparison.csv",
            caption="../report/binding_comparison.rst",
            category="Comparison with the paper",
            labels={"table": "binding energies and the paper"},
        ),
    log:
        f"{LOGS}/binding_comparison/binding_comparison.log",
    benchmark:
        f"{BENCH}/binding_comparison/binding_comparison.tsv"
    conda:
        ENVS["dft"]
    resources:
        mem_mb=500,
        runtime=5,
    params:
        pairs=list(xtb_pairs()),
        paper=PAPER["binding_ti6_pf6"],
    script:
        "../scripts/dft_binding_comparison.py"
