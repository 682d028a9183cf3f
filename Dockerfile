# Latchkey container image: the binary built with cgo on Debian 12, so that
# it signs RSA through OpenSSL 3 (internal/fastrsa), on distroless
# base-debian12 (glibc, libssl3), running as a non-root user, with its data
# dir on a volume.
#   docker build -t latchkey:dev --build-arg VERSION=$(git describe --always) .
#   docker run -d -p 8080:8080 -v latchkey-data:/var/lib/latchkey \
#     -e LATCHKEY_PUBLIC_URL=http://localhost:8080 latchkey:dev
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/latchkey ./cmd/latchkey \
 && mkdir -p /out/data

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/latchkey /usr/local/bin/latchkey
# The data dir belongs to the image's non-root user (uid 65532): the SQLite
# database, master.key, bootstrap.json, the self-signed certificate.
COPY --from=build --chown=65532:65532 /out/data /var/lib/latchkey
USER 65532:65532
ENV LATCHKEY_DATA_DIR=/var/lib/latchkey \
    LATCHKEY_LISTEN=:8080 \
    LATCHKEY_LOG_FORMAT=json
VOLUME /var/lib/latchkey
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/latchkey", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
