# The README's two commands: `make demo` and `make test`.
# Each installs what is missing (scripts/deps.sh), configures, builds and runs.

BUILD   ?= build
RELEASE ?= build-release
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build release demo test soak bench fuzz format clean

all: build

deps:
	@scripts/deps.sh

# The test build: clang, ASan + UBSan, -Wall -Wextra -Werror, libFuzzer targets.
$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DUSTACK_SANITIZE=ON -DUSTACK_FUZZ=ON $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The measuring build: optimised, no sanitizers.
$(RELEASE)/CMakeCache.txt:
	cmake -S . -B $(RELEASE) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release \
	      -DUSTACK_SANITIZE=OFF -DUSTACK_FUZZ=OFF $(CMAKE_FLAGS) >/dev/null

release: deps $(RELEASE)/CMakeCache.txt
	cmake --build $(RELEASE) -j $(JOBS)

demo: build
	$(BUILD)/ustack demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# More seeds than `make test` runs; takes a while.
soak: build
	cd $(BUILD) && USTACK_SEEDS=5000 ctest --output-on-failure -j $(JOBS) -L sim --timeout 3600

bench: release
	$(RELEASE)/ustack bench --json bench-results.json

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(RELEASE)
