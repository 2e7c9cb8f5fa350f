# syntax=docker/dockerfile:1
# One image for every subcommand of sxp: the clearing house, community servers,
# migrations and admin commands.
#
#   docker build -t sxp .
#   docker run --rm sxp --help
#   docker run -e DATABASE_URL=... sxp migrate up
#   docker run -e DATABASE_URL=... -p 8080:8080 sxp clearing --listen 0.0.0.0:8080
#
# Servers inside the container listen on 0.0.0.0:8080: the HEALTHCHECK probes
# http://127.0.0.1:8080/healthz there (override it in compose or Kubernetes,
# which use their own probes, if you choose another port).

ARG GO_VERSION=1.26
ARG ALPINE_VERSION=3.22

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# A static binary: no C library needed at run time.
ENV CGO_ENABLED=0 GOOS=linux
RUN go build -trimpath -ldflags="-s -w" -o /out/sxp ./cmd/sxp

# Alpine rather than distroless: the same small static binary, plus a shell
# for operators and for the compose file's one-shot setup service.
FROM alpine:${ALPINE_VERSION}
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S -g 10001 sxp \
 && adduser -S -D -H -u 10001 -G sxp -s /sbin/nologin sxp \
 && mkdir -p /var/lib/sxp/keys && chown -R 10001:10001 /var/lib/sxp && chmod 700 /var/lib/sxp/keys
COPY --from=build /out/sxp /usr/local/bin/sxp
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/sxp", "healthcheck", "--quiet", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/sxp"]
CMD ["--help"]
