# The sequencer as a container, for a Cloud Run job on a Cloud Scheduler
# trigger (README, "Deploying on Google Cloud"): each execution is one
# `pysumdb sequence` run, which publishes what changed on PyPI since the
# last one and exits.
#
#   docker build -t pysumdb .      (or: gcloud builds submit --tag IMAGE .)
#
# The job gives the real arguments (gcloud run jobs deploy --args): the
# bucket, and the log's key, mounted from Secret Manager as a file.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# A static binary (no cgo), without the build machine's paths.
RUN CGO_ENABLED=0 go build -trimpath -o /out/pysumdb ./cmd/pysumdb

# CA certificates and time zones, no shell, user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pysumdb /usr/local/bin/pysumdb
ENTRYPOINT ["/usr/local/bin/pysumdb"]
CMD ["sequence", "--store", "gs://BUCKET/pypi", "--key", "/secrets/log.key", "--pypi", "https://pypi.org", "--log-format", "json"]
