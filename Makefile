# Two entry points (see README): `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-slow e2e clean

setup: $(STAMP)

# After the install, two optional steps: ninja, and rnnkit's compiled time loops built once for
# this machine; without them rnnkit runs its Python loops (same results, slower), so a failure
# there does not stop the setup (the leading '-').
$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[test,serve,export,text]'
	-$(BIN)/pip install -q -c constraints.txt ninja
	-$(BIN)/python -c 'import rnnkit.nn.fast.native as n; raise SystemExit(n.main())'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rnnkit train --out runs/demo --overwrite
	$(BIN)/rnnkit generate runs/demo --prompt "ROMEO:" --length 400 --seed 0

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# The playground in a headless Chromium (tests/test_serve_playground.py): Debian's chromium and
# the playwright package (its own browser download is not used).
e2e: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(BIN)/pip install -q -c constraints.txt -e '.[e2e]'
	$(BIN)/python -m pytest -q -rs tests/test_serve_playground.py

clean:
	rm -rf $(VENV) runs build src/*.egg-info
