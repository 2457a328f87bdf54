# Spiegel: `make run` starts the bot on its built-in defaults, `make test` runs every test,
# `make bench` runs the benchmarks. Each first installs what a fresh Debian machine lacks.

SWIFT ?= swift
APT_PACKAGES := libcurl4-openssl-dev libolm-dev pkg-config curl python3 python3-venv systemd python3-seccomp faketime \
	ngircd inspircd atheme-services chromium chromium-driver

.PHONY: all deps synapse browser build run chat test test-quick test-dates bench bench-compare soak leakcheck docs clean

# Synapse, the Matrix homeserver the Matrix tests and the Matrix benchmark run against: from PyPI
# into a venv under .build-synapse/ (ignored by git), made once and reused.
SYNAPSE_VERSION := 1.163.2
SYNAPSE_VENV := .build-synapse/venv
# matrix-nio with end-to-end encryption, in the same venv: the encrypting teacher client of the
# Matrix tests (Tests/SpiegelAppTests/Fixtures/e2ee_teacher.py). Its crypto is vodozemac, binary
# wheels from PyPI (no libolm, no compiler).
NIO_VERSION := 0.26.0
VODOZEMAC_VERSION := 0.10.0

all: build

# libcurl's and libolm's headers (with pkg-config to find them; libolm is Matrix end-to-end
# encryption), the curl tool (the benchmark's yardstick), python3 (the reference client in deploy/ is tested; venv for Synapse), systemd's systemd-analyze
# (the unit in deploy/ is verified) and python3-seccomp (the unit's syscall filter is applied to a
# real `spiegel serve` in a test), faketime (the `spiegel` processes a test starts run at the
# test's date: `make test-dates`, and the upgrade test), and the IRC servers the IRC tests start on
# loopback (ngIRCd; InspIRCd with atheme's services for SASL), and Chromium with its WebDriver (the
# try-out page is tested in a real browser). Installed with apt-get when root;
# otherwise the exact command.
deps:
	@missing=""; \
	pkg-config --exists libcurl 2>/dev/null || missing="$$missing libcurl4-openssl-dev pkg-config"; \
	pkg-config --exists olm 2>/dev/null || missing="$$missing libolm-dev"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v python3 >/dev/null 2>&1 || missing="$$missing python3"; \
	python3 -c "import venv, ensurepip" 2>/dev/null || missing="$$missing python3-venv"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	/usr/bin/python3 -c "import seccomp" 2>/dev/null || missing="$$missing python3-seccomp"; \
	command -v faketime >/dev/null 2>&1 || missing="$$missing faketime"; \
	test -x /usr/sbin/ngircd || missing="$$missing ngircd"; \
	test -x /usr/sbin/inspircd || missing="$$missing inspircd"; \
	test -x /usr/bin/atheme-services || missing="$$missing atheme-services"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
		else \
			echo "Spiegel needs Debian packages that are not installed. Run:"; \
			echo "  sudo apt-get install -y $(APT_PACKAGES)"; \
			exit 1; \
		fi; \
	fi

synapse: deps
	@if ! $(SYNAPSE_VENV)/bin/python -c "import synapse, sys; sys.exit(synapse.__version__.split()[0] != '$(SYNAPSE_VERSION)')" 2>/dev/null; then \
		echo "Installing Synapse $(SYNAPSE_VERSION) into $(SYNAPSE_VENV)"; \
		rm -rf $(SYNAPSE_VENV) && python3 -m venv $(SYNAPSE_VENV) && \
		$(SYNAPSE_VENV)/bin/pip install -q --disable-pip-version-check "matrix-synapse==$(SYNAPSE_VERSION)"; \
	fi
	@if ! $(SYNAPSE_VENV)/bin/python -c "import sys, nio.crypto; from importlib.metadata import version; sys.exit(not nio.crypto.ENCRYPTION_ENABLED or version('matrix-nio') != '$(NIO_VERSION)' or version('vodozemac') != '$(VODOZEMAC_VERSION)')" 2>/dev/null; then \
		echo "Installing matrix-nio[e2e] $(NIO_VERSION) into $(SYNAPSE_VENV)"; \
		$(SYNAPSE_VENV)/bin/pip install -q --disable-pip-version-check "matrix-nio[e2e]==$(NIO_VERSION)" "vodozemac==$(VODOZEMAC_VERSION)"; \
	fi

# Selenium, which drives Chromium in the try-out page's tests: from PyPI into a venv under
# .build-browser/ (ignored by git), made once and reused. It is told where Debian's chromedriver
# is, so it fetches nothing.
SELENIUM_VERSION := 4.51.0
BROWSER_VENV := .build-browser/venv
browser: deps
	@if ! $(BROWSER_VENV)/bin/python -c "import sys, selenium; sys.exit(selenium.__version__ != '$(SELENIUM_VERSION)')" 2>/dev/null; then \
		echo "Installing Selenium $(SELENIUM_VERSION) into $(BROWSER_VENV)"; \
		rm -rf $(BROWSER_VENV) && python3 -m venv $(BROWSER_VENV) && \
		$(BROWSER_VENV)/bin/pip install -q --disable-pip-version-check "selenium==$(SELENIUM_VERSION)"; \
	fi

build: deps
	$(SWIFT) build --product spiegel

run: build
	@echo "Starting Spiegel on its built-in defaults (data in ./.spiegel-data); Ctrl-C stops it."
	@echo "Open the address it prints in a browser to try it out."
	$$($(SWIFT) build --show-bin-path)/spiegel serve

# A whole conversation in the terminal, on the built-in defaults (data in ./.spiegel-data).
chat: build
	$$($(SWIFT) build --show-bin-path)/spiegel chat

# Every test: the Swift suites (the conversation scripts of the fixtures among them), then the
# linter and the conversation scripts of the coaching content in Prompts/.
test: deps synapse browser
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$$($(SWIFT) build --show-bin-path)/spiegel prompts lint Prompts
	$$($(SWIFT) build --show-bin-path)/spiegel prompts test --prompts Prompts
	$$($(SWIFT) build --show-bin-path)/spiegel prompts evaluate --prompts Prompts --folds 0 \
		--held-out Tests/Evaluation/understanding-held-out.tsv --require-macro-f1 0.85 --require-distress-recall 0.95

# The suites again at dates that break code which reads the wall clock: a Saturday, the night the
# clocks go forward in Brussels (02:30 +01:00, an hour that does not exist there), the last
# seconds of a year, and 400 days from today; in Brussels time. In-process services take the
# date as their clock, the `spiegel` processes run under libfaketime (SpiegelTestKit's TestTime).
# The Matrix suites stay on the real clock: Synapse cannot be moved in time.
TEST_DATES := 2027-01-09T11:00:00+01:00 2027-03-28T02:30:00+01:00 2026-12-31T23:59:30+01:00
test-dates: deps browser
	$(SWIFT) build --build-tests
	@for when in $(TEST_DATES) $$(date -u -d '+400 days' +%Y-%m-%dT%H:%M:%SZ); do \
		echo "make test-dates: now is $$when, TZ=Europe/Brussels"; \
		SPIEGEL_TEST_NOW=$$when TZ=Europe/Brussels SPIEGEL_SKIP_TAGS=synapse $(SWIFT) test --skip-build || exit 1; \
	done

# Every test but those needing Synapse, systemd, the container steps, IRC servers or a browser (tagged so in the tests):
# quick to run while developing; `make test` runs them all.
test-quick: deps
	$(SWIFT) build --build-tests
	SPIEGEL_SKIP_TAGS=synapse,systemd,container,irc,browser $(SWIFT) test --skip-build

bench: deps synapse
	$(SWIFT) build -c release --product spiegel-bench
	$$($(SWIFT) build -c release --show-bin-path)/spiegel-bench http-client
	$$($(SWIFT) build -c release --show-bin-path)/spiegel-bench dialogue
	$$($(SWIFT) build -c release --show-bin-path)/spiegel-bench screening
	# The webhook before the benchmarks that free thousands of files: on an ext4 without a journal
	# (this VM's disk) a new file skips every inode freed in the last minutes, and the webhook's
	# new coachees would pay for the vault's and the coaching benchmark's clean-up.
	$$($(SWIFT) build -c release --show-bin-path)/spiegel-bench webhook --directory .build \
		--teachers 1,2,4,8,16,32,64,128,256,512,1000,2000 --plot docs/images/webhook-scaling.svg
	$$($(SWIFT) build -c release --show-bin-path)/spiegel-bench vault --directory .build
	$$($(SWIFT) build -c release --show-bin-path)/spiegel-bench coach --directory .build --active 2000
	$$($(SWIFT) build -c release --show-bin-path)/spiegel-bench matrix --directory .build

# Today's webhook, coaching and vault benchmarks against a reference commit, interleaved on this
# machine, with the ratios: `make bench-compare REF=80cd18f`. Run it before merging a change to
# the message path, and when `make bench` shows a figure worse than the README's. The reference
# is built once in a worktree under .build-ref/.
bench-compare: deps
	@test -n "$(REF)" || (echo "make bench-compare REF=<commit>"; exit 2)
	python3 scripts/bench_compare.py $(REF)

# The fault campaign (not in CI; needs root): a release `spiegel serve` killed with SIGKILL at
# random moments SOAK_CYCLES times while teachers write, the receiver goes down and up, the data
# disk (a small tmpfs) fills and frees and the open-file limit drops below use; malformed requests
# among the messages; then the journal reader against FUZZ_ROUNDS mutated journals and logs. The
# figures go in docs/operations.md, "Faults".
SOAK_CYCLES ?= 1000
FUZZ_ROUNDS ?= 30000
soak: deps
	$(SWIFT) build -c release --product spiegel
	python3 scripts/soak.py --binary $$($(SWIFT) build -c release --show-bin-path)/spiegel --cycles $(SOAK_CYCLES)
	$(SWIFT) build --build-tests
	SPIEGEL_FUZZ_ROUNDS=$(FUZZ_ROUNDS) $(SWIFT) test --skip-build --filter JournalFuzzTests

# A short benchmark run under LeakSanitizer (AddressSanitizer's leak check at exit): every curl
# handle and buffer is freed. Its own build folder, since the whole tree is instrumented.
leakcheck: deps
	$(SWIFT) build --product spiegel-bench --scratch-path .build-asan --sanitize=address
	ASAN_OPTIONS=detect_leaks=1 .build-asan/debug/spiegel-bench http-client --requests 300 --rounds 1 --concurrency 1,8 --without-curl
	@echo "LeakSanitizer found no leak."

# The example graph picture in docs/architecture.md (Graphviz from Debian).
docs: build
	command -v dot >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null)
	$$($(SWIFT) build --show-bin-path)/spiegel prompts graph kort --prompts Tests/SpiegelDialogueTests/Fixtures/Prompts --format dot \
		| dot -Tsvg -o docs/images/example-graph.svg

clean:
	rm -rf .build
