# The two entry points of the README: `make serve` and `make test`. Everything else is a step of theirs.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint bench train-visemes

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/openlipsync serve

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	scripts/system-deps.sh
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

# The phonetic front end's model (openlipsync/engine/assets/visemes.npz): synthetic speech with exact
# phone times from espeak-ng and festival voices, augmented, then a numpy network. About 10 minutes.
# Then that network tuned on the talking clips of ../shared/media (their open and closed mouths as
# weak labels) and the real-mouth readout (assets/readout.npz) fitted on its posteriors, each also
# once per clip with that clip left out, for the benchmarks. About 5 minutes.
CORPUS := training/data
train-visemes: $(STAMP)
	scripts/train-deps.sh
	$(BIN)/python -m training.visemes.corpus $(CORPUS) --minutes 60
	$(BIN)/python -m training.visemes.train $(CORPUS)/corpus.npz --minutes 8 --out $(CORPUS)/visemes_base.npz \
		--report $(CORPUS)/report.json
	$(BIN)/python -m training.readout.fit --base $(CORPUS)/visemes_base.npz --corpus $(CORPUS)/corpus.npz \
		--heldout-dir $(CORPUS)/readout --report $(CORPUS)/readout/report.json
