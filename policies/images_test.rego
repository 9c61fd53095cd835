package main

import data.lib.fixtures as f
import data.lib.kubernetes as k8s

test_images_good_deployment_passes if {
	count(deny_image_tag) == 0 with input as f.deployment
	count(deny_image_registry) == 0 with input as f.deployment
}

test_image_latest if {
	deny_image_tag["Deployment web: container \"app\" image \"docker.io/trinodb/trino:latest\" uses the latest tag: pin a version tag or a digest"] with input as f.with_container("image", "docker.io/trinodb/trino:latest")
}

test_image_untagged if {
	deny_image_tag["Deployment web: container \"app\" image \"trinodb/trino\" has no tag: pin a version tag or a digest"] with input as f.with_container("image", "trinodb/trino")
	count(deny_image_tag) == 1 with input as f.with_container("image", "localhost:5000/trino")
}

test_image_digest_is_pinned if {
	count(deny_image_tag) == 0 with input as f.with_container("image", "docker.io/trinodb/trino@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	count(deny_image_tag) == 0 with input as f.with_container("image", "docker.io/trinodb/trino:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
}

test_image_registry if {
	count(deny_image_registry) == 1 with input as f.with_container("image", "evil.example.com/trinodb/trino:482")
	count(deny_image_registry) == 1 with input as f.with_container("image", "busybox:1.36")
	count(deny_image_registry) == 0 with input as f.with_container("image", "trinodb/trino:482")
	count(deny_image_registry) == 0 with input as f.with_container("image", "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z")
	count(deny_image_registry) == 0 with input as f.with_container("image", "registry.risk.internal/lakeport/distribution:0.1.0")
	count(deny_image_registry) == 1 with input as f.with_container("image", "registry.risk.internal/other/app:1.0")
}

test_image_ref_parsing if {
	k8s.image_ref("busybox") == {"registry": "docker.io", "repository": "library/busybox", "tag": "", "digest": ""}
	k8s.image_ref("localhost:5000/team/app:1.0") == {"registry": "localhost:5000", "repository": "team/app", "tag": "1.0", "digest": ""}
	k8s.image_ref("ghcr.io/lakeport/distribution:0.1.0@sha256:ab") == {"registry": "ghcr.io", "repository": "lakeport/distribution", "tag": "0.1.0", "digest": "sha256:ab"}
}
