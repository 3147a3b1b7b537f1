# The two entry points a newcomer needs: `make serve` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make serve PORT=9000` or `make serve URL=https://sigstore.example.com PORT=8080` (behind a
# proxy): URL is what clients are told, PORT what this machine listens on (127.0.0.1 only).
PORT ?= 8080
URL ?= http://127.0.0.1:$(PORT)

.PHONY: serve test test-deps lint venv clean image

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(BIN)/sceau serve --dir ./.sceau --init --dev-oidc --url $(URL) --host 127.0.0.1 --port $(PORT)

# Debian and npm packages the tests drive (a no-op once they are there).
test-deps:
	tools/install-test-deps

test: $(STAMP) test-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q --durations=15

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) .sceau .pytest_cache build

# The container image (deploy/container/Containerfile): `make image`, `make image BASE=…`.
image: $(STAMP)
	BASE=$(BASE) PYTHON=$(BIN)/python tools/build-image
