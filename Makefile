# riogrande — set-up and checks. Every target creates what it needs and is safe to re-run.
PYTHON ?= python3
SYSTEM_PYTHON ?= /usr/bin/python3
VENV := .venv
VENV_QGIS ?= .venv-qgis
QGIS_APT := qgis python3-qgis python3-rasterio python3-pyproj python3-cryptography proj-bin python3-venv
# What the QGIS environments add from PyPI: the test tools, and Dask, rio-cogeo and moto's
# S3 server so that their tests run there too (kept on the distribution's numpy, rasterio,
# pyproj and GDAL).
QGIS_TEST_PACKAGES := pytest pytest-qgis hypothesis psutil 'dask[distributed]>=2023.1' \
	'rio-cogeo>=5' 'moto[server]>=5' 'boto3>=1.28'
# QGIS LTR from Debian trixie-backports, in a chroot built on first use (root only).
QGIS_TRIXIE := .ci/qgis-trixie.sh
VENV_QGIS_344 := .venv-qgis-344
export QT_QPA_PLATFORM ?= offscreen

.PHONY: demo docs test test-lib test-qgis test-qgis-344 lint bench bench-qgis bench-qgis-344 \
	qgis-system qgis-344-chroot clean clean-qgis-344-chroot plugin

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	touch $@

# QGIS from the distribution (root installs it; otherwise it must be there already).
qgis-system:
	@if ! command -v qgis_process.bin >/dev/null && ! command -v qgis_process >/dev/null \
	    || ! $(SYSTEM_PYTHON) -c 'import qgis.core, rasterio, pyproj' 2>/dev/null \
	    || ! $(SYSTEM_PYTHON) -c 'import ensurepip' 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(QGIS_APT) >/dev/null; \
	  else \
	    echo "QGIS is missing: run 'sudo apt-get install $(QGIS_APT)' (or make test-lib)" >&2; exit 1; \
	  fi; \
	fi

$(VENV_QGIS)/.installed: pyproject.toml .ci/system_packages.py | qgis-system
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV_QGIS)
	$(VENV_QGIS)/bin/python .ci/system_packages.py constraints > $(VENV_QGIS)/system-packages.txt
	$(VENV_QGIS)/bin/python -m pip install -q -c $(VENV_QGIS)/system-packages.txt \
	  $(QGIS_TEST_PACKAGES)
	$(VENV_QGIS)/bin/python -m pip install -q --no-deps -e .
	$(VENV_QGIS)/bin/python .ci/system_packages.py check
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/riogrande demo demo-output

$(VENV)/.docs-installed: pyproject.toml | $(VENV)/.installed
	$(VENV)/bin/python -m pip install -q -e '.[docs]'
	touch $@

# HTML documentation in docs/_build/html (API reference and user guide); warnings are errors.
docs: $(VENV)/.docs-installed
	$(VENV)/bin/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check riogrande tests benchmarks qgis_plugin

# Library tests on the newest numpy/rasterio wheels.
test-lib: lint
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider tests

# The same tests plus the QGIS ones, on the distribution's QGIS, GDAL, rasterio and numpy.
test-qgis: $(VENV_QGIS)/.installed
	$(VENV_QGIS)/bin/python -m pytest -q -p no:cacheprovider tests

test: test-lib test-qgis

# The chroot with QGIS 3.44 LTR (Debian trixie-backports), built once and reused.
qgis-344-chroot:
	$(QGIS_TRIXIE) build

# The same suite on QGIS 3.44 in that chroot (the checkout mounted at /src, its own venv).
test-qgis-344: qgis-344-chroot
	$(QGIS_TRIXIE) run $(MAKE) test-qgis VENV_QGIS=$(VENV_QGIS_344)

# The benchmarks' optional baselines (rioxarray for the Dask NDVI).
$(VENV)/.bench-installed: pyproject.toml | $(VENV)/.installed
	$(VENV)/bin/python -m pip install -q -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed bench-qgis bench-qgis-344
	$(VENV)/bin/python benchmarks/bench.py
	$(VENV)/bin/python benchmarks/bench_outputs.py
	$(VENV)/bin/python benchmarks/bench_dask.py
	$(VENV)/bin/python benchmarks/bench_apply.py
	$(VENV)/bin/python benchmarks/bench_remote.py

# The plugin against QGIS's own algorithms, on the distribution's QGIS...
bench-qgis: $(VENV_QGIS)/.installed
	$(VENV_QGIS)/bin/python benchmarks/bench_qgis.py
	$(VENV_QGIS)/bin/python benchmarks/bench_qgis_calc.py

# ... and on QGIS 3.44 in the chroot.
bench-qgis-344: qgis-344-chroot
	$(QGIS_TRIXIE) run $(MAKE) bench-qgis VENV_QGIS=$(VENV_QGIS_344)

# The QGIS plugin zip: one folder riogrande_qgis/ (metadata.txt, LICENSE, plugin, riogrande).
plugin:
	$(PYTHON) qgis_plugin/build_zip.py dist/riogrande_qgis.zip

clean:
	rm -rf $(VENV) $(VENV_QGIS) $(VENV_QGIS_344) build dist *.egg-info demo-output

# Delete the QGIS 3.44 chroot (the next test-qgis-344 builds it again).
clean-qgis-344-chroot:
	$(QGIS_TRIXIE) remove
