#!/usr/bin/env bash
# Both images built with BuildKit (what `docker build` uses since Docker 23) as well as with the
# legacy builder: the same sizes, the same configuration, and the BuildKit multi image serves.
# BuildKit comes from `docker buildx` when the client has it, else from the engine's own BuildKit
# through a Docker 20.10 client (DOCKER_BUILDKIT=1; /usr/bin/docker on Debian 12). The Dockerfiles
# have no `# syntax=` line, so nothing is pulled.
# Needs a Docker engine and such a client: skipped without them, except in CI where that fails.
# shellcheck source=tests/common.sh
source "$(dirname "$0")/common.sh"
engine_or_skip "BuildKit tests (tests/buildkit.sh)"

# A client that builds with BuildKit: buildx, or a 20.10 client with its built-in BuildKit.
buildkit_docker=""
if "$DOCKER" buildx version >/dev/null 2>&1; then
    buildkit_docker=$DOCKER
else
    for client in /usr/bin/docker "$(command -v docker)"; do
        [ -x "$client" ] && [[ "$("$client" version -f '{{.Client.Version}}' 2>/dev/null)" == 20.10.* ]] \
            && { buildkit_docker=$client; break; }
    done
fi
if [ -z "$buildkit_docker" ]; then
    [ -z "${CI:-}" ] || { echo "BuildKit tests: no client here builds with BuildKit, and CI must run them" >&2; exit 1; }
    echo "SKIPPED BuildKit tests: '$DOCKER' has no buildx, and no Docker 20.10 client is installed (apt-get install docker.io)."
    exit 0
fi

bk="$IMAGE-buildkit"
make_work buildkit
containers_then_images() { # at exit: the images go once no container uses them
    if [ ${#containers[@]} -gt 0 ]; then "$DOCKER" rm -f "${containers[@]}" >/dev/null 2>&1; fi
    containers=()
    "$DOCKER" image rm "$bk:single" "$bk:multi" >/dev/null 2>&1
}
on_exit containers_then_images

section "the legacy builder: $IMAGE:single and $IMAGE:multi"
start=$(now_ms)
DOCKER_BUILDKIT=0 make --no-print-directory image-single image-multi IMAGE="$IMAGE" >"$work/legacy.log" 2>&1 \
    || { tail -n 30 "$work/legacy.log"; echo "0 passed, 1 failed"; exit 1; }
echo "        $(($(now_ms) - start)) ms"
section "BuildKit ($buildkit_docker, $("$buildkit_docker" version -f '{{.Client.Version}}')): $bk:single and $bk:multi"
start=$(now_ms)
DOCKER_BUILDKIT=1 make --no-print-directory image-single image-multi IMAGE="$bk" DOCKER="$buildkit_docker" >"$work/buildkit.log" 2>&1 \
    || { tail -n 30 "$work/buildkit.log"; echo "0 passed, 1 failed"; exit 1; }
echo "        $(($(now_ms) - start)) ms"
check "the BuildKit build ran on BuildKit (its log has BuildKit's numbered steps)" grep -q '^#[0-9]* \[internal\] load build definition' "$work/buildkit.log"
check "the legacy build ran on the legacy builder (its log has Step N/M)" grep -q '^Step 1/' "$work/legacy.log"

for tag in single multi; do
    legacy=$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE:$tag")
    buildkit=$("$DOCKER" image inspect -f '{{.Size}}' "$bk:$tag")
    echo "        $tag: legacy $legacy bytes, BuildKit $buildkit bytes"
    check "$tag: the same size from both builders ($legacy, $buildkit)" test "$legacy" = "$buildkit"
    config='{{.Config.User}} {{json .Config.Healthcheck}} {{json .Config.Entrypoint}} {{json .Config.ExposedPorts}} {{json .Config.Labels}}'
    check "$tag: the same user, health check, entrypoint, port and labels" \
        test "$("$DOCKER" image inspect -f "$config" "$IMAGE:$tag")" = "$("$DOCKER" image inspect -f "$config" "$bk:$tag")"
done

section "the BuildKit multi image as a container"
name="who-buildkit-$$"
containers+=("$name")
"$DOCKER" run -d --name "$name" --hostname who-buildkit -p 127.0.0.1::8080 "$bk:multi" >/dev/null
port=$(published_port "$name")
wait_until 10 "the container answers /healthz" http_ok "http://127.0.0.1:$port/healthz"
check "the BuildKit multi image serves /who" test "$(curl -sS --max-time 5 "http://127.0.0.1:$port/who")" = who-buildkit

summary
