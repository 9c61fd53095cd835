package imagetest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
	"github.com/lakeport/lakeport/hack/imagebuild"
)

// This file is a small kubelet: it runs one container of a rendered pod template from an image,
// with what the kubelet and the container runtime would give it. What it does, and where it
// differs from a real node:
//   - the image's layers are unpacked into a fresh root folder and the process is chrooted
//     there, so absolute paths (mountPaths, --config, SSL_CERT_FILE, the config's workDir) mean
//     what they mean in the pod: nothing is rewritten, and the host's files (its CA bundle
//     included) are out of reach;
//   - volumes: ConfigMap and Secret volumes become files at their mountPath (items or every key,
//     mode defaultMode/0644, root-owned), emptyDirs become empty folders owned by root, group
//     fsGroup, mode 2777 (as the kubelet sets them up with fsGroup);
//   - readOnlyRootFilesystem: every file of the image is made root-owned and not writable by
//     group or others, so the non-root user can write nowhere but the volumes (a real node
//     mounts the root read-only, which needs a mount namespace this test does not create);
//   - the process runs as the pod's runAsUser/runAsGroup with fsGroup as a supplementary group
//     (syscall.Credential), never as root; its working directory is the image's WorkingDir;
//   - command/args follow the Kubernetes rules (command replaces the entrypoint, args the Cmd;
//     $(VAR) expands from the container's env); env is the image's Env, then the container's,
//     valueFrom secretKeyRef/configMapKeyRef resolved from the objects given;
//   - the network is the host's (the servers listen on 127.0.0.1); there is no DNS, no service
//     links (the chart sets enableServiceLinks: false) and no service-account token (it sets
//     automountServiceAccountToken: false).

// objects are the ConfigMaps and Secrets a pod can reference, by kind/name, with their data.
type objects map[string]map[string][]byte

func (o objects) add(kind, name string, data map[string][]byte) { o[kind+"/"+name] = data }

// addRendered adds the ConfigMaps and Secrets of a render.
func (o objects) addRendered(t *testing.T, objs []chartrender.Object) {
	t.Helper()
	for _, obj := range objs {
		switch obj.Kind() {
		case "ConfigMap":
			var cm corev1.ConfigMap
			fromUnstructured(t, obj.U.Object, &cm)
			data := map[string][]byte{}
			for k, v := range cm.Data {
				data[k] = []byte(v)
			}
			for k, v := range cm.BinaryData {
				data[k] = v
			}
			o.add("ConfigMap", cm.Name, data)
		case "Secret":
			var s corev1.Secret
			fromUnstructured(t, obj.U.Object, &s)
			data := map[string][]byte{}
			for k, v := range s.Data {
				data[k] = v
			}
			for k, v := range s.StringData {
				data[k] = []byte(v)
			}
			o.add("Secret", s.Name, data)
		}
	}
}

func (o objects) key(kind, name, key string, optional *bool) ([]byte, bool, error) {
	data, ok := o[kind+"/"+name]
	if !ok {
		if optional != nil && *optional {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%s %q does not exist (the pod would not start: CreateContainerConfigError)", kind, name)
	}
	v, ok := data[key]
	if !ok {
		if optional != nil && *optional {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%s %q has no key %q", kind, name, key)
	}
	return v, true, nil
}

func fromUnstructured(t *testing.T, u map[string]any, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, into); err != nil {
		t.Fatalf("decode %T: %v", into, err)
	}
}

// podTemplate returns the pod spec of a rendered CronJob or Job.
func podTemplate(t *testing.T, obj chartrender.Object) corev1.PodSpec {
	t.Helper()
	var spec corev1.PodSpec
	switch obj.Kind() {
	case "CronJob":
		var cj struct {
			Spec struct {
				JobTemplate struct {
					Spec struct {
						Template struct {
							Spec map[string]any `json:"spec"`
						} `json:"template"`
					} `json:"spec"`
				} `json:"jobTemplate"`
			} `json:"spec"`
		}
		fromUnstructured(t, obj.U.Object, &cj)
		fromUnstructured(t, cj.Spec.JobTemplate.Spec.Template.Spec, &spec)
	case "Job":
		var j struct {
			Spec struct {
				Template struct {
					Spec map[string]any `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		fromUnstructured(t, obj.U.Object, &j)
		fromUnstructured(t, j.Spec.Template.Spec, &spec)
	default:
		t.Fatalf("%s/%s has no pod template", obj.Kind(), obj.Name())
	}
	return spec
}

// container is one container of a pod, ready to run from an image.
type container struct {
	pod  corev1.PodSpec
	spec corev1.Container
	img  v1.Image
	objs objects
}

// result is how a run ended.
type result struct {
	code           int
	stdout, stderr string
}

// run lays out the container's root under a fresh temp folder and runs the process in it.
func (c container) run(t *testing.T, ctx context.Context) result {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running a container needs root (chroot, and setting the process's uid); the tests run as root in CI")
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := imagebuild.Unpack(c.img, root); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	sc := c.spec.SecurityContext
	psc := c.pod.SecurityContext
	if sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		readOnly(t, root)
	}
	uid, gid, groups := identity(t, psc, sc)
	// The working directory must not be writable by the process's user.
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm()&0o022 != 0 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatalf("container root %s is writable by others than root (%v, %v)", root, fi.Mode(), err)
	}
	if err := c.mountVolumes(root, psc); err != nil {
		t.Fatal(err)
	}
	env, err := c.env(cfg.Config.Env)
	if err != nil {
		t.Fatal(err)
	}
	argv := c.argv(cfg.Config, env)
	if len(argv) == 0 {
		t.Fatal("neither the container nor the image has a command")
	}
	dir := c.spec.WorkingDir
	if dir == "" {
		dir = cfg.Config.WorkingDir
	}
	if dir == "" {
		dir = "/"
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Path = argv[0] // resolved inside the chroot, not on the host
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups},
	}
	err = cmd.Run()
	res := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("start %v in %s: %v", argv, root, err)
	}
	t.Logf("ran %q as %d:%d in %s: exit %d", argv, uid, gid, dir, res.code)
	return res
}

// identity is the pod's user: container securityContext over pod securityContext, and it must
// not be root.
func identity(t *testing.T, psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) (uid, gid uint32, groups []uint32) {
	t.Helper()
	var u, g *int64
	if psc != nil {
		u, g = psc.RunAsUser, psc.RunAsGroup
		if psc.FSGroup != nil {
			groups = append(groups, uint32(*psc.FSGroup))
		}
	}
	if sc != nil {
		if sc.RunAsUser != nil {
			u = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			g = sc.RunAsGroup
		}
	}
	if u == nil || *u == 0 {
		t.Fatalf("the pod does not set a non-root runAsUser (got %v)", u)
	}
	if g == nil {
		g = u
	}
	return uint32(*u), uint32(*g), groups
}

// readOnly makes every file of the image root-owned and not writable by group or others.
func readOnly(t *testing.T, root string) {
	t.Helper()
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		if err := os.Lchown(p, 0, 0); err != nil {
			return err
		}
		return os.Chmod(p, fi.Mode()&^0o022)
	})
	if err != nil {
		t.Fatalf("read-only root: %v", err)
	}
}

// mountVolumes writes each mounted volume at its mountPath under root.
func (c container) mountVolumes(root string, psc *corev1.PodSecurityContext) error {
	vols := map[string]corev1.Volume{}
	for _, v := range c.pod.Volumes {
		vols[v.Name] = v
	}
	fsGroup := -1
	if psc != nil && psc.FSGroup != nil {
		fsGroup = int(*psc.FSGroup)
	}
	mounts := append([]corev1.VolumeMount(nil), c.spec.VolumeMounts...)
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].MountPath < mounts[j].MountPath })
	for _, m := range mounts {
		v, ok := vols[m.Name]
		if !ok {
			return fmt.Errorf("volumeMount %q: no volume of that name in the pod", m.Name)
		}
		if !path.IsAbs(m.MountPath) || m.SubPath != "" {
			return fmt.Errorf("volumeMount %q: mountPath %q (subPath %q) is not supported here", m.Name, m.MountPath, m.SubPath)
		}
		dst := filepath.Join(root, m.MountPath)
		// A mount hides what the image has at that path.
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		switch {
		case v.EmptyDir != nil:
			if err := os.Chown(dst, 0, fsGroup); err != nil {
				return err
			}
			if err := os.Chmod(dst, 0o777|os.ModeSetgid); err != nil {
				return err
			}
		case v.ConfigMap != nil:
			if err := c.writeKeys(dst, "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.DefaultMode, v.ConfigMap.Optional); err != nil {
				return fmt.Errorf("volume %q: %w", m.Name, err)
			}
		case v.Secret != nil:
			if err := c.writeKeys(dst, "Secret", v.Secret.SecretName, v.Secret.Items, v.Secret.DefaultMode, v.Secret.Optional); err != nil {
				return fmt.Errorf("volume %q: %w", m.Name, err)
			}
		default:
			return fmt.Errorf("volume %q: only emptyDir, configMap and secret volumes are supported here", m.Name)
		}
	}
	return nil
}

// writeKeys writes a ConfigMap's or Secret's keys as files (items when given, else every key).
func (c container) writeKeys(dir, kind, name string, items []corev1.KeyToPath, defaultMode *int32, optional *bool) error {
	data, ok := c.objs[kind+"/"+name]
	if !ok {
		if optional != nil && *optional {
			return nil
		}
		return fmt.Errorf("%s %q does not exist (the pod would stay in ContainerCreating)", kind, name)
	}
	mode := os.FileMode(0o644)
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode)
	}
	if len(items) == 0 {
		for k := range data {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("%s %q has no key %q", kind, name, it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		p := filepath.Join(dir, filepath.Clean("/"+it.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, v, m); err != nil {
			return err
		}
		if err := os.Chmod(p, m); err != nil {
			return err
		}
	}
	return nil
}

// env is the image's Env overlaid with the container's, in order, with $(VAR) references to
// earlier variables expanded and valueFrom resolved.
func (c container) env(imageEnv []string) ([]string, error) {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range imageEnv {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for _, e := range c.spec.Env {
		switch {
		case e.ValueFrom == nil:
			set(e.Name, expand(e.Value, vals))
		case e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			v, ok, err := c.objs.key("Secret", r.Name, r.Key, r.Optional)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			if ok {
				set(e.Name, string(v))
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			r := e.ValueFrom.ConfigMapKeyRef
			v, ok, err := c.objs.key("ConfigMap", r.Name, r.Key, r.Optional)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			if ok {
				set(e.Name, string(v))
			}
		default:
			return nil, fmt.Errorf("env %s: only value, secretKeyRef and configMapKeyRef are supported here", e.Name)
		}
	}
	if len(c.spec.EnvFrom) > 0 {
		return nil, fmt.Errorf("envFrom is not supported here")
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

// argv applies the Kubernetes rules: command replaces the image's Entrypoint (and drops its
// Cmd), args replaces Cmd.
func (c container) argv(cfg v1.Config, env []string) []string {
	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	entry, args := cfg.Entrypoint, cfg.Cmd
	if len(c.spec.Command) > 0 {
		entry, args = c.spec.Command, nil
	}
	if len(c.spec.Args) > 0 {
		args = c.spec.Args
	}
	var out []string
	for _, a := range append(append([]string(nil), entry...), args...) {
		out = append(out, expand(a, vals))
	}
	return out
}

// expand replaces $(NAME) with a defined variable's value, leaves undefined ones as they are,
// and turns $$ into $ (k8s.io/kubernetes third_party/forked/golang/expansion).
func expand(s string, vals map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vals[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
