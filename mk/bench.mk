# Benchmarks (docs/performance.md): each script prints a markdown table and `ratio:` lines
# against a baseline it measures in the same run, on the same embedded AWS.
# Included by the Makefile (`-include mk/*.mk`), which defines VENV, PY and the
# $(VENV)/.installed stamp.
#
# Variables (override on the command line: `make bench BENCH_OUT=build/bench-2.md`):
#   BENCH_OUT      where `bench` also writes the combined report (stdout gets it too)
#
# Targets:
#   bench        the core benchmarks, detection, estimation and cost at full size (under 10 minutes on 2 quiet cores)
#   bench-quick  the four core benchmarks at tiny sizes (`--quick`), to check they still run
#   bench-pages  the app's page timings on 50,000 readings (~6 minutes on its own)
#   soak         200 files over 60 sites with faults, duplicates and disorder, then verify; exits 1 when
#                verify fails or the soaked stack differs from an undisturbed run (`soak --quick` is in
#                the smoke test)
#   bench-limits the figures of "nothing lost": a 1.5M-reading file and a gzip bomb through the handler
#                (hostile), item sizes after a day of 10-second uploads (items), decoding memory (parse),
#                restart time with 100k readings (startup); ~1 hour on 2 cores, one at a time
#
# The timed benchmarks run one at a time, so that nothing else competes with the ratio they
# measure; memory, detection, estimation and cost report figures that do not depend on speed
# (peak RSS, precision and recall, request units and the handler's CPU time), so they run side
# by side once the timed ones are done.

BENCH_OUT ?= build/bench.md
BENCH_CORE := bench/ingest.py bench/process.py bench/dashboard.py bench/memory.py
BENCH_TIMED := bench/ingest.py bench/process.py bench/dashboard.py
BENCH_UNTIMED := bench/memory.py bench/detection.py bench/estimation.py bench/cost.py

BENCH_LIMITS := bench/hostile.py bench/items.py bench/parse.py bench/startup.py

.PHONY: bench bench-quick bench-pages soak bench-limits

## bench: the core benchmarks and detection at full size; the report goes to stdout and $(BENCH_OUT)
bench: $(VENV)/.installed
	@mkdir -p $(dir $(BENCH_OUT)); : > $(BENCH_OUT); began=$$(date +%s); status=0; \
	for script in $(BENCH_TIMED); do \
	  started=$$(date +%s); \
	  $(PY) $$script > $(BENCH_OUT).part || { status=1; echo "$$script failed" >&2; }; \
	  tee -a $(BENCH_OUT) < $(BENCH_OUT).part; \
	  echo "[$$script took $$(( $$(date +%s) - started )) s]" >&2; \
	done; \
	set --; for script in $(BENCH_UNTIMED); do \
	  $(PY) $$script > $(BENCH_OUT).$$(basename $$script).part & set -- "$$@" "$$!:$$script"; \
	done; \
	for job in "$$@"; do \
	  script=$${job#*:}; wait $${job%%:*} || { status=1; echo "$$script failed" >&2; }; \
	  tee -a $(BENCH_OUT) < $(BENCH_OUT).$$(basename $$script).part; rm -f $(BENCH_OUT).$$(basename $$script).part; \
	done; \
	rm -f $(BENCH_OUT).part; echo "[make bench took $$(( $$(date +%s) - began )) s]" >&2; exit $$status

## bench-quick: the core benchmarks at tiny sizes, to see that none has rotted
bench-quick: $(VENV)/.installed
	@status=0; for script in $(BENCH_CORE); do \
	  $(PY) $$script --quick || { status=1; echo "$$script failed" >&2; }; \
	done; exit $$status

## bench-pages: how long each page of the app takes on 50,000 readings over 10 sites
bench-pages: $(VENV)/.installed
	$(PY) bench/pages.py

## soak: hundreds of files with faults injected, duplicate and out-of-order deliveries, then verify
soak: $(VENV)/.installed
	$(PY) bench/soak.py

## bench-limits: memory, item sizes and restart time at full size (one at a time; ~1 hour)
bench-limits: $(VENV)/.installed
	@status=0; for script in $(BENCH_LIMITS); do \
	  $(PY) $$script || { status=1; echo "$$script failed" >&2; }; \
	done; exit $$status
