# The two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test lint format package clean

$(INSTALLED): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "oncall needs Python 3.10 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "Could not create $(VENV); on Debian or Ubuntu install python3-venv first." >&2; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(INSTALLED)

run: $(INSTALLED)
	$(PY) -m oncall_local

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(INSTALLED)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(PY) -m pytest

# `make package`: the prod stage as a SAM template (build/package/sam.json) plus the
# Lambda code with its compiled bytecode (build/package/deployment.zip), with the DynamoDB tables rendered from
# chalicelib/models.py merged in. Packaging calls no AWS API, but Chalice insists on
# a region, hence the default. See docs/deploy.md.
STAGE = prod
PACKAGE_DIR = build/package
TABLES_FRAGMENT = build/tables-$(STAGE).json

.PHONY: render-infra

render-infra: $(INSTALLED)
	$(PY) -m infra.render --stage $(STAGE) --output $(TABLES_FRAGMENT)

package: render-infra
	rm -rf $(PACKAGE_DIR)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package \
	  --stage $(STAGE) --merge-template $(TABLES_FRAGMENT) $(PACKAGE_DIR)
	$(PY) -m infra.bytecode $(PACKAGE_DIR)

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
