# syntax=docker/dockerfile:1
# The suite's stand-in for docker.io/dxflrs/garage (no registry here): the Garage binary that
# scripts/test installs (cargo install garage --locked), laid out as the official image lays
# out its own: /garage, run as root, config at /etc/garage.toml.
ARG BASE_IMAGE=localhost/visage-base:bookworm
FROM ${BASE_IMAGE}
COPY --chmod=0555 garage /garage
# Root, as in the official image (the stand-in must behave like it, volumes included).
# hadolint ignore=DL3002
USER 0:0
ENV RUST_BACKTRACE=1 RUST_LOG=garage=info
CMD ["/garage", "server"]
