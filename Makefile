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

# `make package`: the stage as a finished SAM template (build/package/sam.json) plus the
# Lambda code with its compiled bytecode (build/package/deployment.zip). `chalice package`
# writes the functions and the API; infra/stack.py adds the tables rendered from
# chalicelib/models.py, the roles, the parameters and what watches the stack.
# Packaging calls no AWS API, but Chalice insists on a region, hence the default.
# See docs/deploy.md.
STAGE = prod
PACKAGE_DIR = build/package

package: $(INSTALLED)
	rm -rf $(PACKAGE_DIR)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $(STAGE) $(PACKAGE_DIR)
	$(PY) -m infra.stack --stage $(STAGE) $(PACKAGE_DIR)
	$(PY) -m infra.bytecode $(PACKAGE_DIR)

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache

# `make deploy STAGE=prod PARAMS="AlarmEmail=ops@example.com EmailFrom=oncall@example.com"`:
# package, upload the code to the stage's artifacts bucket (stack oncall-<stage>-artifacts,
# made on first use), then create or update the stack oncall-<stage>. Parameters left out
# keep their last value. `make destroy STAGE=prod` deletes the stack and the bucket and keeps
# the tables. Both need AWS credentials and a region; see infra/deploy.sh and docs/deploy.md.
.PHONY: deploy destroy

# Not echoed: PARAMS may hold a secret (SlackSigningSecret); the script names only the keys.
deploy: package
	@AWS_CLI=$(VENV)/bin/aws bash infra/deploy.sh deploy $(STAGE) $(PARAMS)

destroy: $(INSTALLED)
	@AWS_CLI=$(VENV)/bin/aws CONFIRM='$(CONFIRM)' bash infra/deploy.sh destroy $(STAGE)
