# Two commands: `make run` starts everything, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export VAR_DIR ?= $(CURDIR)/var
export PORT ?= 8000
export FABRIC_PORT ?= 8100
export LAB_SUBSCRIPTION_ID ?= 6d1f2c7a-3b4e-4f5a-9c8d-1a2b3c4d5e6f

.PHONY: run setup test venv lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

# The first screen says what a newcomer needs: what the lab holds, the address, how to sign in (where the
# admin's password file is, never the password). The steps themselves run quietly; the processes log below it.
run: setup
	@echo "Starting the portal, the lab fabric and the workers under supervisord: a process that dies is restarted, Ctrl-C stops everything. Logs: $(VAR_DIR)/logs/"
	@exec $(VENV)/bin/supervisord --configuration $(VAR_DIR)/supervisord.conf

# Everything `make run` does before it starts the processes (tests/newcomer/test_first_screen.py runs it).
setup: venv
	@install -d -m 0700 $(VAR_DIR)  # owner only: the database, keys and the admin's password live here
	@$(PY) manage.py migrate --noinput --verbosity 0
	@$(PY) manage.py fabric seed --if-empty --summary
	@$(PY) manage.py ensure_admin > $(VAR_DIR)/.sign-in
	@$(PY) manage.py ensure_lab_subscription --member admin
	@$(PY) manage.py supervisord_conf > $(VAR_DIR)/supervisord.conf
	@cat $(VAR_DIR)/.sign-in && rm -f $(VAR_DIR)/.sign-in

# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$status

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VAR_DIR)
