package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"cyberimage/shared/natsauth"
	"cyberimage/tools/internal/s3access"
)

// kustomization is the part of kustomize's file the base uses; strict
// decoding rejects anything else.
type kustomization struct {
	APIVersion      string   `json:"apiVersion"`
	Kind            string   `json:"kind"`
	Namespace       string   `json:"namespace"`
	Resources       []string `json:"resources"`
	SecretGenerator []struct {
		Name  string   `json:"name"`
		Files []string `json:"files"`
		Envs  []string `json:"envs"`
	} `json:"secretGenerator"`
	GeneratorOptions struct {
		DisableNameSuffixHash bool `json:"disableNameSuffixHash"`
	} `json:"generatorOptions"`
	Images []struct {
		Name   string `json:"name"`
		NewTag string `json:"newTag"`
	} `json:"images"`
}

// knownKinds makes an empty object of each kind the manifests may hold.
var knownKinds = map[string]func() any{
	"Namespace":           func() any { return &corev1.Namespace{} },
	"ConfigMap":           func() any { return &corev1.ConfigMap{} },
	"Service":             func() any { return &corev1.Service{} },
	"Deployment":          func() any { return &appsv1.Deployment{} },
	"StatefulSet":         func() any { return &appsv1.StatefulSet{} },
	"PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
}

// settingsOf lists the CYBERIMAGE_ settings a binary's --help names.
func settingsOf(bin string) map[string]bool {
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`\[(CYBERIMAGE_[A-Z0-9_]+)\]`).FindAllStringSubmatch(string(out), -1) {
		known[m[1]] = true
	}
	return known
}

// TestKubernetesManifestsMatchTheCode: every manifest of infra/k8s decodes
// strictly into the official Kubernetes API types, and agrees with the
// code: settings the binaries read, each service's own credentials, probes
// on the health endpoints, ports as configured, GPUs for the runners, two
// supervisors, secrets and images the kustomization provides.
func TestKubernetesManifestsMatchTheCode(t *testing.T) {
	dir := repoPath(t, "infra", "k8s")
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	require.NoError(t, err)
	var k kustomization
	require.NoError(t, yaml.UnmarshalStrict(data, &k))
	require.Equal(t, "Kustomization", k.Kind)
	secrets := map[string]bool{}
	for _, g := range k.SecretGenerator {
		secrets[g.Name] = true
		for _, f := range append(g.Files, g.Envs...) {
			_, file, _ := strings.Cut(f, "=")
			if file == "" {
				file = f
			}
			require.True(t, strings.HasPrefix(file, "creds/"), "secrets come from creds/, never the repository: %s", f)
		}
	}
	images := map[string]bool{}
	for _, img := range k.Images {
		images[img.Name] = true
	}
	// The credential files are the ones the tools write.
	wantFiles := map[string]bool{}
	for _, r := range []natsauth.Role{natsauth.Admin, natsauth.Ingest, natsauth.Supervisor} {
		wantFiles["creds/"+filepath.Base(natsauth.CredsPath("", r))] = true
	}
	// Each runner replica has its own identity (checked against the
	// StatefulSet's replicas below).
	runnerFiles := map[string]bool{}
	for _, g := range k.SecretGenerator {
		for _, f := range g.Files {
			if strings.HasPrefix(f, "creds/runner.") {
				runnerFiles[f] = true
			}
		}
	}
	for _, r := range []s3access.Role{s3access.Runner, s3access.Supervisor} {
		wantFiles["creds/"+filepath.Base(s3access.EnvFile("", r))] = true
	}
	for _, g := range k.SecretGenerator {
		for _, f := range append(g.Files, g.Envs...) {
			delete(wantFiles, f)
		}
	}
	require.Empty(t, wantFiles, "every role's credentials become a secret")

	tools := buildCommands(t, "provision")
	binaries := map[string]string{"cyberimage/ingest": bins["ingest"], "cyberimage/gpu-runner": bins["gpu-runner"],
		"cyberimage/supervisor": bins["supervisor"], "cyberimage/provision": tools["provision"]}
	roles := map[string]natsauth.Role{"cyberimage/provision": natsauth.Admin, "cyberimage/ingest": natsauth.Ingest,
		"cyberimage/gpu-runner": natsauth.Runner, "cyberimage/supervisor": natsauth.Supervisor}
	var configKeys map[string]string
	workloads := map[string]corev1.PodTemplateSpec{}
	replicas := map[string]int32{}
	var runner *appsv1.StatefulSet
	for _, res := range k.Resources {
		raw, err := os.ReadFile(filepath.Join(dir, res))
		require.NoError(t, err)
		for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
			var meta metav1.TypeMeta
			require.NoError(t, yaml.Unmarshal(doc, &meta), res)
			newTarget, known := knownKinds[meta.Kind]
			if !known {
				t.Fatalf("%s: kind %q is not one the test knows", res, meta.Kind)
			}
			target := newTarget()
			require.NoError(t, yaml.UnmarshalStrict(doc, target), "%s decodes strictly into %s", res, meta.Kind)
			switch o := target.(type) {
			case *corev1.ConfigMap:
				configKeys = o.Data
			case *appsv1.Deployment:
				workloads[o.Name], replicas[o.Name] = o.Spec.Template, *o.Spec.Replicas
			case *appsv1.StatefulSet:
				workloads[o.Name], runner = o.Spec.Template, o
			}
		}
	}
	require.NotEmpty(t, configKeys)
	require.Equal(t, int32(2), replicas["supervisor"], "two supervisors: one leads, both serve")
	require.Contains(t, workloads, "ingest")
	require.NotNil(t, runner, "the runners are a StatefulSet on GPU nodes")
	for i := range int(*runner.Spec.Replicas) {
		f := "creds/" + filepath.Base(natsauth.IdentityCredsPath("", natsauth.Runner, runner.Name+"-"+strconv.Itoa(i)))
		require.True(t, runnerFiles[f], "runner %d's own credentials %s become a secret", i, f)
		delete(runnerFiles, f)
	}
	require.Empty(t, runnerFiles, "credentials of runners the StatefulSet does not run")
	gpus := runner.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceName("nvidia.com/gpu")]
	require.Equal(t, int64(1), gpus.Value(), "each runner holds a GPU")

	shared := map[string]bool{}
	for name, pod := range workloads {
		require.Len(t, pod.Spec.Containers, 1, name)
		c := pod.Spec.Containers[0]
		require.True(t, images[c.Image], "%s: image %s is one the kustomization sets", name, c.Image)
		known := settingsOf(binaries[c.Image])
		require.NotEmpty(t, known, c.Image)
		for s := range known {
			shared[s] = true
		}
		listen := ""
		for _, e := range c.Env {
			if !strings.HasPrefix(e.Name, "CYBERIMAGE_") {
				require.NotNil(t, e.ValueFrom, "%s: %s is only a value for the settings to refer to", name, e.Name)
				continue
			}
			require.True(t, known[e.Name], "%s sets %s, which %s does not read", name, e.Name, c.Image)
			if e.Name == "CYBERIMAGE_NATS_CREDS" {
				want := filepath.Base(natsauth.CredsPath("", roles[c.Image]))
				if roles[c.Image] == natsauth.Runner {
					want = filepath.Base(natsauth.IdentityCredsPath("", natsauth.Runner, "$(POD_NAME)"))
				}
				require.Equal(t, want, filepath.Base(e.Value), "%s connects as its own identity", name)
			}
			if strings.HasSuffix(e.Name, "_ADDR") {
				listen = e.Value
			}
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				require.True(t, secrets[e.ValueFrom.SecretKeyRef.Name], "%s: secret %s is generated", name, e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, from := range c.EnvFrom {
			if from.SecretRef != nil {
				require.True(t, secrets[from.SecretRef.Name], "%s: secret %s is generated", name, from.SecretRef.Name)
			}
		}
		for _, v := range pod.Spec.Volumes {
			if v.Secret != nil {
				require.True(t, secrets[v.Secret.SecretName], "%s: secret %s is generated", name, v.Secret.SecretName)
			}
		}
		if name == "provision" {
			continue // no HTTP endpoint
		}
		// Probes on the health endpoints, on the port the service listens on,
		// which is the one Prometheus is told to scrape.
		require.NotEmpty(t, listen, "%s sets its listen address", name)
		_, port, _ := strings.Cut(listen, ":")
		require.Len(t, c.Ports, 1, name)
		require.Equal(t, port, strconv.Itoa(int(c.Ports[0].ContainerPort)), name)
		require.Equal(t, port, pod.Annotations["prometheus.io/port"], name)
		require.Equal(t, "/livez", c.LivenessProbe.HTTPGet.Path, name)
		require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, name)
	}
	for key := range configKeys {
		require.True(t, shared[key], "the ConfigMap sets %s, which no service reads", key)
	}

	// The Helm values files are YAML (their schema is the charts').
	for _, f := range []string{"helm/nats-values.yaml", "helm/minio-values.yaml"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		var v map[string]any
		require.NoError(t, yaml.Unmarshal(raw, &v), f)
		require.NotEmpty(t, v, f)
	}
}
