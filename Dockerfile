# The action's own image: a static (musl) binary on scratch with CA certificates and a writable
# /tmp (scratch has none; the action needs none, but a library that assumes one must not break).
# Built by the runner for `uses: ./`; release tags point action.yml at a prebuilt image instead.
FROM rust:1.95-alpine AS build
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev gcc g++ make perl cmake ca-certificates
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin ecs-poc-action \
    && cp target/release/ecs-poc-action /ecs-poc-action \
    && mkdir -m 1777 /scratch-tmp

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /ecs-poc-action /ecs-poc-action
# --chmod: COPY alone does not keep the sticky mode in every builder (the action runs as root
# either way, as the runner starts container actions without USER).
COPY --from=build --chmod=1777 /scratch-tmp /tmp
ENTRYPOINT ["/ecs-poc-action"]
