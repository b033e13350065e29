# Stage 1: one 3D structure per species, then the packed box of each system.


rule build_species:
    input:
        cluster_document=cluster_document,
    output:
        sdf=f"{RESULTS}/species/{{species}}/structure.sdf",
        info=f"{RESULTS}/species/{{species}}/species.json",
    log:
        f"{LOGS}/build_species/{{species}}.log",
    benchmark:
        f"{BENCH}/build_species/{{species}}.tsv"
    conda:
        ENVS["structures"]
    resources:
        mem_mb=2000,
        # a cluster without a committed structure is relaxed here (~30 min on 2 cores)
        runtime=lambda wc: 120 if "cluster" in config["species"][wc.species] else 10,
    params:
        smiles=lambda wc: config["species"][wc.species].get("smiles"),
        cluster=lambda wc: config["species"][wc.species].get("cluster"),
        residue=lambda wc: config["species"][wc.species]["residue"],
        bond_length=lambda wc: config["species"][wc.species].get(
            "octahedral_bond_angstrom"
        ),
    script:
        "../scripts/structures_build_species.py"


rule compose_system:
    input:
        infos=species_files("species.json"),
    output:
        composition=f"{RESULTS}/systems/{{system}}/composition.json",
    log:
        f"{LOGS}/compose_system/{{system}}.log",
    benchmark:
        f"{BENCH}/compose_system/{{system}}.tsv"
    conda:
        ENVS["structures"]
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        system=lambda wc: config["systems"][wc.system],
        species=lambda wc: {s: config["species"][s] for s in species_of(wc)},
        salts=config.get("salts", {}),
    script:
        "../scripts/structures_compose_system.py"


rule pack_box:
    input:
        composition=f"{RESULTS}/systems/{{system}}/composition.json",
        pdbs=species_files("params/ff.pdb"),
    output:
        box=f"{RESULTS}/systems/{{system}}/box.pdb",
    log:
        f"{LOGS}/pack_box/{{system}}.log",
    benchmark:
        f"{BENCH}/pack_box/{{system}}.tsv"
    conda:
        ENVS["structures"]
    resources:
        mem_mb=2000,
        # Packmol's own time limit (structures/box.py: 120 s + 0.05 s per atom) fits in it
        # up to 70,000 atoms, in the SLURM profile's second attempt up to 140,000
        runtime=60,
    params:
        tolerance=config["packing"]["tolerance_angstrom"],
        seed=config["packing"]["seed"],
    script:
        "../scripts/structures_pack_box.py"


rule cluster_tables:
    input:
        info=f"{RESULTS}/species/{{species}}/species.json",
    output:
        charges=report(
            f"{RESULTS}/species/{{species}}/cluster_charges.csv",
            caption="../report/cluster_charges.rst",
            category="Ti6 cluster",
            labels={"species": "{species}", "table": "GFN2-xTB charges"},
        ),
        geometry=report(
            f"{RESULTS}/species/{{species}}/cluster_geometry.csv",
            caption="../report/cluster_geometry.rst",
            category="Ti6 cluster",
            labels={"species": "{species}", "table": "Ti-O distances"},
        ),
    log:
        f"{LOGS}/cluster_tables/{{species}}.log",
    benchmark:
        f"{BENCH}/cluster_tables/{{species}}.tsv"
    conda:
        ENVS["structures"]
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/structures_cluster_tables.py"
