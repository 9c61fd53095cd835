package imagebuild

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// WriteLayout replaces dir with an OCI image layout holding the index, tagged with the version
// (org.opencontainers.image.ref.name) and named for containerd imports. `crane push dir ref`
// pushes the whole index.
func (b *Built) WriteLayout(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write layout %s: %w", dir, err)
	}
	_, tag, _ := strings.Cut(b.Ref[strings.LastIndex(b.Ref, "/")+1:], ":")
	if err := p.AppendIndex(b.Index, layout.WithAnnotations(map[string]string{
		AnnotationRefName:        tag,
		annotationContainerdName: b.Ref,
	})); err != nil {
		return fmt.Errorf("write layout %s: %w", dir, err)
	}
	return nil
}

// WriteTarballs writes one `docker load` / `crane push` tarball per platform into dir, named
// <prefix>-<os>-<arch>.tar, and returns their paths in platform order.
func (b *Built) WriteTarballs(dir, prefix string) ([]string, error) {
	tag, err := name.NewTag(b.Ref)
	if err != nil {
		return nil, fmt.Errorf("write tarball: image name %q: %w", b.Ref, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write tarball: %w", err)
	}
	var out []string
	for _, pi := range b.Images {
		p := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.tar", prefix, pi.Platform.OS, pi.Platform.Arch))
		if err := tarball.WriteToFile(p, tag, pi.Image); err != nil {
			return nil, fmt.Errorf("write tarball %s: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Unpack writes the image's flattened filesystem under root (which must exist), the way a
// container runtime lays out a container's root: regular files, directories and symlinks with
// their modes and owners (owners only when running as root). It refuses entries that would
// escape root.
func Unpack(img v1.Image, root string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	asRoot := os.Geteuid() == 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		rel := filepath.Clean("/" + h.Name)
		dst := filepath.Join(root, rel)
		mode := os.FileMode(h.Mode) & os.ModePerm
		if h.Mode&0o1000 != 0 {
			mode |= os.ModeSticky
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
			_, err = io.Copy(f, tr) //nolint:gosec // sizes come from an image this package built
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
			continue
		default:
			return fmt.Errorf("unpack %s: entry type %q is not supported", h.Name, h.Typeflag)
		}
		if err := os.Chmod(dst, mode); err != nil {
			return fmt.Errorf("unpack %s: %w", h.Name, err)
		}
		if asRoot {
			if err := os.Lchown(dst, h.Uid, h.Gid); err != nil {
				return fmt.Errorf("unpack %s: %w", h.Name, err)
			}
		}
	}
}

// CompressedSize is what a registry stores and a node pulls for the image: its manifest, config
// and compressed layers.
func CompressedSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, fmt.Errorf("image size: %w", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, fmt.Errorf("image size: %w", err)
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
