// Package imagetest runs the distribution job's image the way a cluster would run the chart's
// CronJob: the image built by hack/imagebuild (the same builder as `make image`), its filesystem
// unpacked as the container's root, the container spec of the rendered chart (command, args,
// env with secretKeyRef/configMapKeyRef resolved, ConfigMap, Secret and emptyDir volumes at their
// mountPaths), the image's entrypoint run under chroot as the pod's non-root user, against the
// real PostgreSQL and an S3 server (versitygw) over TLS with a private CA.
//
// The package has only tests; this file holds its documentation.
package imagetest
