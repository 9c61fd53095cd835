# Images.
# Images are pinned (a tag other than latest, or a digest) so that a sync deploys exactly what
# was reviewed, and come only from the registries and organisations the platform trusts.
package main

import data.lib.kubernetes as k8s

# Registry/organisation prefixes images may come from (after docker.io and library/ are implied).
allowed_image_prefixes := {
	"docker.io/trinodb/",
	"docker.io/apache/",
	"ghcr.io/lakeport/",
	# The bank's registry, where the platform team pushes what `make image` builds
	# (jobs/README.md, "The image").
	"registry.risk.internal/lakeport/",
	"quay.io/minio/",
	# oauth2-proxy's official image (charts/jupyter's OIDC login sidecar).
	"quay.io/oauth2-proxy/",
}

# METADATA
# title: No latest or untagged images
# custom:
#   severity: failure
deny_image_tag contains msg if {
	some c in k8s.input_containers
	ref := k8s.image_ref(c.container.image)
	ref.digest == ""
	ref.tag == ""
	msg := sprintf("%s: %s image %q has no tag: pin a version tag or a digest", [k8s.name(input), k8s.container_name(c), c.container.image])
}

deny_image_tag contains msg if {
	some c in k8s.input_containers
	ref := k8s.image_ref(c.container.image)
	ref.digest == ""
	ref.tag == "latest"
	msg := sprintf("%s: %s image %q uses the latest tag: pin a version tag or a digest", [k8s.name(input), k8s.container_name(c), c.container.image])
}

deny_image_tag contains msg if {
	some c in k8s.input_containers
	not c.container.image
	msg := sprintf("%s: %s has no image", [k8s.name(input), k8s.container_name(c)])
}

# METADATA
# title: Images only from allowed registries
# custom:
#   severity: failure
deny_image_registry contains msg if {
	some c in k8s.input_containers
	name := k8s.image_name(c.container.image)
	not allowed_image(name)
	msg := sprintf("%s: %s image %q is not from an allowed registry: use an image under %s", [k8s.name(input), k8s.container_name(c), c.container.image, concat(", ", sort(allowed_image_prefixes))])
}

allowed_image(name) if {
	some prefix in allowed_image_prefixes
	startswith(name, prefix)
}
