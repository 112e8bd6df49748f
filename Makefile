# The two commands of the README: `make demo` and `make test`. The virtual environment is made on
# first use. snmpsim gets its own venv from the system Python (it drops privileges when run as root,
# and the dropped user must be able to read its interpreter; see docs/testing.md).
PYTHON ?= python3
SYSTEM_PYTHON ?= /usr/bin/python3
VENV ?= .venv
SNMPSIM_VENV ?= .venv-snmpsim
PYTEST_ARGS ?=
# Two test processes, each test file whole in one of them (its module fixtures start once): most tests
# wait on brokers, agents and browsers, so two share the 2-core machine well (docs/testing.md).
PYTEST_WORKERS ?= -n 2 --dist loadfile

.PHONY: demo test lint install snmpsim clean debian-packages

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

$(SNMPSIM_VENV)/.installed:
	$(SYSTEM_PYTHON) -m venv $(SNMPSIM_VENV)
	$(SNMPSIM_VENV)/bin/pip install -q snmpsim==1.2.2 pysmi cryptography
	chmod -R a+rX $(SNMPSIM_VENV)
	touch $@

install: $(VENV)/.installed

snmpsim: $(SNMPSIM_VENV)/.installed

# Installs the Debian packages the tests need when run as root, else names the apt-get line and stops.
debian-packages:
	bash tools/debian-packages.sh

demo: $(VENV)/.installed
	$(VENV)/bin/avfleet demo

test: debian-packages
	$(MAKE) --no-print-directory $(VENV)/.installed $(SNMPSIM_VENV)/.installed
	$(VENV)/bin/ruff check avfleet tests benchmarks
	$(VENV)/bin/pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check avfleet tests benchmarks

clean:
	rm -rf $(VENV) $(SNMPSIM_VENV) .pytest_cache .ruff_cache
