# Two commands do all set-up on a fresh machine: `make demo` (the main job) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
ENV := source scripts/env.sh
PYTEST_ARGS ?=
MINUTES ?= 2
# `make test` runs the suite on every ROS 2 distro the README promises, each in its own venv and
# workspace; ROS_DISTRO=<one> (or a sourced ROS 2 install, which sets it) runs only that one.
TEST_DISTROS ?= $(or $(ROS_DISTRO),jazzy kilted)

.PHONY: setup demo test bench soak clean

setup:
	@scripts/setup.sh

demo: setup
	@$(ENV) && python scripts/demo.py $(if $(BAG),--bag $(BAG)) \
	  $(if $(DEPTH_TOPIC),--depth-topic $(DEPTH_TOPIC)) $(if $(INFO_TOPIC),--info-topic $(INFO_TOPIC)) \
	  $(if $(FRAMES),--frames $(FRAMES)) $(if $(LOCKSTEP),--lockstep) $(if $(LIVE),--live) \
	  $(if $(HANDS),--hands $(HANDS))

# Each distro runs even when an earlier one failed; the exit status fails if any did. The first
# runs every test, the others the ones that touch ROS 2 (marker `ros`, test/conftest.py): the
# rest is the same code on the same Python and wheels.
test:
	@failed=''; only=''; for distro in $(TEST_DISTROS); do \
	  echo "[test] ROS 2 $$distro$${only:+ (tests marked ros)}"; \
	  (export ROS_DISTRO=$$distro && scripts/setup.sh && $(ENV) \
	    && python -m pytest $$only $(PYTEST_ARGS)) || failed="$$failed $$distro"; \
	  only='-m ros'; \
	done; \
	if [ -n "$$failed" ]; then echo "[test] failed on:$$failed" >&2; exit 1; fi

# The node-latency table: REAL=<SR305 folder> (default ../shared/real/sr305/20210326-230536),
# DEVICE=<cpu|cuda|...> passed to the node in every run.
bench: setup
	@$(ENV) && python bench/bench_codec.py && python bench/bench_segmentation.py \
	  && python bench/bench_synth.py \
	  && python bench/bench_inference.py && python bench/bench_training_step.py \
	  && python bench/bench_latency_table.py $(if $(REAL),--real-frames $(REAL)) \
	     $(if $(DEVICE),--device $(DEVICE))

soak: setup
	@$(ENV) && python bench/soak.py --minutes $(MINUTES) $(if $(RATE),--rate $(RATE)) \
	  $(if $(HANDS),--hands $(HANDS)) $(if $(HOG),--hog $(HOG))

clean:
	rm -rf ws .venv .venv-*
