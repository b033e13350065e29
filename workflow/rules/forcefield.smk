# Stage 2: parameters per species (cached by input hash), then the OpenMM System per box.


rule parameterize_species:
    input:
        sdf=f"{RESULTS}/species/{{species}}/structure.sdf",
        info=f"{RESULTS}/species/{{species}}/species.json",
    output:
        mol2=f"{RESULTS}/species/{{species}}/params/ff.mol2",
        frcmod=f"{RESULTS}/species/{{species}}/params/ff.frcmod",
        pdb=f"{RESULTS}/species/{{species}}/params/ff.pdb",
        record=f"{RESULTS}/species/{{species}}/params/ff.json",
    log:
        f"{LOGS}/parameterize_species/{{species}}.log",
    benchmark:
        f"{BENCH}/parameterize_species/{{species}}.tsv"
    conda:
        ENVS["forcefield"]
    resources:
        mem_mb=2000,
        # antechamber's and parmchk2's own time limits (forcefield/species.py) fit in it up
        # to ~110 atoms, in the SLURM profile's second attempt (x 2) up to ~140 atoms
        runtime=120,
    params:
        parameters=lambda wc: species_parameters(config, wc.species),
        cache_dir=config["forcefield"]["cache_dir"],
    script:
        "../scripts/forcefield_parameterize.py"


rule build_system:
    input:
        box=f"{RESULTS}/systems/{{system}}/box.pdb",
        composition=f"{RESULTS}/systems/{{system}}/composition.json",
        records=species_files("params/ff.json"),
        mol2s=species_files("params/ff.mol2"),
    output:
        system=f"{RESULTS}/systems/{{system}}/system.xml",
        pdb=f"{RESULTS}/systems/{{system}}/system.pdb",
        prmtop=f"{RESULTS}/systems/{{system}}/system.prmtop",
        inpcrd=f"{RESULTS}/systems/{{system}}/system.inpcrd",
        summary=f"{RESULTS}/systems/{{system}}/forcefield.json",
        tleap_log=f"{RESULTS}/systems/{{system}}/tleap.log",
    log:
        f"{LOGS}/build_system/{{system}}.log",
    benchmark:
        f"{BENCH}/build_system/{{system}}.tsv"
    conda:
        ENVS["forcefield"]
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        species=species_of,
        charge_scale=lambda wildcards: system_charge_scales(
            config, wildcards.system, SPECIES_CHARGES
        ),
        cutoff_nm=config["forcefield"]["cutoff_nm"],
    script:
        "../scripts/forcefield_build_system.py"
