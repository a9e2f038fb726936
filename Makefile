# Two commands do all set-up on a fresh machine: `make demo` (the main job) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
ENV := source scripts/env.sh
PYTEST_ARGS ?=
MINUTES ?= 2

.PHONY: setup demo test bench soak clean

setup:
	@scripts/setup.sh

demo: setup
	@$(ENV) && python scripts/demo.py $(if $(BAG),--bag $(BAG)) \
	  $(if $(DEPTH_TOPIC),--depth-topic $(DEPTH_TOPIC)) $(if $(INFO_TOPIC),--info-topic $(INFO_TOPIC)) \
	  $(if $(FRAMES),--frames $(FRAMES)) $(if $(LOCKSTEP),--lockstep) $(if $(LIVE),--live)

test: setup
	@$(ENV) && python -m pytest $(PYTEST_ARGS)

bench: setup
	@$(ENV) && python bench/bench_codec.py && python bench/bench_synth.py \
	  && python bench/bench_inference.py && python bench/bench_training_step.py \
	  && if [ -f bench/bench_node_latency.py ]; then python bench/bench_node_latency.py; fi

soak: setup
	@$(ENV) && python bench/soak.py --minutes $(MINUTES)

clean:
	rm -rf ws .venv .venv-*
