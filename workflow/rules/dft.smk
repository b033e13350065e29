# Stage 5 (DFT binding energies, GFN2-xTB fallback): not part of this release.
# Issue #6 adds the rules here; the configuration will gain a `dft` section for them.
# No rule is defined yet, so nothing in the report claims a binding energy.
