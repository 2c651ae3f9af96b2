# Two commands on a fresh machine with Python 3.11+:
#   make run    set up .venv and start the Domain Check desktop app
#   make test   set up .venv and run lint, types, the import boundary and every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run cli test lint typecheck pytest bench system-deps system-deps-run clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	@./scripts/install-system-deps.sh test

system-deps-run:
	@./scripts/install-system-deps.sh run

run: $(STAMP) system-deps-run
	$(BIN)/domaincheck-desktop $(ARGS)

# The CLI on the bundled sample list (real network: run it on your own machine).
cli: $(STAMP)
	$(BIN)/domaincheck check -f resources/sample-domains.txt $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/check_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist

# The release build (packaging/build.py): dist/DomainCheck/ and, on Linux,
# dist/DomainCheck-<version>-linux-<arch>.tar.gz. CI runs packaging/ci-build.sh.
.PHONY: dist
dist: $(STAMP)
	$(BIN)/python -c "import PyInstaller" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet "pyinstaller>=6.10,<7"
	$(BIN)/python packaging/build.py
