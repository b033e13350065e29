"""End to end: the whole workflow on a tiny LiPF6/NMP box, then its report."""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_CONFIG, Workflow

from electrolyte_md.config import system_pairs
from electrolyte_md.progress import restore_progress, save_progress


@pytest.fixture(scope="module")
def finished_run(workflow):
    study = workflow(name="e2e")
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["forcefield"]["cache_dir"] = str(study.directory / "cache")
    study.write_config(config)
    run = study.run("--cores", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = study.run("--cores", "1", "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    return study.directory, config


@pytest.mark.slow
def test_composition_and_force_field(finished_run):
    workdir, _ = finished_run
    results = workdir / "results"
    composition = json.loads((results / "systems/LiPF6_NMP/composition.json").read_text())
    assert composition["counts"] == {"NMP": 30, "Li": 3, "PF6": 3}
    packed = composition["salt_concentration_mol_per_l"]["LiPF6"]
    assert packed["requested"] == 1.0 and 0.8 < packed["obtained"] < 1.2
    ff = json.loads((results / "systems/LiPF6_NMP/forcefield.json").read_text())
    assert ff["n_atoms"] == 30 * 16 + 3 * 8 == composition["n_atoms"]
    assert abs(ff["net_charge_e"]) < 1e-5
    assert ff["removed_trans_angles"] == 9
    table = pd.read_csv(results / "report/compositions.csv")
    assert table.set_index("species")["charge_per_molecule_e"].to_dict() == {
        "NMP": 0.0,
        "Li": 0.8,
        "PF6": -0.8,
    }


@pytest.mark.slow
def test_md_outputs(finished_run):
    workdir, config = finished_run
    run = workdir / "results/md/LiPF6_NMP/298.15K/rep1"
    protocol = config["md"]["protocol"]
    prod = pd.read_csv(run / "prod.csv")
    assert len(prod) == round(protocol["production_ps"] / protocol["report_interval_ps"])
    assert 200 < prod["temperature_kelvin"].mean() < 400
    assert 0.8 < prod["density_g_per_cm3"].mean() < 1.4
    assert prod["volume_nm3"].nunique() == 1  # NVT production
    summary = json.loads((run / "md_summary.json").read_text())
    assert summary["platform"] == "CPU" and summary["ns_per_day"] > 0
    md_table = pd.read_csv(workdir / "results/report/md_summary.csv")
    assert 0.7 < md_table.loc[0, "LiPF6_mol_per_l"] < 1.3


@pytest.mark.slow
def test_rdf_and_coordination_numbers(finished_run):
    workdir, config = finished_run
    table = pd.read_csv(workdir / "results/analysis/LiPF6_NMP/coordination.csv")
    assert sorted(table["pair"]) == ["Li-F", "Li-O", "Li-P"]
    rows = table.set_index("pair")
    # configured cutoffs for the anion pairs, the first minimum for Li-O
    assert rows.loc["Li-P", "cutoff_source"] == "user"
    assert rows.loc["Li-P", "cutoff_angstrom"] == pytest.approx(4.2)
    assert rows.loc["Li-F", "cutoff_source"] == "user"
    assert rows.loc["Li-O", "cutoff_source"] == "first minimum"
    # the first and last block's CN, for a reader to see drift, beside the mean
    blocks = table[["coordination_number_first_block", "coordination_number_last_block"]]
    assert blocks.notna().all().all() and (blocks >= 0).all().all()
    # Li+ binds carbonyl O and F at contact distance, 1.7-2.6 A. Ten NMP O surround each
    # of the 3 Li+, so Li-O contacts are always there; whether any of the 3 PF6- reaches
    # contact within 10 ps is chance (a CI run had none), so Li-F is held to its contacts.
    rundir = workdir / "results/analysis/LiPF6_NMP/298.15K/rep1/rdf"
    shell_donors = {}
    for pair in ("Li-O", "Li-F"):
        rdf = pd.read_csv(rundir / f"rdf_{pair}.csv")
        contacts_per_li = float(rdf.loc[rdf["r_angstrom"] < 2.6, "cn_r"].max())
        peak = rows.loc[pair, "first_peak_angstrom"]
        if pair == "Li-O" or contacts_per_li >= 0.1:
            assert 1.7 < peak < 2.6, pair
            cutoff = rows.loc[pair, "cutoff_angstrom"]
            # (an empty gap after the first shell puts the minimum at the gap's centre:
            # 3.65 A in one run, 4.15 A in another; the second shell starts near 5 A)
            assert peak < cutoff < 4.5, pair
            if rows.loc[pair, "cutoff_source"] == "first minimum":
                # where g(r) has fallen to a fifth of its peak or less (a short run may
                # leave an empty gap there, and the minimum finder takes the gap's
                # centre: 3.65 A in one run); Li-F's cutoff is configured, its g noisy
                rdf = pd.read_csv(rundir / f"rdf_{pair}.csv")
                at_cutoff = rdf.iloc[(rdf["r_angstrom"] - cutoff).abs().argmin()]
                assert at_cutoff["g_r"] <= 0.2 * rdf["g_r"].max(), pair
            shell_donors[pair] = rows.loc[pair, "coordination_number"]
        else:
            # no contact shell formed: the first peak lies beyond contact distance
            assert (rdf.loc[rdf["r_angstrom"] < 2.6, "g_r"] < 1.0).all() and peak > 2.6, pair
            shell_donors[pair] = contacts_per_li
    # every Li+ is surrounded by 4-6 donors from NMP and PF6- together
    assert 3.0 < sum(shell_donors.values()) < 7.0
    # the CN in the table is the running CN of the RDF table at the cutoff
    rdf = pd.read_csv(rundir / "rdf_Li-O.csv")
    assert list(rdf.columns) == ["r_angstrom", "g_r", "cn_r"]
    at_cutoff = rdf.iloc[(rdf["r_angstrom"] - rows.loc["Li-O", "cutoff_angstrom"]).abs().argmin()]
    assert at_cutoff["cn_r"] == pytest.approx(rows.loc["Li-O", "coordination_number"], abs=0.35)
    record = json.loads(
        (workdir / "results/analysis/LiPF6_NMP/298.15K/rep1/rdf/cn_Li-O.json").read_text()
    )
    assert record["n_frames"] == 18  # 20 frames minus 1 ps skipped at 0.5 ps per frame
    assert math.isfinite(record["coordination_number"])


def _report_variable(html: str, name: str):
    """A JSON object the Snakemake report embeds as ``var <name> = {...}``."""
    start = html.index(f"var {name} = {{") + len(f"var {name} = ")
    return json.JSONDecoder().raw_decode(html, start)[0]


@pytest.mark.slow
def test_one_analysis_job_per_run_and_one_report_figure_per_pair(finished_run):
    workdir, config = finished_run
    pairs = sorted(system_pairs(config, "LiPF6_NMP"))
    assert pairs == ["Li-F", "Li-O", "Li-P"]
    # one analysis job per run; its RDF step: one directory with the table, record and
    # figure of every pair
    run = "LiPF6_NMP/298.15K/rep1"
    rdf_dir = workdir / "results/analysis" / run / "rdf"
    files = {f"{stem}_{pair}.{ext}" for pair in pairs for stem, ext in
             (("rdf", "csv"), ("cn", "json"), ("rdf", "png"))}  # fmt: skip
    assert {p.name for p in rdf_dir.iterdir() if not p.name.startswith(".")} == files
    for pair in pairs:
        assert json.loads((rdf_dir / f"cn_{pair}.json").read_text())["pair"] == pair
        assert (rdf_dir / f"rdf_{pair}.png").stat().st_size > 0
    logs = workdir / "results/logs/analyze_run/LiPF6_NMP/298.15K"
    assert [p.name for p in logs.iterdir()] == ["rep1.log"]
    log = (logs / "rep1.log").read_text()
    for step in ("rdf", "solvation", "transport", "energy plot"):
        assert f"{step} of LiPF6_NMP, 298.15 K, replica 1: done in" in log, step
    assert (workdir / "results/benchmarks/analyze_run" / f"{run}.tsv").is_file()
    html = (workdir / "results/report.html").read_text(errors="replace")
    categories = _report_variable(html, "categories")
    # the energy plot of the run (its own job before) is under Molecular dynamics
    assert f"results/md/{run}/energies.png" in categories["Molecular dynamics"]["LiPF6_NMP"]
    # the report shows every pair's figure, labelled with pair and run
    figures = categories["Radial distribution functions"]
    assert sorted(figures["LiPF6_NMP"]) == [
        f"results/analysis/{run}/rdf/rdf_{pair}.png" for pair in pairs
    ]
    results = _report_variable(html, "results")
    for pair in pairs:
        entry = results[f"results/analysis/{run}/rdf/rdf_{pair}.png"]
        assert entry["labels"] == {
            "pair": pair,
            "system": "LiPF6_NMP",
            "temperature (K)": "298.15",
            "replica": "1",
        }
        assert f"of pair {pair} in LiPF6_NMP" in entry["caption"]


@pytest.mark.slow
def test_failed_rdf_step_names_itself_and_leaves_no_rdf_directory(finished_run, tmp_path):
    workdir, config = finished_run
    clone = tmp_path / "clone"
    shutil.copytree(workdir, clone, ignore=shutil.ignore_patterns("cache", "report.html"))
    run_dir = clone / "results/analysis/LiPF6_NMP/298.15K/rep1"
    rdf_dir = run_dir / "rdf"
    assert (rdf_dir / "cn_Li-O.json").is_file()
    # a new pair reruns the run's analysis job, whose rdf step fails: no atom matches its
    # ligand; the other steps run, the error names the failed ones
    config = copy.deepcopy(config)
    # (an atom name only the real topology can refute: a residue or element that
    # matches nothing is refused before any job, tests/test_bad_inputs.py)
    config["analysis"]["rdf"]["pairs"]["Li-X"] = {"center": "resname LI", "ligand": "name XX"}
    (clone / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    run = Workflow(clone).run("--cores", "1", str(rdf_dir.relative_to(clone)))
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "matches no atom" in output
    assert "failed in 3 of 5 steps: rdf: AnalysisError" in output
    assert "solvation: not run: it needs the RDF records" in output
    assert "shell view: not run: it needs the solvation record" in output
    log = (clone / "results/logs/analyze_run/LiPF6_NMP/298.15K/rep1.log").read_text()
    assert "transport of LiPF6_NMP, 298.15 K, replica 1: done in" in log
    # Snakemake removes every output of the failed job, the steps that worked included
    assert not rdf_dir.exists()
    assert not (run_dir / "transport.json").exists()


@pytest.mark.slow
def test_solvation_shells(finished_run):
    workdir, _ = finished_run
    run = workdir / "results/analysis/LiPF6_NMP/298.15K/rep1"
    record = json.loads((run / "solvation.json").read_text())
    # partners: the contact atoms (F, not P, of PF6-; O of NMP) with their g(r) cutoffs
    details = record["partner_details"]
    assert {name: d["pair"] for name, d in details.items()} == {"PF6": "Li-F", "NMP": "Li-O"}
    for name, pair in (("PF6", "Li-F"), ("NMP", "Li-O")):
        cn = json.loads((run / "rdf" / f"cn_{pair}.json").read_text())
        assert details[name]["cutoff_angstrom"] == cn["cutoff_angstrom"]
        assert record["partners"][name] == cn["cutoff_angstrom"]
    assert record["anions"] == ["PF6"] and record["n_li"] == 3 and record["n_frames"] == 18
    fractions = record["ion_pair_fractions"]
    assert sorted(fractions) == ["AGG", "CIP", "MCIP", "SSIP"]
    assert sum(fractions.values()) == pytest.approx(1.0)
    # NMP has one O: molecules in the shell = the Li-O coordination number at that cutoff
    li_o = json.loads((run / "rdf/cn_Li-O.json").read_text())["coordination_number"]
    assert record["mean_shell_counts"]["NMP"] == pytest.approx(li_o, abs=0.35)
    table = pd.read_csv(run / "solvation.csv")
    assert list(table.columns) == ["shell", "n_PF6", "n_NMP", "fraction"]
    # the 3D view shows a Li+ of a shell composition the run has, named in its log
    assert b"<svg" in (run / "shell_view.svg").read_bytes()[:500]
    assert (run / "shell_view.png").stat().st_size > 10_000
    # the CSV keeps 6 significant digits: its fractions sum to 1 within a few 1e-6
    assert table["fraction"].sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_transport_flags_non_diffusive_fits(finished_run):
    workdir, _ = finished_run
    run = workdir / "results/analysis/LiPF6_NMP/298.15K/rep1"
    record = json.loads((run / "transport.json").read_text())
    species = record["species"]
    assert sorted(species) == ["Li", "NMP", "PF6"]
    assert record["viscosity_pa_s"] == 1.65e-3 and "NMP" in record["viscosity_source"]
    for name, entry in species.items():
        fit = entry["fit"]
        assert fit["diffusive"] is entry["diffusive"]
        # flagged fits say so; unflagged ones name their window
        assert fit["note"].startswith("FLAGGED") is (not entry["diffusive"]), name
        assert (name in record["flagged_species"]) is (not entry["diffusive"])
        assert entry["d_1e9_m2_per_s"] - entry["d_pbc_1e9_m2_per_s"] == pytest.approx(
            record["yeh_hummer_correction_1e9_m2_per_s"]
        )
    t_plus = record["transference_number"]
    d_li, d_pf6 = species["Li"]["d_1e9_m2_per_s"], species["PF6"]["d_1e9_m2_per_s"]
    unresolved = [n for n in ("Li", "PF6") if species[n]["d_pbc_1e9_m2_per_s"] <= 0]
    if unresolved:  # 10 ps of 3 ion pairs may not resolve diffusion: t+ says so
        assert t_plus["value"] is None and t_plus["flagged"]
        assert f"the fitted D of {unresolved} is not positive" in t_plus["note"]
    else:
        assert t_plus["value"] == pytest.approx(d_li / (d_li + d_pf6))
    assert t_plus["flagged"] is not (species["Li"]["diffusive"] and species["PF6"]["diffusive"])
    assert record["conductivity"]["sigma_ms_per_cm"] > 0
    msd = pd.read_csv(run / "msd.csv")
    assert list(msd.columns) == [
        "lag_time_ps", "msd_NMP_angstrom2", "msd_Li_angstrom2", "msd_PF6_angstrom2",
    ]  # fmt: skip
    assert len(msd) == 18 and (msd.iloc[1:, 1:] > 0).all().all()


@pytest.mark.slow
def test_system_summary_and_comparison(finished_run):
    workdir, _ = finished_run
    summary = pd.read_csv(workdir / "results/analysis/LiPF6_NMP/summary.csv")
    rows = summary.set_index("quantity")
    coordination = pd.read_csv(workdir / "results/analysis/LiPF6_NMP/coordination.csv")
    li_p = coordination.set_index("pair").loc["Li-P"]
    # one replica: the equilibrated region of the run's per-frame CN, its error from g
    # (coordination.csv is written with 4 decimals)
    cn_row = rows.loc["CN Li-P"]
    assert cn_row["mean"] == pytest.approx(li_p["coordination_number_equilibrated"], abs=5e-5)
    assert cn_row["sem"] == pytest.approx(li_p["coordination_number_equilibrated_se"], abs=5e-5)
    assert cn_row["n"] == 1 and cn_row["error_from"] == "statistical inefficiency of 1 replica"
    for key in ("discarded_ps", "n_effective", "drift_p"):
        assert cn_row[key] == pytest.approx(li_p[key], abs=5e-5), key
    # flagged for a drift, or for an equilibrated region under half the run (10 ps of
    # 3 Li+ gives either now and then: a clean-clone CI run had p = 0.13 and a short region)
    short = li_p["equilibrated_fraction"] < 0.5
    assert cn_row["flagged"] == (li_p["drift_p"] <= 0.05 or short)
    assert ("equilibrated region only" in cn_row["note"]) == short
    assert "4.20 Å" in cn_row["note"]
    # every shell and fraction row carries its equilibrated region too
    for quantity in ("shell PF6", "shell total", "fraction SSIP"):
        assert np.isfinite(rows.loc[quantity, ["discarded_ps", "n_effective"]].astype(float)).all()
    transport = json.loads(
        (workdir / "results/analysis/LiPF6_NMP/298.15K/rep1/transport.json").read_text()
    )
    for name, entry in transport["species"].items():
        assert rows.loc[f"D {name}", "flagged"] == (not entry["diffusive"])
    assert rows.loc["t+", "flagged"] == transport["transference_number"]["flagged"]
    comparison = pd.read_csv(workdir / "results/report/comparison.csv").set_index("quantity")
    cn = comparison.loc["CN Li-P"]
    assert cn["system_without"] == "LiPF6_NMP" and pd.isna(cn["system_with"])
    assert (cn["paper_without"], cn["paper_with"]) == (1.323, 1.083)
    assert cn["without_mean"] == pytest.approx(rows.loc["CN Li-P", "mean"], rel=1e-4)
    assert (comparison.loc["t+", "paper_without"], comparison.loc["t+", "paper_with"]) == (
        0.301,
        0.607,
    )
    assert comparison.loc["t+", "flagged"] == rows.loc["t+", "flagged"]
    # one temperature: no Arrhenius output
    assert not list((workdir / "results/analysis/LiPF6_NMP").glob("arrhenius*"))


@pytest.mark.slow
def test_report_holds_figures_tables_and_config(finished_run):
    workdir, _ = finished_run
    report = workdir / "results/report.html"
    assert report.stat().st_size > 100_000
    text = report.read_text(errors="replace")
    for expected in (
        "rdf_Li-P.png",
        "coordination.csv",
        "config_used.yaml",
        "energies.png",
        "compositions.csv",
        "Joung",
        "solvation.csv",
        "msd.png",
        "summary.csv",
        "comparison.csv",
        "cannot reproduce the measured t+",
        "Not computed: the configuration has one temperature",
        # it opens on what was found: the overview table and figures, the study named
        "At a glance",
        "overview.csv",
        "overview_rdf.png",
        "overview_shells.png",
        "1.0 M LiPF6 in NMP",
    ):
        # captions are stored as JSON strings: line breaks appear as a literal \n
        assert expected in " ".join(text.replace("\\n", " ").split()), expected
    overview = pd.read_csv(
        workdir / "results/report/overview.csv", keep_default_na=False, dtype=str
    )
    row = overview.set_index("system").loc["LiPF6_NMP"]
    summary = pd.read_csv(workdir / "results/analysis/LiPF6_NMP/summary.csv")
    cn = summary.set_index("quantity").loc["CN Li-P"]
    shown = float(row["CN Li-P (ligand atoms per centre)"].split(" ± ")[0])
    assert shown == pytest.approx(cn["mean"], abs=0.01)
    assert row["density (g/cm3)"] and "statistical inefficiency" in row["errors from"]
    for name in ("overview_rdf.svg", "overview_shells.svg"):
        assert b"<svg" in (workdir / "results/report" / name).read_bytes()[:500]
    # simulation against experiment: the neat liquid is not in this study, the
    # electrolyte's conductivity is compared (its error decides the verdict's kind)
    experiment = pd.read_csv(workdir / "results/report/experiment.csv").set_index("property")
    assert experiment.loc["density", "verdict"].startswith("not simulated: the study has no neat")
    sigma = experiment.loc["conductivity"]
    assert sigma["system"] == "LiPF6_NMP"
    assert sigma["verdict"].split()[0] in ("agrees", "differs", "not")
    assert sigma["verdict"].startswith("not simulated") or sigma["simulated"] > 0
    assert "experiment.html" in text and "5 simulation against experiment" in text
    used = yaml.safe_load((workdir / "results/report/config_used.yaml").read_text())
    assert used["config"]["systems"]["LiPF6_NMP"]["n_solvent_molecules"] == 30
    assert used["software"]["openmm"] == "8.6.1"


@pytest.mark.slow
def test_report_renders_in_a_real_browser(finished_run):
    """The report as a reader sees it: headless Chromium (Debian's package, driven by
    Playwright) opens it, renders it without console errors, shows the summary table in
    place and the g(r) overlay as a loaded image; screenshots go to results/ci/ (the CI
    artifacts)."""
    workdir, _ = finished_run
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not on PATH: .ci/run installs the Debian package chromium")
        pytest.skip("no chromium on PATH (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    shots = REPO / "results" / "ci"
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((workdir / "results/report.html").as_uri())
            page.wait_for_load_state("networkidle")
            # it opens on what was found, naming the configured study
            assert "1.0 M LiPF6 in NMP (30 solvent molecules)" in page.inner_text("body")
            page.locator("ul").get_by_role("link", name="At a glance").click()
            page.locator("tr").filter(has_text="1 every system and temperature").locator(
                "a[iconname=eye]"
            ).click()
            table = page.frame_locator("iframe").locator("table#overview")
            table.wait_for(timeout=15_000)
            header = table.locator("thead").inner_text()
            assert "CN Li-P" in header and "density" in header and "t+" in header
            assert "LiPF6_NMP" in table.locator("tbody").inner_text()
            page.screenshot(path=str(shots / "report_summary_table.png"))
            page.locator("tr").filter(has_text="2 g(r) and n(r) of every system").locator(
                "a[iconname=eye]"
            ).click()
            figure = page.locator("img[src*='overview_rdf.png']")
            figure.wait_for(timeout=15_000)
            assert figure.evaluate("img => img.complete && img.naturalWidth") > 500
            page.screenshot(path=str(shots / "report_rdf_overlay.png"))
        finally:
            browser.close()
    assert errors == [], errors
    assert (shots / "report_rdf_overlay.png").stat().st_size > 10_000


@pytest.mark.slow
def test_rerun_does_nothing_and_cache_spares_sqm(finished_run, workflow, tmp_path):
    workdir, config = finished_run
    again = Workflow(workdir).run("--cores", "2", "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr
    # a new study with the same molecules reuses the cached AM1-BCC charges
    other = workflow(config, directory=tmp_path).directory
    run = Workflow(other).run("--cores", "1", "results/species/NMP/params/ff.json")
    assert run.returncode == 0, run.stderr[-2000:]
    log = (other / "results/logs/parameterize_species/NMP.log").read_text()
    assert "parameters from cache" in log
    assert "sqm" not in log


@pytest.mark.slow
def test_saved_progress_carries_on_elsewhere_without_trajectories(finished_run, workflow, tmp_path):
    """A study saved without its trajectories and restored in a fresh directory is
    complete to Snakemake, and a replica added later runs alone."""
    workdir, config = finished_run
    # the study as if made a year before the checkout it is restored into: restored
    # outputs older than the rules' scripts would make Snakemake redo them
    study = tmp_path / "study"
    shutil.copytree(workdir / "results", study / "results")
    year_ns = 365 * 24 * 3600 * 10**9
    for path in (study / "results").rglob("*"):
        mtime = path.stat().st_mtime_ns - year_ns
        os.utime(path, ns=(mtime, mtime))
    store = tmp_path / "store"
    manifest = save_progress(study, store)
    kept = {entry["path"] for entry in manifest["files"]}
    assert "results/analysis/LiPF6_NMP/298.15K/rep1/transport.json" in kept
    assert "results/systems/LiPF6_NMP/system.xml" in kept
    assert not list(store.rglob("*.dcd")) and not any(p.endswith(".dcd") for p in kept)

    fresh_study = workflow(config, directory=tmp_path / "fresh")
    fresh = fresh_study.directory
    restore_progress(store, fresh)
    same = fresh_study.run("--cores", "1", "--dry-run")
    assert same.returncode == 0, same.stderr[-2000:]
    assert "Nothing to be done" in same.stdout + same.stderr

    more = copy.deepcopy(config)
    more["md"]["replicas"] = 2
    fresh_study.write_config(more)
    plan = fresh_study.run("--cores", "1", "--dry-run")
    assert plan.returncode == 0, plan.stderr[-2000:]
    md_jobs = re.findall(
        r"rule run_md:.*?wildcards: ([^\n]*)", plan.stdout + plan.stderr, flags=re.S
    )
    assert md_jobs == ["system=LiPF6_NMP, temperature=298.15, replica=2"]


def test_bad_config_stops_before_any_work(workflow, tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["species"]["NMP"]["smiles"] = "CN1CCCC1=O("
    study = workflow(config, directory=tmp_path)
    workdir = study.directory
    run = study.run("--cores", "1", "--dry-run")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "species 'NMP'" in output and "cannot parse SMILES" in output
    assert "config/config.yaml" in output
    assert not (workdir / "results").exists()


def test_wrong_key_stops_before_any_work(workflow, tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["systems"]["LiPF6_NMP"]["n_solvents"] = 10
    study = workflow(config, directory=tmp_path)
    workdir = study.directory
    run = study.run("--cores", "1", "--dry-run")
    assert run.returncode != 0
    assert "n_solvents" in run.stdout + run.stderr
    assert not (workdir / "results").exists()
