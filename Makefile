# vcurate: `make demo` and `make test` are the whole quickstart.
# Both install missing Debian packages first (apt-get, as root or via sudo).

BUILD      ?= build
TEST_BUILD ?= build-test
MESON      ?= meson
SAMPLES    ?= samples

.PHONY: all deps build demo test bench clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=release -Dtests=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@./scripts/demo.sh $(BUILD)/src/cli/vcurate

# Unit and end-to-end tests, built with AddressSanitizer and UBSan.
$(TEST_BUILD)/build.ninja:
	$(MESON) setup $(TEST_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

test: deps $(TEST_BUILD)/build.ninja
	ninja -C $(TEST_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(MESON) test -C $(TEST_BUILD) --print-errorlogs --num-processes 2 --timeout-multiplier 3

bench: build
	@./bench/run_all.sh $(BUILD)/src/cli/vcurate

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
