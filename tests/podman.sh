#!/usr/bin/env bash
# podman, as a Docker user would try it: first the image tests (tests/docker.sh) with
# DOCKER=podman; then the Kubernetes manifests under `podman kube play`: the overlay
# deploy/podman, which must run, serve, keep its hardening and drain; and the base deploy/k8s,
# created but not started, to show what podman makes of it (docs/deployment.md quotes it).
# Needs podman, kubectl (for kustomize) and curl: skipped without them, except in CI.
export DOCKER=podman
# shellcheck source=tests/common.sh
source "$(dirname "$0")/common.sh"
tools_or_skip "podman tests (tests/podman.sh)" podman kubectl curl
engine_or_skip "podman tests (tests/podman.sh)"
podman_rlimits

make_work podman
played=()
play_down() { # at exit: every manifest played, down
    local file
    for file in "${played[@]}"; do podman kube play --down "$file" >/dev/null 2>&1; done
}
on_exit play_down

# Docker and podman keep separate image stores: give podman the base image Docker has.
if ! podman image exists "$RUST_IMAGE" && command -v docker >/dev/null && docker image inspect "$RUST_IMAGE" >/dev/null 2>&1; then
    section "copying $RUST_IMAGE from Docker's image store to podman's"
    docker save "$RUST_IMAGE" | podman load -q
fi

section "tests/docker.sh with DOCKER=podman"
IMAGE=$IMAGE RUST_IMAGE=$RUST_IMAGE tests/docker.sh 2>&1 | grep -v 'level=error msg=".*systemd'
check "tests/docker.sh passes with podman" test "${PIPESTATUS[0]}" = 0

# manifest DIR FILE: kustomize's output for DIR, with this image and a free host port, in FILE
port=$(free_port)
manifest() {
    kubectl kustomize "$1" | sed "s#image: who:multi#image: $IMAGE:multi#; s#hostPort: 8080#hostPort: $port#" >"$2"
}

section "kubectl kustomize deploy/podman | podman kube play - (one pod, on 127.0.0.1:$port)"
manifest deploy/podman "$work/podman.yaml"
played+=("$work/podman.yaml")
podman kube play "$work/podman.yaml" >"$work/play.log" 2>&1
status=$?
grep -v 'level=' "$work/play.log" | sed 's/^/        /'
check "podman kube play runs the overlay (exit $status)" test "$status" = 0
container=who-pod-0-who
wait_until 10 "the pod answers /healthz" http_ok "http://127.0.0.1:$port/healthz"
check "/who on 127.0.0.1:$port answers the pod's hostname, who-pod-0" \
    test "$(curl -sS --max-time 5 "http://127.0.0.1:$port/who")" = who-pod-0
pid=$(podman inspect -f '{{.State.Pid}}' "$container")
check "the container runs as 65534, no capabilities, no-new-privileges" \
    test "$(awk '$1 == "Uid:" { u = $2 } $1 == "CapEff:" { c = $2 } $1 == "NoNewPrivs:" { n = $2 } END { print u, c, n }' "/proc/$pid/status")" \
    = "65534 0000000000000000 1"
check "read-only root filesystem, 32Mi memory limit, WHO_SHUTDOWN_DELAY=5" test \
    "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Memory}}' "$container") $(podman inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$container" | grep -c '^WHO_SHUTDOWN_DELAY=5$')" \
    = "true 33554432 1"
echo "        podman's stop timeout for it: $(podman inspect -f '{{.Config.StopTimeout}}' "$container") s (the manifest's terminationGracePeriodSeconds is 15)"

# Draining: stop the container, not the pod. `podman pod stop` and `kube play --down` stop the
# pod's infra container at the same time, and the pod's network (and published port) goes with it.
has_window=""
grep -q -- --shutdown-delay <<<"$(podman run --rm "$IMAGE:multi" --help 2>/dev/null)" && has_window=yes
(
    for _ in $(seq 40); do
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 0.5 "http://127.0.0.1:$port/healthz"
        sleep 0.2
    done
) >"$work/healthz.txt" &
probe=$!
sleep 0.5
start=$(now_ms)
podman stop -t 15 "$container" >/dev/null 2>&1
stop_ms=$(($(now_ms) - start))
wait "$probe"
echo "        /healthz every 0.2 s through the stop: $(uniq -c "$work/healthz.txt" | awk '{ printf "%s x %s, ", $1, $2 }')"
check "podman stop: exit 0, within the 15 s asked (${stop_ms} ms)" test \
    "$(podman inspect -f '{{.State.ExitCode}}' "$container")" = 0 -a "$stop_ms" -lt 15000
if [ -n "$has_window" ]; then
    check "it drained: /healthz answered 503 through the 5 s window, then it stopped (${stop_ms} ms)" \
        test "$(grep -c '^503$' "$work/healthz.txt")" -ge 20 -a "$stop_ms" -ge 5000
else
    echo "        NOTE: whod in $IMAGE:multi has no --shutdown-delay: no drain to see"
fi
podman kube play --down "$work/podman.yaml" >/dev/null 2>&1
check "podman kube play --down removes the pod" bash -c '! podman pod exists who-pod-0'

section "deploy/k8s as it is: podman kube play --start=false (created, not started)"
manifest deploy/k8s "$work/base.yaml"
played+=("$work/base.yaml")
if podman kube play --start=false "$work/base.yaml" >"$work/base.log" 2>&1; then
    echo "        pods created: $(podman pod ps --format '{{.Name}}' | grep -c '^who-pod-'), each publishing: $(podman ps -a --filter name=who-pod- --format '{{.Ports}}' | sort -u | tr '\n' ' ')"
    echo "        liveness probe, as podman runs it: $(podman inspect -f '{{json .Config.Healthcheck.Test}}' "$container" 2>/dev/null)"
    echo "        stop timeout: $(podman inspect -f '{{.Config.StopTimeout}}' "$container" 2>/dev/null) s; readiness probe, Service, PodDisruptionBudget: nothing in podman for them"
else
    # podman 4.3 cannot fill variables from the downward API (the Deployment's WHO_NAME).
    echo "        podman refuses them: $(grep -m 1 'Error' "$work/base.log")"
fi
podman kube play --down "$work/base.yaml" >/dev/null 2>&1

summary
