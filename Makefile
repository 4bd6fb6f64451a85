# dnsbl — the two commands a fresh Debian 12 machine needs:
#   make serve   install what is missing, build, serve the embedded default (bl.localhost on 127.0.0.1:5353)
#   make test    install what is missing, run the whole test suite
.PHONY: deps build serve test check bench-peer bench-xdp-gain fuzz

# Debian packages the build and tests need: RocksDB 7.8.3 (linked, not built from source, see
# .cargo/config.toml), libclang for bindgen, dig for the manual checks in README, rbldnsd, which
# the export tests load our rbldnsd output into, unbound, the resolver one test asks through, and
# chromium with chromium-driver (WebDriver), the browser the public web pages are tested in, and
# nsd, the stock name server that serves the zone's record form in a test.
DEBIAN_PACKAGES := librocksdb-dev libclang-dev clang pkg-config dnsutils rbldnsd unbound chromium chromium-driver nsd
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Where Debian puts librocksdb for this architecture (.cargo/config.toml covers x86_64 for plain
# `cargo` runs; this also serves other architectures).
export ROCKSDB_LIB_DIR ?= /usr/lib/$(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	cargo build --release --locked

serve: build
	./target/release/dnsbl serve

test: deps
	cargo test --locked --all-targets

# What CI checks besides the tests.
check: deps
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings

# Side-by-side benchmark against rbldnsd (installs rbldnsd and dnsperf if missing); see README.
bench-peer: deps
	scripts/bench-peer.sh

# What AF_XDP would save per answer, measured on a veth pair between two network namespaces
# against the socket path, dnsbl and rbldnsd (root; installs clang, libxdp-dev, libbpf-dev and
# ethtool if missing); see README "Past the kernel's UDP stack".
bench-xdp-gain: deps
	scripts/bench-xdp-gain.sh

# Fuzzing, never part of `make test`: any bytes as a query through both answer paths
# (fuzz/fuzz_targets/packet.rs), for FUZZ_SECONDS (default 300). Installs the nightly toolchain
# and cargo-fuzz if missing; findings land in fuzz/artifacts/packet/.
FUZZ_SECONDS ?= 300
fuzz: deps
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cargo +nightly fuzz run packet -- -max_total_time=$(FUZZ_SECONDS)
