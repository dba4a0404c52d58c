# Rappel: the two commands a newcomer needs are `make demo` and `make test`.
#   make demo    replay real provider webhooks through the local stack (simulated clock)
#   make test    every test tier: unit, moto-backed adapters, end to end, cfn-lint, release build
#   make local   an interactive local stack on http://127.0.0.1:$(RAPPEL_PORT)
#   make chaos   the chaos test at full size (600 calls under injected AWS faults)
#   make browser the booking page in a real browser (chromium), screenshots in target/browser
#   make bench   what a missed call costs: hot path, sizes, cold starts, AWS calls (one table)
#   make fuzz    coverage-guided fuzzing of every parser and verifier
#   make numbering  regenerate libphonenumber metadata and the reference corpus
# Needs: Rust (cargo), Python 3.11+ with venv. No AWS account, no Docker.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

RAPPEL_PORT ?= 3000
MOTO_PORT ?= 5055
# Ports the tests use, away from a `make local` that may be running.
TEST_MOTO_PORT ?= 5157

.PHONY: venv build local demo test unit adapters e2e browser chaos lint release bench fmt fuzz numbering clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

build:
	cargo build --quiet -p rappel-local -p rappel-admin

local: venv build
	RAPPEL_PORT=$(RAPPEL_PORT) MOTO_PORT=$(MOTO_PORT) ./target/debug/rappel-local

demo: venv build
	RAPPEL_PORT=$(RAPPEL_PORT) MOTO_PORT=$(MOTO_PORT) $(PY) infra/local/demo.py

test: venv fmt unit adapters e2e browser lint release
	@echo "make test: all tiers passed"

fmt:
	cargo fmt --all -- --check

# Pure unit tests and handler tests with in-memory fakes.
unit:
	cargo test --workspace

# The AWS adapters against moto (the same SDK code as on Lambda, through AWS_ENDPOINT_URL).
adapters: venv
	@set -e; $(VENV)/bin/moto_server -H 127.0.0.1 -p $(TEST_MOTO_PORT) >/dev/null 2>&1 & pid=$$!; \
	trap "kill $$pid" EXIT; \
	for i in $$(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$(TEST_MOTO_PORT)) 2>/dev/null && break; sleep 0.1; done; \
	RAPPEL_TEST_MOTO=http://127.0.0.1:$(TEST_MOTO_PORT) cargo test -p rappel-shared --features aws,moto-tests --test aws_adapters

# The whole pipeline through the local stack (starts its own moto and runner).
e2e: venv build
	$(PY) -m pytest -q tests/e2e

# The booking page in a real browser: Debian's chromium + chromedriver (apt-get install
# chromium chromium-driver; .ci/run does it), axe-core from npm. Screenshots in target/browser/.
browser: venv build
	@if command -v npm >/dev/null; then npm ci --prefix tests/browser --silent --no-audit --no-fund; \
	  else echo "npm not found: the browser tests will be skipped (apt-get install npm chromium chromium-driver)"; fi
	$(PY) -m pytest -q tests/browser

# The chaos test at full size (not part of `make test`, which runs one run of 60 calls): ten
# runs of 60 missed calls over all six providers, each on a fresh stack with its own seed,
# while 20 % of the handlers' AWS calls are faulted; prints the figures and their totals
# (also in .local/chaos-report.json).
CHAOS_RUNS ?= 10
CHAOS_CALLS ?= 60
chaos: venv build
	RAPPEL_CHAOS_RUNS=$(CHAOS_RUNS) RAPPEL_CHAOS_CALLS=$(CHAOS_CALLS) $(PY) -m pytest -q -s tests/e2e/test_chaos.py

# cfn-lint, and the numbering metadata and corpus checked in = what the pinned `phonenumbers`
# (requirements-dev.txt) generates.
lint: venv
	$(VENV)/bin/cfn-lint template.yaml
	$(PY) tools/numbering/export.py --check

# Regenerate shared/src/phone/metadata.rs and shared/tests/numbering/corpus.tsv from the
# reference libphonenumber (Python `phonenumbers`, pinned in requirements-dev.txt): bump the
# pin, run this, review the corpus diff, `cargo test -p rappel-shared --test numbering_corpus`.
numbering: venv
	$(PY) tools/numbering/export.py

# Release build of every function the way `sam build` (BuildMethod: rust-cargolambda) does.
release: venv
	cargo lambda build --release --x86-64 -p webhook-intake -p eligibility -p sender -p booking -p inbound-sms
	@for f in webhook-intake eligibility sender booking inbound-sms; do \
	  printf '%-16s %8d bytes\n' $$f $$(stat -c %s target/lambda/$$f/bootstrap); done

# What a missed call costs, measured here (not part of `make test`; run it after): the hot
# path per provider (criterion) next to Python, release binary and zip sizes, cold starts
# against a local Lambda Runtime API with moto behind, AWS calls per missed call. One table;
# target/bench/report.json. RAPPEL_BENCH_RUNS starts per function (default 5).
bench: venv build
	$(PY) bench/run.py

# Coverage-guided fuzzing of every parser and verifier (cargo-fuzz on stable with
# RUSTC_BOOTSTRAP=1; not part of `make test`). FUZZ_SECONDS per target, default 60.
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	fuzz/run.sh $(FUZZ_SECONDS)

clean:
	cargo clean
	rm -rf $(VENV) .local
