# codeyard: the targets users type.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres lint bench bench-detail system-deps venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

run: $(STAMP)
	$(PY) -m codeyard.demo var/demo
	$(VENV)/bin/codeyard serve --port 8000 --hostname 127.0.0.1 -e var/demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/mypy src/codeyard

# The whole suite on SQLite, then the database-facing tests on a PostgreSQL the suite starts.
test: system-deps $(STAMP) lint
	$(PY) -m pytest -q -n 2 --dist loadfile tests
	CODEYARD_TEST_DB=postgres $(PY) -m pytest -q -n 2 --dist loadfile -m db tests

test-sqlite: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

test-postgres: $(STAMP)
	CODEYARD_TEST_DB=postgres $(PY) -m pytest -q -n 2 --dist loadfile -m db tests

# Every page against Trac 1.6 (and Loggerhead) on the same data, plus the hosting timings:
# about 12 minutes (QUICK=1: 3), the data built once under var/bench-data. The last line
# printed sums the run up; the tables go to bench/results/<date>.md. Then the pages of projects
# that are not warm (after a trac.ini change, first of another project): bench/results/cold.md.
bench: system-deps $(STAMP)
	$(PY) -m pip install -q granian
	$(PY) -m bench.pages $(if $(QUICK),--quick)
	$(PY) -m bench.cold

# The specialised benchmarks, each writing its own file under bench/results.
bench-detail: system-deps $(STAMP)
	$(PY) -m bench.run
	$(PY) -m bench.wiki
	$(PY) -m bench.wiki_pathological
	$(PY) -m bench.tickets
	$(PY) -m bench.search
	$(PY) -m bench.vcs
	$(PY) -m bench.svn
	$(PY) -m bench.hosting_git
	$(PY) -m bench.hosting_bzr

clean:
	rm -rf $(VENV) var build *.egg-info
