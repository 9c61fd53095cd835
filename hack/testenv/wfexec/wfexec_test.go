package wfexec

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestHasToken: the wait container can build its in-cluster client only from a token mounted
// at TokenMountPath, from a projected serviceAccountToken or a token Secret.
func TestHasToken(t *testing.T) {
	mount := corev1.VolumeMount{Name: "tok", MountPath: TokenMountPath, ReadOnly: true}
	projected := corev1.Volume{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}
	caOnly := corev1.Volume{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}}}}}}
	secret := corev1.Volume{Name: "tok", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sa-token"}}}
	pod := func(waitMounts []corev1.VolumeMount, vols ...corev1.Volume) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Volumes: vols, Containers: []corev1.Container{
			{Name: MainContainer, VolumeMounts: []corev1.VolumeMount{mount}},
			{Name: WaitContainer, VolumeMounts: waitMounts},
		}}}
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"projected token", pod([]corev1.VolumeMount{mount}, projected), true},
		{"token Secret", pod([]corev1.VolumeMount{mount}, secret), true},
		{"projected volume without a token", pod([]corev1.VolumeMount{mount}, caOnly), false},
		{"token mounted in main only", pod(nil, projected), false},
		{"mounted elsewhere", pod([]corev1.VolumeMount{{Name: "tok", MountPath: "/tok"}}, projected), false},
		{"no wait container", &corev1.Pod{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasToken(tc.pod, WaitContainer); got != tc.want {
				t.Errorf("hasToken = %v, want %v", got, tc.want)
			}
		})
	}
}
